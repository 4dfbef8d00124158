"""Celery entry points for rooms: thin callers of rooms.services."""

from celery import shared_task

from rooms.services import rooms_sweep_windows as sweep


@shared_task(name="rooms.tasks.rooms_sweep_windows")
def rooms_sweep_windows() -> dict[str, int]:
    return sweep()
