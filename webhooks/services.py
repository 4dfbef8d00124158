"""The event flow: store verified webhooks, process them once, sweep, replay.

Receive -> InboundEvent row (unique per provider event id) -> 200 -> task(pk) -> lock row ->
HANDLERS[kind] -> done/ignored/failed. The row is the source of truth; the queue only rings.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.models import F
from django.utils import timezone

import providers
from core.orm_bypass import Insert, ModelRows, Uses, columns_of, hand_written, prepared_cursor, table
from core.selectors import filter_given
from core.taskqueue import publish_task
from outbound.services.outbox import event_ids_derived_from
from providers.base import BadPayload, NeutralEvent, ProviderRejected
from rooms.models import Room
from rooms.services import sessions
from webhooks import handlers
from webhooks.models import InboundEvent, InboundEventStatus

logger = logging.getLogger(__name__)

# Failures that will not go away by trying again.
PERMANENT_ERRORS = (BadPayload, ProviderRejected)


@dataclass(frozen=True)
class StoreResult:
    stored: list[int]
    duplicates: int


def inbound_events_store(*, provider_name: str, body: bytes, events: list[NeutralEvent]) -> StoreResult:
    """Store each event once and ring the doorbell after commit. The unique constraint decides
    (INSERT ... ON CONFLICT DO NOTHING: one statement, no prior SELECT, no savepoint); a
    duplicate inserts nothing. Database errors propagate: the caller answers 503."""
    stored, duplicates = [], 0
    now = timezone.now()
    # One event (LiveKit's case) is one statement, atomic by itself: no BEGIN/COMMIT round trips.
    atomic = transaction.atomic() if len(events) > 1 else contextlib.nullcontext()
    with atomic, prepared_cursor() as cursor:
        for event in events:
            cursor.execute(
                _INSERT_EVENT.sql(),
                _INSERT_EVENT.params(
                    [
                        provider_name,
                        event.provider_event_id,
                        event.kind,
                        event.room_name,
                        event.occurred_at,
                        now,
                        body if event.raw is None else event.raw,
                        InboundEventStatus.PENDING,
                    ]
                ),
            )
            row = cursor.fetchone()
            if row is None:
                duplicates += 1
            else:
                stored.append(row[0])
        if stored:
            transaction.on_commit(lambda: inbound_events_enqueue(event_ids=stored))
    return StoreResult(stored=stored, duplicates=duplicates)


# Columns, the other fields' defaults and the conflict target come from the model.
_INSERT_EVENT = Insert(
    "webhooks.inbound_event_store",
    InboundEvent,
    ("provider", "provider_event_id", "kind", "room_name", "occurred_at", "received_at", "body", "status"),
    on_conflict=("provider", "provider_event_id"),
)


def inbound_events_enqueue(*, event_ids: Iterable[int]) -> int:
    """Publish one processing task per id without ever failing or hanging the caller: the
    broker's socket timeouts bound each publish, and a failure leaves the row for the sweeper."""
    from webhooks.tasks import process_inbound_event

    sent = 0
    for event_id in event_ids:
        try:
            publish_task(process_inbound_event, (event_id,))  # apply_async's own message, cheaper
            sent += 1
        except Exception as exc:  # any broker failure: the row stays pending and is swept later
            logger.warning("enqueue failed event=%s error=%s; left for the sweeper", event_id, type(exc).__name__)
            break
    return sent


class Outcome:
    """What processing one event came to (the task's result): the final status it stored, or why
    it stored none."""

    DONE = InboundEventStatus.DONE
    IGNORED = InboundEventStatus.IGNORED
    RETRY = "retry"
    FAILED = InboundEventStatus.FAILED
    BUSY = "busy"  # still pending but locked by another session
    SKIPPED = "skipped"  # already final (or gone)


def inbound_event_process(*, event_id: int) -> str:
    """Apply one stored event. The row lock held for the whole transaction is the claim: a
    concurrent duplicate task skips it, and a worker killed mid-way leaves it pending."""
    try:
        with transaction.atomic():
            events = table(InboundEvent)
            row, room = _claim_with_room(event_id)
            if row is None:  # not pending, locked elsewhere, or its room is not one of ours
                row = events.get(lock=True, skip_locked=True, id=event_id, status=InboundEventStatus.PENDING)
            if row is None:
                # Locked by another session (a worker on it, or a killed one whose connection
                # PostgreSQL has not yet dropped) and still pending: try again shortly.
                pending = InboundEvent.objects.filter(pk=event_id, status=InboundEventStatus.PENDING).exists()
                return Outcome.BUSY if pending else Outcome.SKIPPED
            queued_before = len(connection.run_on_commit)
            with event_ids_derived_from(f"{row.provider}:{row.provider_event_id}"):
                outcome, note = _apply(row, room)
            # The row is locked by this transaction, so attempts + 1 cannot race.
            row.status, row.attempts, row.processed_at, row.last_error = outcome, row.attempts + 1, timezone.now(), note
            # Redone if lost: a server crash right after an asynchronous commit leaves the row
            # pending for the sweeper, and the stored webhook was committed synchronously. Not
            # when something outside the database follows the commit: a task queued on commit
            # (the consent gate's provider stop, which comes with its audit row, is one). A webhook-out
            # doorbell may: the events it rings for get the same ids when this event is redone.
            may_commit_async = settings.CONVENE_EVENT_ASYNC_COMMIT and all(
                getattr(queued[1], "async_commit_safe", False) for queued in connection.run_on_commit[queued_before:]
            )
            events.update(row, ["status", "attempts", "processed_at", "last_error"], commit_async=may_commit_async)
            return outcome
    except Exception as exc:
        return _record_failure(event_id, exc)


