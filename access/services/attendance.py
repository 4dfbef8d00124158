"""attendance.no_show: once a room's window start plus the no-show grace has passed, each join
link nobody joined with is reported once (the same rule as the attendance API)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from access.selectors import room_attendance
from outbound.catalogue import EventType, no_show_object
from outbound.models import ReportedNoShow
from outbound.services.outbox import webhook_event_emit
from rooms.models import Room

LOOKBACK = timedelta(days=1)  # a room whose grace passed longer ago than this is not looked at again


def attendance_no_shows_report(*, now: datetime | None = None) -> int:
    """Periodic; safe to run concurrently and twice. Returns how many no-shows were reported."""
    now = now or timezone.now()
    grace = timedelta(minutes=settings.CONVENE_NO_SHOW_GRACE_MINUTES)
    rooms = (
        Room.objects.annotate(window_start=Coalesce("opens_at", "created_at"))
        .filter(window_start__lte=now - grace, window_start__gt=now - grace - LOOKBACK)
        .filter(Q(invitations__isnull=False))
        .distinct()
    )
    reported = 0
    for room in rooms.iterator():
        for row in room_attendance(room=room, now=now):
            if row.no_show:
                reported += _report_once(room, row)
    return reported


def _report_once(room: Room, row) -> bool:
    """Emit attendance.no_show for this link unless it was reported before (ReportedNoShow is unique
    per link). Returns whether it was reported now."""
    with transaction.atomic():
        _, created = ReportedNoShow.objects.get_or_create(invitation_id=row.invitation_id)
        if created:
            webhook_event_emit(room=room, event_type=EventType.ATTENDANCE_NO_SHOW, data=lambda: no_show_object(row))
    return created
