"""Delivery attempts: claim a due row (a lease), sign and post it, record the outcome, schedule
the next attempt with backoff and jitter, disable an endpoint that keeps failing; the sweeper
and manual retries.

Retry schedule (CONVENE_WEBHOOK_RETRY_SCHEDULE, seconds after each failed attempt, each drawn
within +-20%): 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h: eight attempts over about 27 hours.
"""

from __future__ import annotations

import functools
import logging
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.models import F
from django.utils import timezone

from core.errors import Conflict
from core.models import Application
from core.orm_bypass import ModelRows, Uses, columns_of, hand_written, prepared_cursor, table
from outbound import sender
from outbound.catalogue import PING
from outbound.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from outbound.services.outbox import deliveries_enqueue, subscriptions_forget
from outbound.signing import signed_headers

logger = logging.getLogger(__name__)


class AttemptStatus(StrEnum):
    """What one delivery attempt came to (the task's result; never stored: DeliveryStatus is)."""

    DELIVERED = "delivered"
    RETRY = "retry"
    FAILED = "failed"
    BUSY = "busy"  # leased elsewhere or not yet due
    SKIPPED = "skipped"  # final or gone


@dataclass(frozen=True)
class AttemptOutcome:
    status: AttemptStatus
    due_in: float | None = None  # seconds until it is due again (retry, busy)


def retry_delay(attempts: int) -> float | None:
    """Seconds before the next attempt after `attempts` failed ones; None when none is left."""
    schedule = settings.CONVENE_WEBHOOK_RETRY_SCHEDULE
    if attempts > len(schedule):
        return None
    base = schedule[attempts - 1]
    return random.uniform(base * 0.8, base * 1.2)  # noqa: S311 (jitter, not security)


def _lease_seconds() -> float:
    return settings.CONVENE_WEBHOOK_TIMEOUT_SECONDS + 5


def _claim(delivery_id: int, now: datetime) -> WebhookDelivery | None:
    """Take the attempt: due and pending -> leased until the attempt cannot still be running. One
    prepared statement returns the row with its endpoint. Its COMMIT does not wait for the disk
    (see _save)."""
    lease_until = now + timedelta(seconds=_lease_seconds())
    if connection.vendor != "postgresql":  # SQLite's RETURNING cannot name the joined table
        return _claim_with_orm(delivery_id, now, lease_until)
    with transaction.atomic(), prepared_cursor() as cursor:
        cursor.execute(_claim_sql(), [lease_until, now, delivery_id, DeliveryStatus.PENDING, now])
        found = cursor.fetchone()
    if found is None:
        return None
    delivery, endpoint = _CLAIM_ROWS.read(connections[DEFAULT_DB_ALIAS], found)
    delivery.endpoint, delivery.application_active = endpoint, found[-2]
    return delivery


_CLAIM_ROWS = ModelRows((WebhookDelivery, "d"), (WebhookEndpoint, "e"))
_CLAIM = hand_written(
    "outbound.delivery_claim",
    Uses(WebhookDelivery, ("id", "endpoint", "status", "next_attempt_at", "last_attempt_at", "attempts")),
    Uses(WebhookEndpoint, ("id", "application")),
    Uses(Application, ("id", "is_active")),
)


@functools.cache
def _claim_sql() -> str:
    db = connections[DEFAULT_DB_ALIAS]
    q = db.ops.quote_name
    d, e, a = (columns_of(use.model, use.fields, db) for use in _CLAIM.uses)
    return (
        f"UPDATE {q(WebhookDelivery._meta.db_table)} AS d "  # noqa: S608 (names from the models, values bound)
        f"SET {d['next_attempt_at']} = %s, {d['last_attempt_at']} = %s, {d['attempts']} = d.{d['attempts']} + 1 "
        f"FROM {q(WebhookEndpoint._meta.db_table)} e, {q(Application._meta.db_table)} a "
        f"WHERE d.{d['id']} = %s AND d.{d['status']} = %s AND d.{d['next_attempt_at']} <= %s "
        f"AND e.{e['id']} = d.{d['endpoint']} AND a.{a['id']} = e.{e['application']} "
        f"RETURNING {_CLAIM_ROWS.columns(db)}, a.{a['is_active']}, "
        "set_config('synchronous_commit', 'off', true)"
    )


def _claim_with_orm(delivery_id: int, now: datetime, lease_until: datetime) -> WebhookDelivery | None:
    with transaction.atomic():
        claimed = WebhookDelivery.objects.filter(
            pk=delivery_id, status=DeliveryStatus.PENDING, next_attempt_at__lte=now
        ).update(next_attempt_at=lease_until, last_attempt_at=now, attempts=F("attempts") + 1)
        if not claimed:
            return None
        delivery = WebhookDelivery.objects.select_related("endpoint__application").get(pk=delivery_id)
        delivery.application_active = delivery.endpoint.application.is_active
        return delivery


def _save(delivery: WebhookDelivery, names: list[str]) -> None:
    """UPDATE the delivery row's bookkeeping with a COMMIT that does not wait for PostgreSQL to
    flush it to disk: a database crash can undo the last fraction of a second of it, and then an
    attempt is made again (the same webhook id: receivers deduplicate), never lost. The outbox
    row itself was committed, durably, with the change that wrote it."""
    with transaction.atomic():
        table(WebhookDelivery).update(delivery, names, commit_async=True)


