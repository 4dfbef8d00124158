"""Celery entry points for rooms: thin callers of rooms.services."""

from celery import shared_task

from rooms.models import Room
from rooms.services import room_close_at_provider
from rooms.services import rooms_sweep_windows as sweep


@shared_task(name="rooms.tasks.rooms_sweep_windows")
def rooms_sweep_windows() -> dict[str, int]:
    return sweep()


@shared_task(name="rooms.tasks.close_room_at_provider")
def close_room_at_provider(room_id: str) -> bool:
    """Close a closed room's media room; when it fails, the window sweep retries."""
    room = Room.objects.filter(pk=room_id).first()
    return room is not None and room_close_at_provider(room=room)
