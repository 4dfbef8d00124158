"""Join links and join credentials: create, revoke and redeem links; issue tokens for app users.

Credentials are minted at join time by the room's provider and returned to the caller only:
never stored, never logged. Each issue writes an audit row (without the token).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connections, router, transaction
from django.utils import timezone

import providers
from access.models import (
    Invitation,
    ParticipantRemoval,
    RemovalReason,
    generate_identity,
    generate_link_secret,
    hash_link_secret,
)
from access.roles import role_grants
from access.selectors import invitation_by_secret
from access.services.lobby import lobby_assert_admitted, lobby_assert_not_denied
from access.services.removals import (
    participant_assert_admitted,
    participant_bar,
    participant_refusal,
    participant_removal_attempt,
)
from core.errors import Conflict, ConveneError, Gone, ServiceUnavailable
from core.models import AuditEvent
from core.orm_bypass import prepared_cursor
from core.services import audit_event, audit_record, audit_write
from providers.base import JoinCredentials, ParticipantSpec, ProviderError
from rooms.models import Room, RoomStatus
from rooms.selectors import room_assert_joinable
from rooms.services import room_mark_open

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class IssuedCredentials:
    credentials: JoinCredentials
    room: Room
    identity: str
    display_name: str
    role: str


def invitation_url(secret: str) -> str:
    return settings.CONVENE_JOIN_URL_TEMPLATE.format(public_url=settings.CONVENE_PUBLIC_URL, secret=secret)


def invitation_create(
    *,
    room: Room,
    role: str,
    display_name: str,
    identity: str | None = None,
    max_uses: int | None = None,
    expires_at: datetime | None = None,
    metadata: str = "",
    readmit: bool = False,
    request=None,
) -> tuple[Invitation, str]:
    """Create a join link; returns (invitation, secret). The secret is not kept. A link for a
    barred identity (removed, or its link revoked) is refused unless `readmit` lifts the bar."""
    role_grants(role)  # unknown role -> 400 before anything is written
    if room.is_closed:
        raise Gone("This room is closed.", code="room_closed")
    if expires_at is not None and expires_at <= timezone.now():
        raise ConveneError(
            "expires_at is in the past: the link could never be used.",
            code="expires_in_past",
            details={"expires_at": expires_at.isoformat()},
        )
    secret = generate_link_secret()
    try:
        with transaction.atomic():
            if identity:
                participant_assert_admitted(
                    room=room, identity=identity, readmit=readmit, request=request, invitation=True
                )
            invitation = Invitation.objects.create(
                room=room,
                role=role,
                display_name=display_name,
                identity=identity or generate_identity(),
                max_uses=max_uses,
                expires_at=expires_at,
                metadata=metadata,
                secret_hash=hash_link_secret(secret),
            )
            audit_record(
                action="invitation.create",
                object_type="invitation",
                object_id=invitation.pk,
                application=room.application,
                request=request,
                details={"room": str(room.pk), "role": role},
            )
    except IntegrityError:
        raise Conflict(
            "Another active link in this room has that identity.", code="identity_taken", details={"identity": identity}
        ) from None
    return invitation, secret


def invitation_revoke(*, invitation: Invitation, request=None) -> bool:
    """Revoke a link (idempotent), bar its identity from the room and disconnect it. Returns
    whether the provider confirmed the participant is not connected (False when the provider
    could not be reached; the removal is then retried in the background)."""
    now = timezone.now()
    with transaction.atomic():
        changed = Invitation.objects.filter(pk=invitation.pk, revoked_at__isnull=True).update(revoked_at=now)
        if changed:
            audit_record(
                action="invitation.revoke",
                object_type="invitation",
                object_id=invitation.pk,
                application=invitation.room.application,
                request=request,
            )
            removal = participant_bar(
                room=invitation.room, identity=invitation.identity, reason=RemovalReason.LINK_REVOKED, request=request
            )
        else:  # revoked before: its bar stands, unless a readmit has lifted it since
            removal = ParticipantRemoval.objects.filter(
                room=invitation.room, identity=invitation.identity, lifted_at=None
            ).first()
    invitation.refresh_from_db(fields=["revoked_at"])
    if removal is None:
        return True
    removal.room = invitation.room
    return participant_removal_attempt(removal=removal)


def _refusal_for(invitation: Invitation, now: datetime) -> ConveneError:
    if invitation.revoked_at is not None:
        removal = ParticipantRemoval.objects.filter(
            room_id=invitation.room_id, identity=invitation.identity, lifted_at=None, reason=RemovalReason.REMOVED
        ).first()
        return participant_refusal(removal) if removal else Gone("This link has been revoked.", code="link_revoked")
    if invitation.expires_at is not None and now >= invitation.expires_at:
        return Gone(
            "This link has expired.", code="too_late", details={"expires_at": invitation.expires_at.isoformat()}
        )
    return Gone("This link has been used the maximum number of times.", code="link_exhausted")


def invitation_assert_usable(*, invitation: Invitation, now: datetime) -> None:
    """Raise what a redemption of this link would be refused with right now (the join page shows
    it before anyone presses Join); a link with no use left counts as refused here."""
    exhausted = invitation.max_uses is not None and invitation.uses >= invitation.max_uses
    expired = invitation.expires_at is not None and now >= invitation.expires_at
    if exhausted or expired or invitation.revoked_at is not None:
        raise _refusal_for(invitation, now)
    room_assert_joinable(room=invitation.room, now=now)
    lobby_assert_not_denied(invitation=invitation)


def invitation_redeem(*, secret: str, request=None) -> IssuedCredentials:
    """Exchange a link secret for join credentials, if the link and its room allow it now."""
    invitation = invitation_by_secret(secret=secret)
    room, now = invitation.room, timezone.now()
    if invitation.revoked_at is not None or (invitation.expires_at is not None and now >= invitation.expires_at):
        raise _refusal_for(invitation, now)
    room_assert_joinable(room=room, now=now)
    lobby_assert_admitted(invitation=invitation, now=now)
    issued, event = _mint(
        room=room,
        identity=invitation.identity,
        display_name=invitation.display_name,
        role=invitation.role,
        metadata=invitation.metadata,
        request=request,
        actor=("link", str(invitation.pk)),
        attributes={"convene.invitation": str(invitation.pk)},
    )
    if not _record(event=event, room=room, use_of=invitation, now=now):
        invitation.refresh_from_db()
        raise _refusal_for(invitation, now)
    return issued


_COUNT_USE = (
    f"UPDATE {Invitation._meta.db_table} SET uses = uses + 1, last_used_at = %s "  # noqa: S608 (values bound)
    "WHERE id = %s AND revoked_at IS NULL AND (max_uses IS NULL OR uses < max_uses) RETURNING id"
)


def _count_use_statement(*, invitation: Invitation, now: datetime, connection) -> tuple[str, list]:
    """Count one use of a live link that has uses left: a conditional UPDATE (the row lock makes
    concurrent redemptions queue), so max_uses is never exceeded. The same statement as
    Invitation.objects.filter(...).update(...), written by hand: the ORM's query building cost
    more CPU than the statement."""
    meta = Invitation._meta
    params = [
        meta.get_field("last_used_at").get_db_prep_save(now, connection),
        meta.pk.get_db_prep_save(invitation.pk, connection),
    ]
    return _COUNT_USE, params


def _count_use(*, invitation: Invitation, now: datetime, connection) -> bool:
    sql, params = _count_use_statement(invitation=invitation, now=now, connection=connection)
    with transaction.mark_for_rollback_on_error(using=connection.alias), prepared_cursor(connection.alias) as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone() is not None


def token_issue(
    *,
    room: Room,
    identity: str,
    display_name: str,
    role: str,
    metadata: str = "",
    readmit: bool = False,
    request=None,
) -> IssuedCredentials:
    """Credentials for an application's signed-in user (the start-a-call button). S5: none for a
    barred identity (removed, or its link revoked) unless `readmit` lifts the bar."""
    role_grants(role)
    room_assert_joinable(room=room, now=timezone.now())
    participant_assert_admitted(room=room, identity=identity, readmit=readmit, request=request, invitation=False)
    issued, event = _mint(
        room=room,
        identity=identity,
        display_name=display_name,
        role=role,
        metadata=metadata,
        request=request,
        actor=None,
        attributes={},
    )
    _record(event=event, room=room)
    return issued


def _mint(
    *,
    room: Room,
    identity: str,
    display_name: str,
    role: str,
    metadata: str,
    request,
    actor,
    attributes: dict[str, str],
) -> tuple[IssuedCredentials, AuditEvent]:
    """Credentials and their audit row, neither of which has left or been written: the
    credentials may be returned only once _record() has written the row."""
    spec = ParticipantSpec(
        identity=identity,
        display_name=display_name,
        role=role,
        grants=role_grants(role),
        metadata=metadata,
        attributes={"convene.role": role, **attributes},
    )
    ttl = timedelta(seconds=settings.CONVENE_TOKEN_TTL_SECONDS)
    try:  # LiveKit's are minted locally; Janus is asked to admit the token to the room
        credentials = providers.get(room.provider).join_credentials(
            room=room.as_provider_ref(), participant=spec, ttl=ttl
        )
    except ProviderError as exc:
        logger.warning("join credentials failed room=%s error=%s", room.pk, exc)
        raise ServiceUnavailable(
            "The media server cannot admit anyone right now; try again shortly.", code="provider_unavailable"
        ) from None
    event = audit_event(
        action="token.issue",
        object_type="room",
        object_id=room.pk,
        application=room.application,
        request=request,
        actor=actor,
        details={"identity": identity, "role": role},
    )
    issued = IssuedCredentials(
        credentials=credentials, room=room, identity=identity, display_name=display_name, role=role
    )
    return issued, event


def _record(*, event: AuditEvent, room: Room, use_of: Invitation | None = None, now: datetime | None = None) -> bool:
    """Write what must be written before credentials leave, all or nothing: the link's counted use
    (a redemption), the audit row, and the opening of a scheduled room. False when the link has no
    use left (nothing is written then).

    Usually this is one statement, atomic by itself, so no BEGIN/COMMIT round trips: the audit
    INSERT alone, or on PostgreSQL the counting UPDATE and the INSERT in one statement (a
    data-modifying WITH; the row is inserted only when the use was counted). Otherwise (SQLite
    redemptions, scheduled rooms) they run in one transaction."""
    # One database: the link's row and the audit row are written through the same connection.
    connection = connections[router.db_for_write(AuditEvent)]
    if room.status != RoomStatus.SCHEDULED:
        if use_of is None:
            return audit_write(event)
        if connection.vendor == "postgresql":
            return audit_write(event, only_if=_count_use_statement(invitation=use_of, now=now, connection=connection))
    with transaction.atomic(using=connection.alias):
        if use_of is not None and not _count_use(invitation=use_of, now=now, connection=connection):
            return False
        audit_write(event)
        room_mark_open(room=room)
    return True
