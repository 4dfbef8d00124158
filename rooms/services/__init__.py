"""Writes of rooms (rooms.py), of their call sessions and attendance (sessions.py), and of the
join page's call telemetry (telemetry.py)."""

from rooms.services.rooms import (
    room_close,
    room_close_at_provider,
    room_create,
    room_mark_open,
    room_update,
    rooms_sweep_windows,
)
from rooms.services.telemetry import telemetry_by_participant, telemetry_record, telemetry_summary

__all__ = [
    "room_close",
    "room_close_at_provider",
    "room_create",
    "room_mark_open",
    "room_update",
    "rooms_sweep_windows",
    "telemetry_by_participant",
    "telemetry_record",
    "telemetry_summary",
]
