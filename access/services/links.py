"""Join links and join credentials: create, revoke and redeem links; issue tokens for app users;
create a room with its links.

Credentials are minted at join time by the room's provider and returned to the caller only:
never stored, never logged. Each issue writes an audit row (without the token).
"""

from __future__ import annotations

import functools
import logging
import string
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

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
from core.audit import SYSTEM, AuditContext
from core.errors import Conflict, ConveneError, Gone, ServiceUnavailable
from core.models import ActorType, Application, AuditEvent
from core.orm_bypass import Uses, columns_of, hand_written, prepared_cursor
from core.services import audit_event, audit_record_on, audit_write
from providers.base import JoinCredentials, ParticipantSpec, ProviderError
from rooms.models import Room, RoomStatus
from rooms.selectors import room_assert_joinable
from rooms.services import room_create, room_mark_open

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
    audit: AuditContext = SYSTEM,
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
                participant_assert_admitted(room=room, identity=identity, readmit=readmit, audit=audit, invitation=True)
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
            audit_record_on(
                invitation, action="invitation.create", audit=audit, details={"room": str(room.pk), "role": role}
            )
    except IntegrityError:
        raise Conflict(
            "Another active link in this room has that identity.", code="identity_taken", details={"identity": identity}
        ) from None
    return invitation, secret


def invitation_revoke(*, invitation: Invitation, audit: AuditContext = SYSTEM) -> bool:
    """Revoke a link (idempotent), bar its identity from the room and disconnect it. Returns
    whether the provider confirmed the participant is not connected (False when the provider
    could not be reached; the removal is then retried in the background)."""
    now = timezone.now()
    with transaction.atomic():
        changed = Invitation.objects.filter(pk=invitation.pk, revoked_at__isnull=True).update(revoked_at=now)
        if changed:
            audit_record_on(invitation, action="invitation.revoke", audit=audit)
            removal = participant_bar(
                room=invitation.room, identity=invitation.identity, reason=RemovalReason.LINK_REVOKED, audit=audit
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


@dataclass(frozen=True)
class LinkRule:
    """One reason a link takes no use now, stated once for Python (`refuses`) and for the counting
    UPDATE (`allows_sql`: the SQL condition under which the rule lets a use through, naming fields
    in braces; a `%s` in it is bound to the same `now`)."""

    refusal: str
    refuses: Callable[[Invitation, datetime], bool]
    allows_sql: str

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(name for _, name, _, _ in string.Formatter().parse(self.allows_sql) if name))


# In the order the refusal is named when several apply.
LINK_RULES = (
    LinkRule("revoked", lambda link, now: link.revoked_at is not None, "{revoked_at} IS NULL"),
    LinkRule(
        "expired",
        lambda link, now: link.expires_at is not None and now >= link.expires_at,
        "({expires_at} IS NULL OR {expires_at} > %s)",
    ),
    LinkRule(
        "exhausted",
        lambda link, now: link.max_uses is not None and link.uses >= link.max_uses,
        "({max_uses} IS NULL OR {uses} < {max_uses})",
    ),
)


def link_refusal(invitation: Invitation, now: datetime) -> str | None:
    """Why this link takes no use now (a LinkRule's `refusal`), or None when it does."""
    return next((rule.refusal for rule in LINK_RULES if rule.refuses(invitation, now)), None)


def _refusal_for(invitation: Invitation, now: datetime) -> ConveneError:
    refusal = link_refusal(invitation, now)
    if refusal == "revoked":
        removal = ParticipantRemoval.objects.filter(
            room_id=invitation.room_id, identity=invitation.identity, lifted_at=None, reason=RemovalReason.REMOVED
        ).first()
        return participant_refusal(removal) if removal else Gone("This link has been revoked.", code="link_revoked")
    if refusal == "expired":
        return Gone(
            "This link has expired.", code="too_late", details={"expires_at": invitation.expires_at.isoformat()}
        )
    return Gone("This link has been used the maximum number of times.", code="link_exhausted")


def invitation_assert_usable(*, invitation: Invitation, now: datetime) -> None:
    """Raise what a redemption of this link would be refused with right now (the join page shows
    it before anyone presses Join); a link with no use left counts as refused here."""
    if link_refusal(invitation, now) is not None:
        raise _refusal_for(invitation, now)
    room_assert_joinable(room=invitation.room, now=now)
    lobby_assert_not_denied(invitation=invitation)


