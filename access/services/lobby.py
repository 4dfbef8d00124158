"""The waiting room: guests of a room with `waiting_room` knock (a lobby entry), hosts admit or
deny them (from the API with the application's key, or from a host's join page with the host's
link), and every decision is audited. Redemption asks lobby_assert_admitted before it mints.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from access.models import Invitation, LobbyEntry, LobbyStatus
from core.audit import SYSTEM, AuditContext
from core.errors import Conflict, ConveneError, Forbidden, NotFound
from core.models import ActorType
from core.services import audit_record_on
from rooms.models import Room


class LobbyWaiting(ConveneError):
    """Not an error for the guest: the join answers 202 with the entry, and the page waits."""

    status_code = 202
    code = "waiting_for_host"
    message = "The host has not let you in yet."

    def __init__(self, entry: LobbyEntry):
        super().__init__(details={"lobby_entry_id": str(entry.pk)})
        self.entry = entry


def lobby_is_host(invitation: Invitation) -> bool:
    """A link whose role may admit guests, and so never waits itself."""
    return invitation.role in settings.CONVENE_LOBBY_HOST_ROLES


def _latest_entry(invitation: Invitation) -> LobbyEntry | None:
    return LobbyEntry.objects.filter(invitation=invitation).order_by("-created_at").first()


def lobby_assert_not_denied(*, invitation: Invitation) -> None:
    if invitation.room.waiting_room and not lobby_is_host(invitation):
        entry = _latest_entry(invitation)
        if entry is not None and entry.status == LobbyStatus.DENIED:
            raise Forbidden("The host did not let you in.", code="lobby_denied")


def lobby_assert_admitted(*, invitation: Invitation, now: datetime) -> None:
    """Let a link into a room with a waiting room only once admitted: else raise LobbyWaiting
    (entering the lobby, or still in it) or Forbidden lobby_denied."""
    room = invitation.room
    if not room.waiting_room or lobby_is_host(invitation):
        return
    lobby_expire_stale(room=room, now=now)
    lobby_assert_not_denied(invitation=invitation)
    entry = _latest_entry(invitation)
    if entry is not None and entry.status == LobbyStatus.ADMITTED:
        return
    if entry is not None and entry.status == LobbyStatus.WAITING:
        LobbyEntry.objects.filter(pk=entry.pk).update(last_seen_at=now, updated_at=now)
        raise LobbyWaiting(entry)
    raise LobbyWaiting(_lobby_enter(invitation=invitation, now=now))


def _lobby_enter(*, invitation: Invitation, now: datetime) -> LobbyEntry:
    try:
        with transaction.atomic():
            return LobbyEntry.objects.create(
                room=invitation.room,
                invitation=invitation,
                identity=invitation.identity,
                display_name=invitation.display_name,
                last_seen_at=now,
            )
    except IntegrityError:  # a concurrent knock of the same link made the waiting entry first
        return LobbyEntry.objects.get(invitation=invitation, status=LobbyStatus.WAITING)


def lobby_expire_stale(*, room: Room, now: datetime) -> int:
    """Waiting entries nobody decided in time, or whose page stopped listening, expire."""
    waited = now - timedelta(seconds=settings.CONVENE_LOBBY_WAIT_SECONDS)
    absent = now - timedelta(seconds=settings.CONVENE_LOBBY_PRESENCE_SECONDS)
    return LobbyEntry.objects.filter(
        Q(created_at__lt=waited) | Q(last_seen_at__lt=absent), room=room, status=LobbyStatus.WAITING
    ).update(status=LobbyStatus.EXPIRED, decided_at=now, decided_by="expiry", updated_at=now)


def lobby_entry_decide(
    *, room: Room, entry_id, decision: str, audit: AuditContext = SYSTEM, host: Invitation | None = None
) -> LobbyEntry:
    """Admit or deny a waiting guest (idempotent for the same decision); audited. `host`: the
    link of the host deciding from their join page; without it, the application (its API key)."""
    if host is not None and (host.room_id != room.pk or not lobby_is_host(host)):
        raise Forbidden("Only a host of this room can let guests in.", code="not_a_host")
    now = timezone.now()
    lobby_expire_stale(room=room, now=now)
    actor = (ActorType.LINK, str(host.pk)) if host is not None else None
    decided_by = f"link:{host.pk}" if host is not None else f"application:{room.application_id}"
    with transaction.atomic():
        changed = LobbyEntry.objects.filter(pk=entry_id, room=room, status=LobbyStatus.WAITING).update(
            status=decision, decided_at=now, decided_by=decided_by, updated_at=now
        )
        entry = room.lobby_entries.filter(pk=entry_id).first()
        if entry is None:
            raise NotFound("No such lobby entry in this room.")
        if not changed and entry.status != decision:
            raise Conflict(
                f"This guest is no longer waiting ({entry.status}).",
                code="lobby_entry_decided",
                details={"status": entry.status},
            )
        if changed:
            audit_record_on(
                entry,
                action=f"lobby.{'admit' if decision == LobbyStatus.ADMITTED else 'deny'}",
                audit=audit,
                actor=actor,
                details={"room": str(room.pk), "identity": entry.identity},
            )
    return entry


def lobby_touch(*, invitation: Invitation, now: datetime) -> LobbyEntry | None:
    """The link's latest entry; a waiting one is marked present (at most every few seconds)."""
    LobbyEntry.objects.filter(
        invitation=invitation, status=LobbyStatus.WAITING, last_seen_at__lt=now - timedelta(seconds=5)
    ).update(last_seen_at=now, updated_at=now)
    return _latest_entry(invitation)


def lobby_list(*, room: Room) -> list[LobbyEntry]:
    """Who is waiting now, first come first."""
    lobby_expire_stale(room=room, now=timezone.now())
    return list(LobbyEntry.objects.filter(room=room, status=LobbyStatus.WAITING).order_by("created_at"))
