"""Rooms and calls (rooms/): scheduling windows, how the media server closes a room, no-shows."""

from __future__ import annotations

from config.settings.env import env

CONVENE_JOIN_EARLY_MINUTES = env.int("CONVENE_JOIN_EARLY_MINUTES", default=10)  # before opens_at
CONVENE_ROOM_CLOSE_GRACE_MINUTES = env.int("CONVENE_ROOM_CLOSE_GRACE_MINUTES", default=15)  # after closes_at
# Given to the media server: it closes a room nobody joined after the first, and a room the last
# person left after the second.
CONVENE_ROOM_EMPTY_TIMEOUT_SECONDS = env.int("CONVENE_ROOM_EMPTY_TIMEOUT_SECONDS", default=300)
CONVENE_ROOM_DEPARTURE_TIMEOUT_SECONDS = env.int("CONVENE_ROOM_DEPARTURE_TIMEOUT_SECONDS", default=20)
# After a room's window opens, how long before an unused join link counts as a no-show.
CONVENE_NO_SHOW_GRACE_MINUTES = env.int("CONVENE_NO_SHOW_GRACE_MINUTES", default=15)
