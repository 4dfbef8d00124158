"""Tenants (Application), their API keys, and the append-only audit log.

Nothing here knows about rooms or providers; other apps point at these models.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from rest_framework_api_key.models import AbstractAPIKey


class BaseModel(models.Model):
    """UUID primary key (no enumerable ids in URLs) and creation/update times."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class Application(BaseModel):
    """A tenant: one product integrating Convene. Every row a client can reach belongs to one."""

    name = models.CharField(max_length=200, unique=True)
    is_active = models.BooleanField(default=True)
    recording_retention_days = models.PositiveIntegerField(
        default=30, help_text="Recordings are deleted this many days after they end, unless on legal hold."
    )
    reviewers = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="reviewed_applications",
        help_text="Staff users who may review this application's recordings (with the review permission).",
    )

    def __str__(self) -> str:
        return self.name


class ApplicationAPIKey(AbstractAPIKey):
    """A server-to-server key of one Application; only its hash is stored."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="api_keys")

    class Meta(AbstractAPIKey.Meta):
        verbose_name = "application API key"
        verbose_name_plural = "application API keys"


class AppendOnlyModel(models.Model):
    """Rows written once and kept: save() refuses updates and delete() refuses, with the model's
    name in the message. The PostgreSQL trigger of a table's append-only migration refuses both
    in the database too."""

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ValueError(f"{self._meta.verbose_name_plural} are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError(f"{self._meta.verbose_name_plural} are append-only")


class AuditOutcome(models.TextChoices):
    ALLOWED = "allowed"
    DENIED = "denied"


class ActorType(models.TextChoices):
    """Who acted (AuditEvent.actor_type, with actor_id naming which one)."""

    APPLICATION = "application"  # an application's API key
    USER = "user"  # a staff user (the admin, a reviewer)
    LINK = "link"  # the holder of a join link (actor_id: the link's id)
    SYSTEM = "system"  # Convene itself (actor_id: which part, e.g. "retention")
    ANONYMOUS = "anonymous"  # nobody authenticated


class AuditEvent(AppendOnlyModel):
    """Append-only record of who did what to which object, and whether it was allowed.

    Rows are never updated or deleted by the application (save() refuses updates, delete()
    refuses); on PostgreSQL a trigger refuses it too.

    Written by core.orm_bypass.insert_row (core.services.audit_write), not save(): no save()
    override and no save signal runs for a row; the append-only rule for them is the trigger's.
    """

    id = models.BigAutoField(primary_key=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    application = models.ForeignKey(Application, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    actor_type = models.CharField(max_length=20, choices=ActorType.choices)
    actor_id = models.CharField(max_length=100, blank=True)
    action = models.CharField(max_length=60, db_index=True)
    object_type = models.CharField(max_length=40)
    object_id = models.CharField(max_length=100, db_index=True)
    outcome = models.CharField(max_length=10, choices=AuditOutcome.choices)
    ip = models.GenericIPAddressField(null=True, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.actor_type}:{self.actor_id} {self.action} {self.outcome}"
