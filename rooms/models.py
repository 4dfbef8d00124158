"""Rooms: one meeting place at a provider, owned by one application, with an optional window."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import models

from core.models import Application, BaseModel
from providers.base import ParticipantKind, RoomRef, opaque_room_name


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
    """off: never recorded; on_demand: recorded when the application asks; auto: started as soon as
    everyone present has consented."""

    OFF = "off"
    ON_DEMAND = "on_demand"
    AUTO = "auto"


class CloseReason(models.TextChoices):
    """Why a room was closed (Room.close_reason; reported in room.closed webhooks)."""

    WINDOW_ENDED = "window_ended"
    CLOSED_BY_API = "closed_by_api"


def generate_provider_room_name() -> str:
    """The default name (providers may choose their own: Provider.new_room_name)."""
    return opaque_room_name()


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
    # Guests wait in the lobby until a host (a lobby role's link, or the application) admits them.
    waiting_room = models.BooleanField(default=False)
    metadata = models.JSONField(default=dict, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    close_reason = models.CharField(max_length=40, blank=True, choices=CloseReason.choices)
    provider_closed_at = models.DateTimeField(null=True, blank=True)
    # Set (never cleared) when an identity is first barred from the room (tokens.ParticipantRemoval,
    # written by access.services.participant_bar): a join event looks bars up only in such rooms.
    has_barred_participants = models.BooleanField(default=False, editable=False)

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


class SessionEndSource(models.TextChoices):
    """Why CallSession.ended_at is what it is (blank while open): the provider reported the end
    (final), or the reconciler inferred it from the provider's listing (moves with later evidence)."""

    EVENT = "event"
    RECONCILER = "reconciler"


class CallSession(BaseModel):
    """One live period of a room at the provider (one provider room sid).

    Open while ended_at is null. started_at is the earliest evidence (the provider's room
    creation time, else the first join); last_seen_at is the latest moment it was known alive,
    which bounds ended_at when the end was never reported and the reconciler closes it.

    Written without save() or save signals (core.orm_bypass Table and QuerySet.update, in
    rooms/services/sessions.py and upserts.py): a save() override or signal added here would run for no write.
    """

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="sessions")
    provider_session_id = models.CharField(max_length=64)
    started_at = models.DateTimeField(db_index=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    end_source = models.CharField(max_length=20, blank=True, choices=SessionEndSource.choices)
    last_seen_at = models.DateTimeField()

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            models.UniqueConstraint(fields=["room", "provider_session_id"], name="call_session_unique_provider_id"),
        ]
        indexes = [models.Index(fields=["room", "ended_at"])]

    def __str__(self) -> str:
        return f"{self.provider_session_id} ({self.started_at:%Y-%m-%d %H:%M})"

    @property
    def duration_seconds(self) -> int | None:
        if self.ended_at is None:
            return None
        return max(0, int((self.ended_at - self.started_at).total_seconds()))


class LeftSource(models.TextChoices):
    """Why left_at is what it is; an explicit left event always wins over an inferred end."""

    EVENT = "event"
    SESSION_ENDED = "session_ended"
    RECONCILER = "reconciler"


# Participant kinds that are people: recorders (egress), agents, ingress and bridges (a camera
# stream) are not. A phone caller is, through SIP or a connector (WhatsApp, Twilio). "unknown" is a
# kind newer than our copy of LiveKit's protocol: it counts as a person, so the consent gate waits
# for its consent rather than record someone who was never asked.
PERSON_KINDS = (ParticipantKind.STANDARD, ParticipantKind.SIP, ParticipantKind.CONNECTOR, ParticipantKind.UNKNOWN)


