"""Writes of webhook endpoints: create (the secret returned once), update, delete, rotate the
secret with a grace period, and the test ping."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.audit import SYSTEM, AuditContext
from core.models import Application
from core.services import audit_record_on
from outbound.catalogue import PING
from outbound.models import WebhookDelivery, WebhookEndpoint
from outbound.services.outbox import deliveries_create, event_body, new_event_id, subscriptions_forget
from outbound.signing import secret_generate
from outbound.urlguard import url_check

logger = logging.getLogger(__name__)

ENDPOINT_FIELDS = ("url", "description", "events", "enabled")


def _audit(endpoint: WebhookEndpoint, action: str, audit: AuditContext, details: dict[str, Any] | None = None) -> None:
    audit_record_on(endpoint, action=f"webhook_endpoint.{action}", audit=audit, details=details)


def webhook_endpoint_create(
    *, application: Application, url: str, audit: AuditContext = SYSTEM, **fields: Any
) -> WebhookEndpoint:
    """Refuses (400) a URL Convene may not post to. The new secret is on the returned row."""
    url_check(url)
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.create(
            application=application,
            url=url,
            secret=secret_generate(),
            **{k: v for k, v in fields.items() if k in ENDPOINT_FIELDS},
        )
        _audit(endpoint, "create", audit)
        subscriptions_forget(application_id=application.pk)
    logger.info("webhook endpoint created endpoint=%s application=%s", endpoint.pk, application.pk)
    return endpoint


def webhook_endpoint_update(
    *, endpoint: WebhookEndpoint, audit: AuditContext = SYSTEM, **changes: Any
) -> WebhookEndpoint:
    """Re-enabling clears the reason it was disabled and its failure streak."""
    if "url" in changes:
        url_check(changes["url"])
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        for name, value in changes.items():
            if name in ENDPOINT_FIELDS:
                setattr(endpoint, name, value)
        if changes.get("enabled") is True:
            endpoint.disabled_reason, endpoint.failing_since = "", None
        endpoint.save()
        _audit(endpoint, "update", audit, {"fields": sorted(changes)})
        subscriptions_forget(application_id=endpoint.application_id)
    return endpoint


def webhook_endpoint_delete(*, endpoint: WebhookEndpoint, audit: AuditContext = SYSTEM) -> None:
    with transaction.atomic():
        _audit(endpoint, "delete", audit)
        subscriptions_forget(application_id=endpoint.application_id)
        endpoint.delete()


def webhook_endpoint_rotate_secret(*, endpoint: WebhookEndpoint, audit: AuditContext = SYSTEM) -> WebhookEndpoint:
    """A new secret signs from now on; the one it replaces keeps signing alongside it until the
    grace ends (CONVENE_WEBHOOK_SECRET_GRACE_SECONDS), so receivers can switch without a gap."""
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        endpoint.previous_secret = endpoint.secret
        endpoint.previous_secret_expires_at = timezone.now() + timedelta(
            seconds=settings.CONVENE_WEBHOOK_SECRET_GRACE_SECONDS
        )
        endpoint.secret = secret_generate()
        endpoint.save()
        _audit(endpoint, "rotate_secret", audit)
    return endpoint


def webhook_endpoint_ping(*, endpoint: WebhookEndpoint) -> WebhookDelivery:
    """Queue a `ping` to this endpoint alone (enabled or not: it is how a fixed receiver is tried)."""
    event_id = new_event_id(PING)
    body = event_body(
        event_id=event_id,
        event_type=PING,
        occurred_at=timezone.now(),
        room=None,
        data={"endpoint_id": str(endpoint.pk)},
    )
    with transaction.atomic():
        deliveries_create(endpoint_ids=[endpoint.pk], event_id=event_id, event_type=PING, body=body)
    return WebhookDelivery.objects.get(endpoint=endpoint, event_id=event_id)
