"""Webhooks out: the endpoints a product registers, and the outbox of deliveries to them.

A delivery row is written in the same transaction as the change it reports (the outbox); the
Celery task is only a doorbell and the sweeper rings again for rows still due. Nothing here
talks to the network: outbound.sender does.
"""

from __future__ import annotations

from django.db import models

from core.models import Application, BaseModel


class WebhookEndpoint(BaseModel):
    """A URL of one application that receives signed events (`events` empty: every type).

    The signing secret is kept in clear because signing needs it (like any HMAC sender); it is
    shown to the product once, at creation and rotation, and never listed. During a rotation's
    grace, deliveries carry a signature with each secret.
    """

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(max_length=2000)
    description = models.CharField(max_length=500, blank=True)
    events = models.JSONField(default=list, blank=True)
    enabled = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=300, blank=True)
    secret = models.CharField(max_length=100, editable=False)
    previous_secret = models.CharField(max_length=100, blank=True, editable=False)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    failing_since = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["application", "enabled"], name="webhook_endpoint_app_enabled")]

    def __str__(self) -> str:
        return self.url

    def wants(self, event_type: str) -> bool:
        return not self.events or event_type in self.events


class DeliveryStatus(models.TextChoices):
    """pending -> delivered | failed; pending -> pending (an attempt failed, another is due).

    delivered and failed are final for the pipeline; a retry (API or admin) puts a row back to
    pending on purpose, with the same webhook id.
    """

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class WebhookDelivery(models.Model):
    """One event to one endpoint. `event_id` is the `webhook-id` header: the same on every retry
    and for every endpoint the event goes to. `payload` is the exact body, signed per attempt.

    An attempt claims the row by moving `next_attempt_at` past the attempt's longest possible
    duration (a lease): a worker killed mid-delivery leaves the row pending and due again then.

    Written without save() or save signals: inserted by core.orm_bypass.insert_row
    (outbound/services/outbox.py), claimed by a hand-written UPDATE and updated through
    core.orm_bypass Table (outbound/services/delivery.py) or QuerySet.update.
    """

    id = models.BigAutoField(primary_key=True)
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event_id = models.CharField(max_length=40)
    event_type = models.CharField(max_length=40)
    payload = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_latency_ms = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    response_excerpt = models.CharField(max_length=300, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "event_id"], name="webhook_delivery_unique_event"),
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="webhook_delivery_due")]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id} -> {self.endpoint_id}"


class ReportedNoShow(models.Model):
    """An invitation whose no-show has been reported (attendance.no_show), so it is reported once."""

    invitation = models.OneToOneField("tokens.Invitation", primary_key=True, on_delete=models.CASCADE, related_name="+")
    reported_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"no-show {self.invitation_id}"
