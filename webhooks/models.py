"""InboundEvent: every webhook body we accepted, stored before anything acts on it.

The row is the source of truth and the queue only a doorbell: a task claims the row by locking
it (SELECT ... FOR UPDATE SKIP LOCKED) for the transaction that applies its effect, so a crash
mid-processing rolls the effect back and leaves the row pending for the next attempt.
"""

from __future__ import annotations

from django.db import models


class InboundEventStatus(models.TextChoices):
    """pending -> done | ignored | failed; pending -> pending (a retryable failure).

    done, ignored and failed are final for the pipeline; `replay_events` may put a row back to
    pending on purpose.
    """

    PENDING = "pending"
    DONE = "done"
    IGNORED = "ignored"
    FAILED = "failed"


class InboundEvent(models.Model):
    """One stored webhook event. Written without save() or save signals: inserted by a declared
    core.orm_bypass Insert and updated through its Table or QuerySet.update (webhooks/services.py);
    a save() override or signal added here would run for no write."""

    id = models.BigAutoField(primary_key=True)
    provider = models.CharField(max_length=20)
    provider_event_id = models.CharField(max_length=100)
    kind = models.CharField(max_length=60, db_index=True)
    room_name = models.CharField(max_length=256, blank=True, db_index=True)  # LiveKit allows 256
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    body = models.BinaryField()
    status = models.CharField(max_length=10, choices=InboundEventStatus.choices, default=InboundEventStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "provider_event_id"], name="inbound_event_unique_provider_id"),
        ]
        indexes = [
            models.Index(fields=["status", "received_at"], name="inbound_event_status_received"),
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.kind} {self.provider_event_id}"
