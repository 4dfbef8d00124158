"""Consent ledger (notices and append-only consent events) and recordings with their lifecycle.

ConsentEvent rows are never updated or deleted by the application (save/delete refuse; on
PostgreSQL a trigger refuses too): a withdrawal is a new row. A Recording row is written before
the provider is asked to record, and its status only moves forward.
"""

from __future__ import annotations

import hashlib

from django.db import models

from core.models import AppendOnlyModel, Application, BaseModel
from providers.base import RecordingState
from rooms.models import CallSession, Room


def notice_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class ConsentNotice(BaseModel):
    """The text a participant agrees to, versioned per application. The newest version is the
    current one. A version's text never changes once saved: publish a new version instead."""

    application = models.ForeignKey(Application, on_delete=models.PROTECT, related_name="consent_notices")
    version = models.PositiveIntegerField()
    text = models.TextField()
    text_hash = models.CharField(max_length=64, editable=False)

    class Meta:
        ordering = ["application", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["application", "version"], name="consent_notice_unique_version"),
        ]

    def __str__(self) -> str:
        return f"{self.application} notice v{self.version}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            stored = ConsentNotice.objects.filter(pk=self.pk).values_list("text", flat=True).first()
            if stored is not None and stored != self.text:
                raise ValueError("a consent notice's text is fixed once published; add a new version")
        self.text_hash = notice_hash(self.text)
        super().save(*args, **kwargs)


class ConsentDecision(models.TextChoices):
    GRANTED = "granted"
    WITHDRAWN = "withdrawn"


class ConsentMethod(models.TextChoices):
    JOIN_PAGE = "join_page"
    API = "api"
    VERBAL = "verbal_attested_by"


