"""Rooms: one meeting place at a provider, owned by one application, with an optional window."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models

from core.models import Application, BaseModel
from providers.base import RoomRef


class RoomStatus(models.TextChoices):
    """scheduled -> open -> live <-> open; any -> closed. Closed is final.

    scheduled: the window has not opened yet; open: joinable, nobody in the media room;
    live: the media room is running (set by the event flow); closed: no more joins.
    """

    SCHEDULED = "scheduled"
    OPEN = "open"
    LIVE = "live"
    CLOSED = "closed"


class RecordingPolicy(models.TextChoices):
    OFF = "off"
    ON_DEMAND = "on_demand"
    AUTO = "auto"


def generate_provider_room_name() -> str:
    """Opaque and unguessable: it names the room at the provider and is never parsed."""
    return "cv_" + secrets.token_urlsafe(18)


class Room(BaseModel):
    application = models.ForeignKey(Application, on_delete=models.PROTECT, related_name="rooms")
    # NULL, not "", when absent: the uniqueness constraint below applies only to given ids.
    external_id = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    title = models.CharField(max_length=200, blank=True)
    provider = models.CharField(max_length=20)
    provider_room_name = models.CharField(
        max_length=64, unique=True, default=generate_provider_room_name, editable=False
    )
    status = models.CharField(max_length=12, choices=RoomStatus.choices, default=RoomStatus.OPEN, db_index=True)
    opens_at = models.DateTimeField(null=True, blank=True)
    closes_at = models.DateTimeField(null=True, blank=True, db_index=True)
    max_participants = models.PositiveIntegerField(default=0)
    recording_policy = models.CharField(max_length=12, choices=RecordingPolicy.choices, default=RecordingPolicy.OFF)
    metadata = models.JSONField(default=dict, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    close_reason = models.CharField(max_length=40, blank=True)
    provider_closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["application", "external_id"],
                condition=models.Q(external_id__isnull=False),
                name="room_external_id_unique_per_application",
            ),
            models.CheckConstraint(
                condition=models.Q(opens_at__isnull=True)
                | models.Q(closes_at__isnull=True)
                | models.Q(closes_at__gt=models.F("opens_at")),
                name="room_window_closes_after_it_opens",
            ),
        ]

    def __str__(self) -> str:
        return self.title or self.external_id or str(self.id)

    @property
    def is_closed(self) -> bool:
        return self.status == RoomStatus.CLOSED

    def join_allowed_from(self) -> datetime | None:
        if self.opens_at is None:
            return None
        return self.opens_at - timedelta(minutes=settings.CONVENE_JOIN_EARLY_MINUTES)

    def as_provider_ref(self) -> RoomRef:
        return RoomRef(
            name=self.provider_room_name,
            convene_room_id=str(self.id),
            max_participants=self.max_participants,
            empty_timeout_seconds=settings.CONVENE_ROOM_EMPTY_TIMEOUT_SECONDS,
            departure_timeout_seconds=settings.CONVENE_ROOM_DEPARTURE_TIMEOUT_SECONDS,
        )
