"""Writes of rooms (rooms.py) and of their call sessions and attendance (sessions.py)."""

from rooms.services.rooms import (
    room_close,
    room_close_at_provider,
    room_create,
    room_mark_open,
    room_update,
    rooms_sweep_windows,
)

__all__ = [
    "room_close",
    "room_close_at_provider",
    "room_create",
    "room_mark_open",
    "room_update",
    "rooms_sweep_windows",
]