def invitation_redeem(*, secret: str, audit: AuditContext = SYSTEM) -> IssuedCredentials:
    """Exchange a link secret for join credentials, if the link and its room allow it now."""
    invitation = invitation_by_secret(secret=secret)
    room, now = invitation.room, timezone.now()
    if link_refusal(invitation, now) is not None:
        raise _refusal_for(invitation, now)
    room_assert_joinable(room=room, now=now)
    lobby_assert_admitted(invitation=invitation, now=now)
    issued, event = _mint(
        room=room,
        identity=invitation.identity,
        display_name=invitation.display_name,
        role=invitation.role,
        metadata=invitation.metadata,
        audit=audit,
        actor=(ActorType.LINK, str(invitation.pk)),
        attributes={"convene.invitation": str(invitation.pk)},
    )
    if not _write_issue_records(event=event, room=room, redeemed=invitation, now=now):
        invitation.refresh_from_db()
        raise _refusal_for(invitation, now)
    return issued


_COUNT_USE = hand_written(
    "access.invitation_count_use",
    Uses(Invitation, tuple(dict.fromkeys(("id", "uses", "last_used_at", *(f for r in LINK_RULES for f in r.fields))))),
)


@functools.cache
def _count_use_sql(alias: str) -> str:
    connection = connections[alias]
    c = columns_of(Invitation, _COUNT_USE.uses[0].fields, connection)
    allowed = " AND ".join(rule.allows_sql.format(**c) for rule in LINK_RULES)
    return (
        f"UPDATE {connection.ops.quote_name(Invitation._meta.db_table)} "  # noqa: S608 (names from the model, values bound)
        f"SET {c['uses']} = {c['uses']} + 1, {c['last_used_at']} = %s "
        f"WHERE {c['id']} = %s AND {allowed} RETURNING {c['id']}"
    )


_NOW_BINDS = sum(rule.allows_sql.count("%s") for rule in LINK_RULES)


def _count_use_statement(*, invitation: Invitation, now: datetime, connection) -> tuple[str, list]:
    """Count one use of a link that LINK_RULES let through: a conditional UPDATE (the row lock
    makes concurrent redemptions queue), so max_uses is never exceeded. The statement
    Invitation.objects.filter(...).update(...) would send, hand-written (core.orm_bypass)."""
    meta = Invitation._meta
    at = meta.get_field("last_used_at").get_db_prep_save(now, connection)
    return _count_use_sql(connection.alias), [
        at,
        meta.pk.get_db_prep_save(invitation.pk, connection),
        *[at] * _NOW_BINDS,
    ]


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
    audit: AuditContext = SYSTEM,
) -> IssuedCredentials:
    """Credentials for an application's signed-in user (the start-a-call button). None for a
    barred identity (removed, or its link revoked) unless `readmit` lifts the bar."""
    role_grants(role)
    room_assert_joinable(room=room, now=timezone.now())
    participant_assert_admitted(room=room, identity=identity, readmit=readmit, audit=audit, invitation=False)
    issued, event = _mint(
        room=room,
        identity=identity,
        display_name=display_name,
        role=role,
        metadata=metadata,
        audit=audit,
        actor=None,
        attributes={},
    )
    _write_issue_records(event=event, room=room)
    return issued


def _mint(
    *,
    room: Room,
    identity: str,
    display_name: str,
    role: str,
    metadata: str,
    audit: AuditContext,
    actor,
    attributes: dict[str, str],
) -> tuple[IssuedCredentials, AuditEvent]:
    """Credentials and their audit row, neither of which has left or been written: the
    credentials may be returned only once _write_issue_records() has written the row."""
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
        audit=audit,
        actor=actor,
        details={"identity": identity, "role": role},
    )
    issued = IssuedCredentials(
        credentials=credentials, room=room, identity=identity, display_name=display_name, role=role
    )
    return issued, event


def _write_issue_records(
    *, event: AuditEvent, room: Room, redeemed: Invitation | None = None, now: datetime | None = None
) -> bool:
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
        if redeemed is None:
            return audit_write(event)
        if connection.vendor == "postgresql":
            return audit_write(event, only_if=_count_use_statement(invitation=redeemed, now=now, connection=connection))
    with transaction.atomic(using=connection.alias):
        if redeemed is not None and not _count_use(invitation=redeemed, now=now, connection=connection):
            return False
        audit_write(event)
        room_mark_open(room=room)
    return True


def room_create_with_links(
    *,
    application: Application,
    participants: list[dict[str, Any]] | None = None,
    audit: AuditContext = SYSTEM,
    **fields: Any,
) -> tuple[Room, bool, list[tuple[Invitation, str]]]:
    """Create a room with a join link per participant (POST /api/v1/rooms), or return the existing
    room for the same external_id. Returns (room, created, [(invitation, secret), ...]); links are
    made only on first create, in the room's transaction."""
    return room_create(
        application=application,
        attach=lambda room: [invitation_create(room=room, audit=audit, **p) for p in participants or []],
        audit=audit,
        **fields,
    )
