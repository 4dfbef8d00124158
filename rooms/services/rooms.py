"""Writes of rooms: create (idempotent on external_id), update, close, and the window sweep.

Our row is written first, then the provider is called, then the outcome is recorded, so a
failed provider call never leaves a room at the provider that our records do not explain.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

import providers
from core.audit import SYSTEM, AuditContext
from core.errors import Conflict, ConveneError
from core.models import Application
from core.services import audit_record_on
from outbound import emit
from providers.base import ProviderError
from providers.registry import configured_providers
from rooms.models import CloseReason, RecordingPolicy, Room, RoomStatus
from rooms.signals import room_recordable

logger = logging.getLogger(__name__)

ROOM_FIELDS = (
    "title",
    "opens_at",
    "closes_at",
    "max_participants",
    "recording_policy",
    "waiting_room",
    "metadata",
)


def _initial_status(*, opens_at: datetime | None, now: datetime) -> str:
    if opens_at is not None and now < opens_at - timedelta(minutes=settings.CONVENE_JOIN_EARLY_MINUTES):
        return RoomStatus.SCHEDULED
    return RoomStatus.OPEN


def _check_window(opens_at: datetime | None, closes_at: datetime | None) -> None:
    if opens_at is not None and closes_at is not None and closes_at <= opens_at:
        raise ConveneError(
            "closes_at must be after opens_at.",
            code="invalid_window",
            details={"opens_at": opens_at.isoformat(), "closes_at": closes_at.isoformat()},
        )


def _check_consent_notice(*, application: Application, recording_policy: str | None) -> None:
    """A room that may be recorded needs a notice to ask consent to; without one every consent
    and every recording would be refused. The notices are recordings', which builds on rooms: it
    refuses through the room_recordable signal."""
    if recording_policy in (None, RecordingPolicy.OFF):
        return
    room_recordable.send(sender=Room, application=application, recording_policy=recording_policy)


def _provider_for_new_room(name: str | None) -> str:
    """The provider a new room goes to: the one asked for, else CONVENE_DEFAULT_PROVIDER; it must
    be configured here."""
    name = name or settings.CONVENE_DEFAULT_PROVIDER
    if name not in configured_providers():
        raise ConveneError(
            f"Provider {name!r} is not configured on this server.",
            code="provider_not_configured",
            details={"provider": name, "configured": list(configured_providers())},
        )
    return name


def _create_at_provider(room: Room) -> None:
    """Create the media room ahead of joins where the server needs it (Janus). A failure is
    logged only: the provider creates it again, lazily, before the first join."""
    provider = providers.get(room.provider)
    if not provider.capabilities.needs_room_creation:
        return
    try:
        provider.create_room(room=room.as_provider_ref())
    except ProviderError as exc:
        logger.warning("provider room create failed room=%s error=%s; created on first join", room.pk, exc)


def room_create(
    *,
    application: Application,
    external_id: str | None = None,
    provider: str | None = None,
    attach: Callable[[Room], list[Any]] | None = None,
    audit: AuditContext = SYSTEM,
    **fields: Any,
) -> tuple[Room, bool, list[Any]]:
    """Create a room, or return the existing room for the same external_id.

    `attach`: the caller's own writes for a new room, made in the room's transaction right after
    its row (access's room_create_with_links: the join links). Returns (room, created, what
    `attach` returned); it runs only on first create.
    """
    _check_window(fields.get("opens_at"), fields.get("closes_at"))
    _check_consent_notice(application=application, recording_policy=fields.get("recording_policy"))
    provider = _provider_for_new_room(provider)
    now = timezone.now()
    try:
        with transaction.atomic():
            room = Room.objects.create(
                application=application,
                external_id=external_id or None,
                provider=provider,
                provider_room_name=providers.get(provider).new_room_name(),
                status=_initial_status(opens_at=fields.get("opens_at"), now=now),
                **{k: v for k, v in fields.items() if k in ROOM_FIELDS},
            )
            links = attach(room) if attach is not None else []
            audit_record_on(room, action="room.create", audit=audit)
            if room.status == RoomStatus.OPEN:
                emit.room_opened(room)
    except IntegrityError:
        existing = Room.objects.filter(application=application, external_id=external_id).first()
        if external_id and existing is not None:
            return existing, False, []
        raise
    logger.info("room created room=%s application=%s", room.pk, application.pk)
    _create_at_provider(room)
    return room, True, links


def room_update(*, room: Room, audit: AuditContext = SYSTEM, **changes: Any) -> Room:
    """Change the editable fields of a room that is not closed."""
    with transaction.atomic():
        room = Room.objects.select_for_update().get(pk=room.pk)
        if room.is_closed:
            raise Conflict("A closed room cannot be changed.", code="room_closed")
        _check_consent_notice(application=room.application, recording_policy=changes.get("recording_policy"))
        for name, value in changes.items():
            if name in ROOM_FIELDS:
                setattr(room, name, value)
        _check_window(room.opens_at, room.closes_at)
        was = room.status
        if room.status in (RoomStatus.SCHEDULED, RoomStatus.OPEN):
            room.status = _initial_status(opens_at=room.opens_at, now=timezone.now())
        room.save()
        if was == RoomStatus.SCHEDULED and room.status == RoomStatus.OPEN:
            emit.room_opened(room)
        audit_record_on(room, action="room.update", audit=audit, details={"fields": sorted(changes)})
    return room


_SCHEDULER = AuditContext.system("scheduler")  # closes rooms whose window has ended


def room_close(*, room: Room, reason: CloseReason, audit: AuditContext = _SCHEDULER) -> Room:
    """Refuse further joins at once, then close the media room at the provider.

    If the provider cannot be reached the room stays closed here (no token is minted for it)
    and the window sweep retries the provider close until it succeeds.
    """
    now = timezone.now()
    with transaction.atomic():
        changed = (
            Room.objects.filter(pk=room.pk)
            .exclude(status=RoomStatus.CLOSED)
            .update(status=RoomStatus.CLOSED, closed_at=now, close_reason=reason, updated_at=now)
        )
        if changed:
            audit_record_on(room, action="room.close", audit=audit, details={"reason": reason})
            room.status, room.closed_at, room.close_reason = RoomStatus.CLOSED, now, reason
            emit.room_closed(room)
    room.refresh_from_db()
    if room.provider_closed_at is None:
        room_close_at_provider(room=room)
    return room


def room_close_at_provider(*, room: Room) -> bool:
    """Ask the provider to close the media room; record success. Returns whether it is closed."""
    try:
        providers.get(room.provider).close_room(room=room.as_provider_ref())
    except ProviderError as exc:
        logger.warning("provider close failed room=%s error=%s; the sweep will retry", room.pk, exc)
        return False
    now = timezone.now()
    Room.objects.filter(pk=room.pk, provider_closed_at__isnull=True).update(provider_closed_at=now)
    room.provider_closed_at = now
    return True


def room_reclose_at_provider(*, room: Room) -> None:
    """Someone connected to a closed room (a token minted before the close; the provider may have
    recreated the room for them): close it at the provider again after this transaction commits,
    and through the window sweep until that succeeds."""
    Room.objects.filter(pk=room.pk).update(provider_closed_at=None)
    room.provider_closed_at = None
    logger.info("participant connected to a closed room; closing it again room=%s", room.pk)
    from rooms.tasks import close_room_at_provider

    transaction.on_commit(lambda: close_room_at_provider.apply_async((str(room.pk),)), robust=True)


def room_mark_open(*, room: Room) -> None:
    """A scheduled room whose window is reached becomes open (a join proves it)."""
    if room.status == RoomStatus.SCHEDULED:
        opened = Room.objects.filter(pk=room.pk, status=RoomStatus.SCHEDULED).update(status=RoomStatus.OPEN)
        room.status = RoomStatus.OPEN
        if opened:
            emit.room_opened(room)


def rooms_sweep_windows(*, now: datetime | None = None, retry_for: timedelta = timedelta(days=1)) -> dict[str, int]:
    """Periodic: open scheduled rooms whose window started, close rooms whose window (plus
    grace) ended, and retry provider closes that failed. Safe to run concurrently and twice."""
    now = now or timezone.now()
    early = timedelta(minutes=settings.CONVENE_JOIN_EARLY_MINUTES)
    grace = timedelta(minutes=settings.CONVENE_ROOM_CLOSE_GRACE_MINUTES)
    with transaction.atomic():  # each room opened is reported (room.opened) in the same transaction
        due = Room.objects.select_for_update(skip_locked=True).filter(
            status=RoomStatus.SCHEDULED, opens_at__lte=now + early
        )
        opening = list(due)
        opened = Room.objects.filter(pk__in=[r.pk for r in opening]).update(status=RoomStatus.OPEN, updated_at=now)
        for room in opening:
            room.status = RoomStatus.OPEN
            emit.room_opened(room)
    closed = 0
    for room in Room.objects.filter(closes_at__lt=now - grace).exclude(status=RoomStatus.CLOSED).iterator():
        room_close(room=room, reason=CloseReason.WINDOW_ENDED)
        closed += 1
    retried = 0
    pending = Room.objects.filter(
        status=RoomStatus.CLOSED, provider_closed_at__isnull=True, closed_at__gte=now - retry_for
    )
    for room in pending.iterator():
        retried += room_close_at_provider(room=room)
    return {"opened": opened, "closed": closed, "provider_closes_retried": retried}