class ParticipantSession(BaseModel):
    """One connection of one participant (provider participant sid). A reconnect is a new row.

    Written without save() or save signals (core.orm_bypass Table and QuerySet.update, in
    rooms/services/sessions.py and upserts.py): a save() override or signal added here would run for no write.
    """

    call_session = models.ForeignKey(CallSession, on_delete=models.CASCADE, related_name="participants")
    provider_participant_id = models.CharField(max_length=64)
    # As wide as LiveKit's limits (256 each, providers/livekit_convert.py).
    identity = models.CharField(max_length=256, db_index=True)
    display_name = models.CharField(max_length=256, blank=True)
    kind = models.CharField(max_length=20, default=ParticipantKind.STANDARD)  # a providers.base.ParticipantKind
    role = models.CharField(max_length=40, blank=True)
    invitation = models.ForeignKey(
        "tokens.Invitation", null=True, blank=True, on_delete=models.SET_NULL, related_name="participant_sessions"
    )
    joined_at = models.DateTimeField(null=True, blank=True)
    left_at = models.DateTimeField(null=True, blank=True)
    left_source = models.CharField(max_length=20, choices=LeftSource.choices, blank=True)
    disconnect_reason = models.CharField(max_length=40, blank=True)
    connection_aborted = models.BooleanField(default=False)
    last_seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["joined_at", "created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["call_session", "provider_participant_id"], name="participant_session_unique_provider_id"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.identity} ({self.provider_participant_id})"

    @property
    def is_person(self) -> bool:
        return self.kind in PERSON_KINDS

    @property
    def duration_seconds(self) -> int | None:
        if self.joined_at is None or self.left_at is None or self.connection_aborted:
            return 0 if self.connection_aborted else None
        return max(0, int((self.left_at - self.joined_at).total_seconds()))


class TrackPublication(BaseModel):
    """A track a participant published (kind and source), enough to know who sent media.

    Written without save() or save signals (core.orm_bypass Table and QuerySet.update, in
    rooms/services/sessions.py and upserts.py): a save() override or signal added here would run for no write.
    """

    participant_session = models.ForeignKey(ParticipantSession, on_delete=models.CASCADE, related_name="tracks")
    provider_track_id = models.CharField(max_length=64)
    kind = models.CharField(max_length=20, blank=True)  # audio, video, data, unknown(<n>)
    source = models.CharField(max_length=30, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    unpublished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["published_at", "created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["participant_session", "provider_track_id"], name="track_publication_unique_provider_id"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind}/{self.source} {self.provider_track_id}"


class ConnectionTelemetry(BaseModel):
    """What one browser connection (one join page's call, named by the page) reported: counters,
    the candidate types it used, and its stats samples (the latest MAX_SAMPLES, one every few
    seconds). Summarised per participant in the session API and the admin."""

    MAX_SAMPLES = 720  # an hour at one sample every five seconds
    MAX_STATES = 100

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="telemetry")
    invitation = models.ForeignKey(
        "tokens.Invitation", null=True, blank=True, on_delete=models.SET_NULL, related_name="telemetry"
    )
    identity = models.CharField(max_length=256, db_index=True)
    connection_id = models.UUIDField()
    provider = models.CharField(max_length=20, blank=True)
    participant_sid = models.CharField(max_length=64, blank=True, db_index=True)
    user_agent = models.CharField(max_length=300, blank=True)
    first_report_at = models.DateTimeField()
    last_report_at = models.DateTimeField()
    reports = models.PositiveIntegerField(default=0)
    reconnects = models.PositiveIntegerField(default=0)
    ice_failures = models.PositiveIntegerField(default=0)
    connect_failures = models.PositiveIntegerField(default=0)
    relay_used = models.BooleanField(default=False)
    candidate_types = models.JSONField(default=list, blank=True)
    end_reason = models.CharField(max_length=20, blank=True)
    states = models.JSONField(default=list, blank=True)  # [[at, state], ...]
    samples = models.JSONField(default=list, blank=True)  # [{"at", "rtt_ms", ...}, ...]

    class Meta:
        ordering = ["first_report_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["room", "identity", "connection_id"], name="telemetry_one_row_per_connection"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.identity} connection {self.connection_id}"
