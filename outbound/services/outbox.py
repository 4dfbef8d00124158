"""The transactional outbox: a change's services call `webhook_event_emit` inside their own
transaction; one delivery row per subscribed endpoint is written there and the delivery task is
rung after commit. A rollback takes the rows with it; a crash after commit leaves them pending
for the sweeper.

The hot event path pays one cache read per change when nobody subscribed: the application's
subscriptions are cached (shared cache) and dropped whenever its endpoints change.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import secrets
from collections import Counter
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connections, router, transaction
from django.utils import timezone

from core.orm_bypass import insert_row
from core.taskqueue import publish_task
from outbound.catalogue import room_object
from outbound.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint

logger = logging.getLogger(__name__)

Subscriptions = list[tuple[str, list[str]]]  # (endpoint id, event types; empty: all)


def _cache_key(application_id) -> str:
    return f"outbound:subscriptions:{application_id}"


def subscriptions_get(*, application_id) -> Subscriptions:
    """The enabled endpoints of an application with the types each wants, from the cache when
    it has them. A cache that cannot be reached costs a query, never the change."""
    key = _cache_key(application_id)
    try:
        found = cache.get(key)
    except Exception:  # the shared cache is down: ask the database
        found = None
    if found is not None:
        return found
    found = [
        (str(pk), events)
        for pk, events in WebhookEndpoint.objects.filter(
            application_id=application_id, enabled=True, application__is_active=True
        ).values_list("pk", "events")
    ]
    try:
        cache.set(key, found, settings.CONVENE_WEBHOOK_SUBSCRIPTION_CACHE_SECONDS)
    except Exception:
        logger.warning("subscription cache unavailable application=%s", application_id)
    return found


def subscriptions_forget(*, application_id) -> None:
    """Drop the cached subscriptions now and again after the current transaction commits (a reader
    between the two would otherwise cache what is about to change)."""

    def forget() -> None:
        try:
            cache.delete(_cache_key(application_id))
        except Exception:
            logger.warning("subscription cache unavailable application=%s", application_id)

    forget()
    transaction.on_commit(forget)


# Inside the processing of one inbound event, event ids are derived from that event (its key, the
# event type and how many of that type it emitted before), so that processing it again after a
# lost asynchronous commit emits the same ids and receivers deduplicate what they were sent.
_derived_from: ContextVar[list | None] = ContextVar("outbox_ids_derived_from", default=None)


@contextmanager
def event_ids_derived_from(key: str):
    """Ids of the events emitted inside are a function of `key` and their type, not random."""
    token = _derived_from.set([key, Counter()])
    try:
        yield
    finally:
        _derived_from.reset(token)


def new_event_id(event_type: str) -> str:
    derived = _derived_from.get()
    if derived is None:
        return "msg_" + secrets.token_urlsafe(18)
    key, emitted = derived
    emitted[event_type] += 1
    digest = hashlib.sha256(f"{key}#{event_type}#{emitted[event_type]}".encode()).digest()
    return "msg_" + base64.urlsafe_b64encode(digest[:18]).decode()


def event_body(*, event_id: str, event_type: str, occurred_at: datetime, room, data: dict[str, Any]) -> str:
    envelope = {
        "id": event_id,
        "type": event_type,
        "occurred_at": occurred_at.isoformat(),
        "room": {"id": str(room.pk), "external_id": room.external_id} if room is not None else None,
        "data": data,
    }
    return json.dumps(envelope, cls=DjangoJSONEncoder, separators=(",", ":"))


def webhook_event_emit(
    *,
    room,
    event_type: str,
    data: Callable[[], dict[str, Any]] | None = None,
    occurred_at: datetime | None = None,
) -> str | None:
    """Inside the caller's transaction: one delivery row per endpoint of the room's application
    that wants `event_type`. `data` builds the object (called only when someone listens; by
    default the room). Returns the event id, or None when nobody listens."""
    wanted = [
        pk for pk, events in subscriptions_get(application_id=room.application_id) if not events or event_type in events
    ]
    if not wanted:
        return None
    event_id = new_event_id(event_type)
    body = event_body(
        event_id=event_id,
        event_type=event_type,
        occurred_at=occurred_at or timezone.now(),
        room=room,
        data=data() if data is not None else room_object(room),
    )
    return deliveries_create(endpoint_ids=wanted, event_id=event_id, event_type=event_type, body=body)


def deliveries_create(*, endpoint_ids: Iterable[str], event_id: str, event_type: str, body: str) -> str:
    """One row per endpoint, each one prepared INSERT through core.orm_bypass.insert_row, not the ORM
    (this runs inside the event flow's transactions: bench/README.md). What that gives up:
    WebhookDelivery.save() and pre/post_save signals never run for these rows (it has none today),
    so a rule added to either must be added here too."""
    now = timezone.now()
    ids = []
    for pk in endpoint_ids:
        row = WebhookDelivery(
            endpoint_id=pk,
            event_id=event_id,
            event_type=event_type,
            payload=body,
            created_at=now,
            status=DeliveryStatus.PENDING,
            next_attempt_at=now,
        )
        insert_row(connections[router.db_for_write(WebhookDelivery)], row)
        ids.append(row.pk)

    def ring() -> None:
        deliveries_enqueue(delivery_ids=ids)

    # A lost asynchronous commit of the change re-emits the same id (see event_ids_derived_from), so
    # the event flow may commit without waiting for the disk even though this doorbell follows it.
    ring.async_commit_safe = _derived_from.get() is not None
    transaction.on_commit(ring)
    return event_id


def deliveries_enqueue(*, delivery_ids: Iterable[int]) -> int:
    """Ring for each delivery without ever failing the caller: a publish that fails leaves the
    row due for the sweeper."""
    from outbound.tasks import deliver_webhook

    sent = 0
    for delivery_id in delivery_ids:
        try:
            publish_task(deliver_webhook, (delivery_id,))
            sent += 1
        except Exception as exc:
            logger.warning("enqueue failed delivery=%s error=%s; left for the sweeper", delivery_id, type(exc).__name__)
            break
    return sent