class ConsentEvent(AppendOnlyModel):
    """One decision of one participant about recording in one room, against one notice version."""

    id = models.BigAutoField(primary_key=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    application = models.ForeignKey(Application, on_delete=models.PROTECT, related_name="+")
    room = models.ForeignKey(Room, on_delete=models.PROTECT, related_name="consent_events")
    call_session = models.ForeignKey(CallSession, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    identity = models.CharField(max_length=128)
    invitation = models.ForeignKey(
        "tokens.Invitation", null=True, blank=True, on_delete=models.PROTECT, related_name="consent_events"
    )
    decision = models.CharField(max_length=10, choices=ConsentDecision.choices)
    notice = models.ForeignKey(ConsentNotice, on_delete=models.PROTECT, related_name="events")
    notice_version = models.PositiveIntegerField()
    notice_hash = models.CharField(max_length=64)
    method = models.CharField(max_length=20, choices=ConsentMethod.choices)
    attested_by = models.CharField(max_length=200, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=400, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["room", "identity", "-id"], name="consent_event_latest")]

    def __str__(self) -> str:
        return f"{self.identity} {self.decision} v{self.notice_version}"


class RecordingStatus(models.TextChoices):
    """requested -> starting -> active -> ending -> complete | failed | aborted.

    A status only moves forward (a late egress_started after egress_ended changes nothing);
    complete, failed and aborted are final.
    """

    REQUESTED = "requested"
    STARTING = "starting"
    ACTIVE = "active"
    ENDING = "ending"
    COMPLETE = "complete"
    FAILED = "failed"
    ABORTED = "aborted"


ACTIVE_RECORDING_STATUSES = (
    RecordingStatus.REQUESTED,
    RecordingStatus.STARTING,
    RecordingStatus.ACTIVE,
    RecordingStatus.ENDING,
)
FINAL_RECORDING_STATUSES = (RecordingStatus.COMPLETE, RecordingStatus.FAILED, RecordingStatus.ABORTED)

# What the provider reports (providers.base.RecordingState) and our lifecycle are two vocabularies;
# their strings agreeing is no contract. Every provider state must be mapped here (tested).
_STATUS_FOR_PROVIDER_STATE = {
    RecordingState.STARTING: RecordingStatus.STARTING,
    RecordingState.ACTIVE: RecordingStatus.ACTIVE,
    RecordingState.ENDING: RecordingStatus.ENDING,
    RecordingState.COMPLETE: RecordingStatus.COMPLETE,
    RecordingState.FAILED: RecordingStatus.FAILED,
    RecordingState.ABORTED: RecordingStatus.ABORTED,
}


def recording_status_for_provider_state(state: str) -> RecordingStatus:
    """Our status for a provider-reported RecordingState (KeyError for anything else: a provider
    adapter returns only RecordingState values)."""
    return _STATUS_FOR_PROVIDER_STATE[state]


class RecordingTrigger(models.TextChoices):
    """Who started a recording (Recording.trigger): the application through the API, or the
    room's auto policy once everyone present consented."""

    API = "api"
    AUTO = "auto"


class StorageKind(models.TextChoices):
    """Where a recording's file is kept (Recording.storage; recordings.storage backends' `kind`)."""

    S3 = "s3"
    FILE = "file"


class StopReason(models.TextChoices):
    """Why a recording was asked to stop (Recording.stop_reason; in its audit row)."""

    API = "api"
    CONSENT_WITHDRAWN = "consent_withdrawn"
    UNCONSENTED_PARTICIPANT = "unconsented_participant"


class DeletionReason(models.TextChoices):
    """Why a recording's media was deleted (Recording.deletion_reason; recording.deleted webhooks)."""

    RETENTION = "retention"
    DELETED_BY_REVIEWER = "deleted_by_reviewer"


class Recording(BaseModel):
    room = models.ForeignKey(Room, on_delete=models.PROTECT, related_name="recordings")
    call_session = models.ForeignKey(
        CallSession, null=True, blank=True, on_delete=models.SET_NULL, related_name="recordings"
    )
    provider = models.CharField(max_length=20)
    provider_recording_id = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=10, choices=RecordingStatus.choices, default=RecordingStatus.REQUESTED)
    trigger = models.CharField(max_length=10, choices=RecordingTrigger.choices)
    started_by = models.CharField(max_length=120)  # actor: application:<id>, system:auto
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.PositiveIntegerField(null=True, blank=True)
    size_bytes = models.PositiveBigIntegerField(null=True, blank=True)
    storage = models.CharField(max_length=10, choices=StorageKind.choices)
    location = models.CharField(max_length=500, blank=True)  # object key or file path, never a URL
    error = models.TextField(blank=True)
    stop_reason = models.CharField(max_length=40, blank=True, choices=StopReason.choices)
    stop_requested_at = models.DateTimeField(null=True, blank=True)
    consent_snapshot = models.JSONField(default=list, blank=True)
    retention_until = models.DateTimeField(null=True, blank=True, db_index=True)
    legal_hold = models.BooleanField(default=False)
    legal_hold_reason = models.CharField(max_length=500, blank=True)  # why it was last set or released
    legal_hold_changed_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    deletion_reason = models.CharField(max_length=40, blank=True, choices=DeletionReason.choices)
    # Per-track recordings (a Janus room): the folder where the media server wrote this recording's
    # raw files, as Convene's workers see it, and the prefix they share. Once the provider reports
    # them written the recording stays `ending` until post-processing stores one composite file
    # (recordings/services/postprocess.py); the raw files are deleted after that.
    source_dir = models.CharField(max_length=500, blank=True)
    source_prefix = models.CharField(max_length=200, blank=True)
    processing_started_at = models.DateTimeField(null=True, blank=True)  # a run's lease; null: none running
    processing_attempts = models.PositiveSmallIntegerField(default=0)
    sources_deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [("review_recording", "Can review recordings: list, view, play, download, delete")]
        constraints = [
            models.UniqueConstraint(
                fields=["room"],
                condition=models.Q(status__in=ACTIVE_RECORDING_STATUSES),
                name="one_active_recording_per_room",
            ),
            models.UniqueConstraint(
                fields=["provider", "provider_recording_id"],
                condition=~models.Q(provider_recording_id=""),
                name="recording_unique_provider_id",
            ),
        ]

    def __str__(self) -> str:
        return f"recording {self.pk} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_RECORDING_STATUSES

    @property
    def is_per_track(self) -> bool:
        return bool(self.source_dir)