def _claim_with_room(event_id: int) -> tuple[InboundEvent | None, Room | None]:
    """The usual claim in one statement: the pending event, locked unless another session holds
    it (SKIP LOCKED), and the room it names, locked (waiting) so that one room's events apply one
    at a time. (None, None) when there is no such pair."""
    with prepared_cursor() as cursor:
        cursor.execute(_claim_sql(connection.vendor), [event_id, InboundEventStatus.PENDING])
        found = cursor.fetchone()
    if found is None:
        return None, None
    event, room = _CLAIM_ROWS.read(connections[DEFAULT_DB_ALIAS], found)
    return event, room


_CLAIM_ROWS = ModelRows((InboundEvent, "e"), (Room, "r"))
_CLAIM = hand_written(
    "webhooks.inbound_event_claim",
    Uses(InboundEvent, ("id", "status", "provider", "room_name")),
    Uses(Room, ("provider", "provider_room_name")),
)


@functools.cache
def _claim_sql(vendor: str) -> str:
    db = connections[DEFAULT_DB_ALIAS]
    q = db.ops.quote_name
    e, r = (columns_of(use.model, use.fields, db) for use in _CLAIM.uses)
    sql = (
        f"SELECT {_CLAIM_ROWS.columns(db)} "  # noqa: S608 (names from the models)
        f"FROM {q(InboundEvent._meta.db_table)} e JOIN {q(Room._meta.db_table)} r "
        f"ON r.{r['provider']} = e.{e['provider']} AND r.{r['provider_room_name']} = e.{e['room_name']} "
        f"WHERE e.{e['id']} = %s AND e.{e['status']} = %s"
    )
    if connection.features.has_select_for_update_skip_locked and connection.features.has_select_for_update_of:
        sql += " FOR UPDATE OF e SKIP LOCKED FOR UPDATE OF r"
    return sql


def _apply(row: InboundEvent, room: Room | None) -> tuple[str, str]:
    events = providers.get(row.provider).parse_webhook(body=bytes(row.body))
    event = next((e for e in events if e.provider_event_id == row.provider_event_id), None)
    if event is None:
        raise BadPayload("the stored body no longer holds this event id")
    if event.occurred_at != row.occurred_at:
        # The body had no usable time and the parse stood in "now": the event happened when it
        # was received (stored at intake), not when it is processed, retried or replayed.
        event = dataclasses.replace(event, occurred_at=row.occurred_at)
    chain = handlers.handlers_for(event)
    if not chain:
        return InboundEventStatus.IGNORED, f"no handler for {event.kind}"
    if room is None or room.provider_room_name != event.room_name:
        room = sessions.room_lock_by_provider_name(provider=row.provider, room_name=event.room_name)
    if room is None:
        return InboundEventStatus.IGNORED, "room not managed by Convene"
    ignored = handlers.apply(chain, room=room, event=event)
    if ignored is not None:
        return InboundEventStatus.IGNORED, ignored.reason
    return InboundEventStatus.DONE, ""


def _record_failure(event_id: int, exc: Exception) -> str:
    """Count the attempt and keep the error; fail for good when permanent or out of attempts."""
    error = f"{type(exc).__name__}: {exc}"[:2000]
    row = InboundEvent.objects.filter(pk=event_id).only("attempts").first()
    if row is None:
        return Outcome.SKIPPED
    final = isinstance(exc, PERMANENT_ERRORS) or row.attempts + 1 >= settings.CONVENE_EVENT_MAX_ATTEMPTS
    InboundEvent.objects.filter(pk=event_id, status=InboundEventStatus.PENDING).update(
        attempts=F("attempts") + 1,
        last_error=error,
        status=InboundEventStatus.FAILED if final else InboundEventStatus.PENDING,
        processed_at=timezone.now() if final else None,
    )
    logger.warning("event processing failed event=%s final=%s error=%s", event_id, final, type(exc).__name__)
    return Outcome.FAILED if final else Outcome.RETRY


def retry_countdown(attempt: int) -> float:
    """Exponential backoff with full jitter, capped well under the broker visibility timeout."""
    cap = min(settings.CONVENE_EVENT_RETRY_MAX_SECONDS, settings.CONVENE_EVENT_RETRY_BASE_SECONDS * 2**attempt)
    return random.uniform(cap / 2, cap)  # noqa: S311 (jitter, not security)


def inbound_events_sweep(*, older_than: timedelta | None = None, limit: int = 1000) -> int:
    """Re-ring for rows still pending after a while (broker down, worker died)."""
    if older_than is None:
        older_than = timedelta(seconds=settings.CONVENE_EVENT_SWEEP_AFTER_SECONDS)
    cutoff = timezone.now() - older_than
    ids = list(
        InboundEvent.objects.filter(status=InboundEventStatus.PENDING, received_at__lt=cutoff)
        .order_by("received_at")
        .values_list("pk", flat=True)[:limit]
    )
    return inbound_events_enqueue(event_ids=ids) if ids else 0


def inbound_events_replay(
    *,
    ids: list[int] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    statuses: list[str] | None = None,
) -> list[int]:
    """Put chosen events back to pending (default: the failed ones) and return their ids."""
    selection = filter_given(InboundEvent.objects.all(), pk__in=ids, received_at__gte=since, received_at__lt=until)
    if statuses or not ids:
        selection = selection.filter(status__in=statuses or [InboundEventStatus.FAILED])
    chosen = list(selection.order_by("occurred_at", "pk").values_list("pk", flat=True))
    InboundEvent.objects.filter(pk__in=chosen).update(status=InboundEventStatus.PENDING, last_error="")
    return chosen