def webhook_delivery_attempt(*, delivery_id: int) -> AttemptOutcome:
    now = timezone.now()
    delivery = _claim(delivery_id, now)
    if delivery is None:
        row = WebhookDelivery.objects.filter(pk=delivery_id, status=DeliveryStatus.PENDING).only("next_attempt_at")
        pending = row.first()
        if pending is None:
            return AttemptOutcome(AttemptStatus.SKIPPED)
        return AttemptOutcome(AttemptStatus.BUSY, due_in=max(0.0, (pending.next_attempt_at - now).total_seconds()))
    endpoint = delivery.endpoint
    if not delivery.application_active:  # a deactivated application gets nothing, as with its keys and links
        _finish(delivery, status=DeliveryStatus.FAILED, error="application deactivated")
        return AttemptOutcome(AttemptStatus.FAILED)
    if not endpoint.enabled and delivery.event_type != PING:
        _finish(delivery, status=DeliveryStatus.FAILED, error="endpoint disabled")
        return AttemptOutcome(AttemptStatus.FAILED)
    result = sender.post(url=endpoint.url, headers=_headers(delivery, endpoint, now), body=delivery.payload.encode())
    return _record_attempt(delivery, endpoint, result)


def _headers(delivery: WebhookDelivery, endpoint: WebhookEndpoint, now: datetime) -> dict[str, str]:
    keys = [endpoint.secret]
    if endpoint.previous_secret and endpoint.previous_secret_expires_at and endpoint.previous_secret_expires_at > now:
        keys.append(endpoint.previous_secret)
    return signed_headers(
        secrets_=keys, webhook_id=delivery.event_id, timestamp=int(time.time()), body=delivery.payload.encode()
    )


def _finish(delivery: WebhookDelivery, *, status: str, error: str, next_at: datetime | None = None, **fields) -> None:
    delivery.status, delivery.last_error, delivery.next_attempt_at = status, error[:300], next_at
    for name, value in fields.items():
        setattr(delivery, name, value)
    _save(delivery, ["status", "last_error", "next_attempt_at", *fields])


def _record_attempt(delivery: WebhookDelivery, endpoint: WebhookEndpoint, result: sender.Attempt) -> AttemptOutcome:
    now = timezone.now()
    fields = {
        "last_status_code": result.status_code,
        "last_latency_ms": result.latency_ms,
        "response_excerpt": result.excerpt,
    }
    if result.ok:
        _finish(delivery, status=DeliveryStatus.DELIVERED, error="", delivered_at=now, **fields)
        if endpoint.failing_since is not None or endpoint.last_success_at is None:
            WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=None, last_success_at=now)
        return AttemptOutcome(AttemptStatus.DELIVERED)
    delay = retry_delay(delivery.attempts)
    if delay is None:
        _finish(delivery, status=DeliveryStatus.FAILED, error=result.error, **fields)
    else:
        _finish(
            delivery,
            status=DeliveryStatus.PENDING,
            error=result.error,
            next_at=now + timedelta(seconds=delay),
            **fields,
        )
    logger.info(
        "webhook delivery failed delivery=%s endpoint=%s attempt=%s error=%s",
        delivery.pk,
        endpoint.pk,
        delivery.attempts,
        result.error,
    )
    _note_failure(endpoint, now)
    return AttemptOutcome(AttemptStatus.FAILED) if delay is None else AttemptOutcome(AttemptStatus.RETRY, due_in=delay)


def _note_failure(endpoint: WebhookEndpoint, now: datetime) -> None:
    """Start the failure streak, or disable the endpoint once it has lasted too long."""
    if endpoint.failing_since is None:
        WebhookEndpoint.objects.filter(pk=endpoint.pk, failing_since__isnull=True).update(failing_since=now)
        return
    limit = timedelta(seconds=settings.CONVENE_WEBHOOK_DISABLE_AFTER_SECONDS)
    if endpoint.enabled and now - endpoint.failing_since >= limit:
        reason = f"disabled after failing continuously since {endpoint.failing_since.isoformat()}"
        with transaction.atomic():
            changed = WebhookEndpoint.objects.filter(pk=endpoint.pk, enabled=True).update(
                enabled=False, disabled_reason=reason, updated_at=now
            )
            if changed:
                subscriptions_forget(application_id=endpoint.application_id)
        if changed:
            logger.warning("webhook endpoint disabled endpoint=%s", endpoint.pk)


def webhook_delivery_retry(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send again now, with the same webhook id (a delivered or failed one too); a pending one is
    already on its way (409)."""
    now = timezone.now()
    changed = (
        WebhookDelivery.objects.filter(pk=delivery.pk)
        .exclude(status=DeliveryStatus.PENDING)
        .update(status=DeliveryStatus.PENDING, next_attempt_at=now, attempts=0, last_error="")
    )
    if not changed:
        raise Conflict("This delivery is already pending.", code="delivery_pending")
    deliveries_enqueue(delivery_ids=[delivery.pk])
    delivery.refresh_from_db()
    return delivery


def webhook_deliveries_sweep(*, limit: int = 1000) -> int:
    """Re-ring for deliveries due (a retry's time has come, the broker was down, a worker died
    mid-attempt and its lease ran out)."""
    ids = list(
        WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=timezone.now())
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    return deliveries_enqueue(delivery_ids=ids) if ids else 0
