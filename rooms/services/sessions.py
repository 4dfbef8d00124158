"""Call sessions, participant sessions and tracks, built from provider events and repaired by the
reconciler.

Every function runs inside the caller's transaction with the room row locked, so the events of
one room apply one at a time. Each is idempotent and order-tolerant: the final record is a
function of the set of events seen (min of start evidence, max of last-seen, an explicit
`participant.left` always beating an inferred end), not of their order.

A connection is tied to the join link its identity joined with through `link_for`, a lookup the
caller passes in (access.selectors.invitation_joined_with): links belong to access, which builds
on rooms. It is asked only while a connection has no link yet, as part of the same write.

CallSession, ParticipantSession and TrackPublication rows are written here (and through
rooms/services/upserts.py) only with core.orm_bypass (Table) and QuerySet.update(): no save() and
no save signals run for them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.conf import settings

from core.orm_bypass import table
from outbound import emit
from providers.base import EventParticipant, LiveParticipant, NeutralEvent, ParticipantKind
from rooms.models import (
    CallSession,
    LeftSource,
    ParticipantSession,
    Room,
    RoomStatus,
    SessionEndSource,
    TrackPublication,
)
from rooms.services.upserts import lock_or_create, upsert

logger = logging.getLogger(__name__)

LinkLookup = Callable[..., Any]  # (*, room, identity) -> the join link (tokens.Invitation) or None


def room_lock_by_provider_name(*, provider: str, room_name: str) -> Room | None:
    if not room_name:
        return None
    return table(Room).get(lock=True, provider=provider, provider_room_name=room_name)


def room_refresh_live_status(*, room: Room, session: CallSession | None = None) -> None:
    """live while any call session is open; back to open when none is. Closed stays closed.
    `session`: one of the room's sessions, just written; when it is open, the room is live."""
    if room.status == RoomStatus.CLOSED:
        return
    live = (session is not None and session.ended_at is None) or (
        CallSession.objects.filter(room=room, ended_at__isnull=True).exists()
    )
    if live:
        status = RoomStatus.LIVE
    elif room.status == RoomStatus.LIVE:
        status = RoomStatus.OPEN
    else:
        return
    if status != room.status:
        Room.objects.filter(pk=room.pk).exclude(status=RoomStatus.CLOSED).update(status=status)
        room.status = status
        if status == RoomStatus.LIVE:
            emit.room_live(room)


def _session(*, room: Room, session_id: str, started_hint: datetime, seen_at: datetime) -> CallSession:
    return _session_lock_or_create(room=room, session_id=session_id, started_hint=started_hint, seen_at=seen_at)[0]


def _session_lock_or_create(
    *, room: Room, session_id: str, started_hint: datetime, seen_at: datetime
) -> tuple[CallSession, bool]:
    """The room's call session for a provider session id, locked, and whether this call created
    it; an existing one takes in the new evidence (earliest start, latest sighting)."""
    session, created = lock_or_create(
        CallSession,
        {"room": room, "provider_session_id": session_id},
        {"started_at": started_hint, "last_seen_at": max(started_hint, seen_at)},
    )
    if created:
        return session, True
    changed = []
    if started_hint < session.started_at:
        session.started_at = started_hint
        changed.append("started_at")
    if session.end_source == SessionEndSource.EVENT:
        seen_at = min(seen_at, session.ended_at)  # nothing is seen after a reported end
    if seen_at > session.last_seen_at:
        session.last_seen_at = seen_at
        changed.append("last_seen_at")
    if (
        session.end_source == SessionEndSource.RECONCILER
        and session.ended_at is not None
        and seen_at > session.ended_at
    ):
        # An inferred end never stays before evidence that arrived later (a delayed event); the
        # participants it closed move with it.
        ParticipantSession.objects.filter(
            call_session=session, left_source=LeftSource.SESSION_ENDED, left_at=session.ended_at
        ).update(left_at=seen_at)
        session.ended_at = seen_at
        changed.append("ended_at")
    if changed:
        table(CallSession).update(session, [*changed, "updated_at"])
    return session, False


def _event_session(room: Room, event: NeutralEvent) -> CallSession | None:
    if not event.room_sid:
        return None
    joined = event.participant.joined_at if event.participant else None
    hint = event.room_started_at or joined or event.occurred_at
    return _session(room=room, session_id=event.room_sid, started_hint=hint, seen_at=event.occurred_at)


def _participant(
    room: Room,
    session: CallSession,
    info: EventParticipant,
    seen_at: datetime | None,
    apply: Callable[[ParticipantSession], None] | None = None,
    *,
    link_for: LinkLookup,
    likely_new: bool = False,
) -> ParticipantSession:
    """Write one participant connection: what every event says of it, then `apply`, the
    event's own change."""

    def fill(participant: ParticipantSession, fresh: bool) -> None:
        _fill_participant(participant, room, session, info, seen_at, fresh=fresh, link_for=link_for)
        if apply is not None:
            apply(participant)

    return upsert(
        ParticipantSession,
        {"call_session": session, "provider_participant_id": info.sid},
        {"identity": info.identity, "last_seen_at": seen_at},
        fill,
        likely_new=likely_new,
    )


def _fill_participant(
    participant: ParticipantSession,
    room: Room,
    session: CallSession,
    info: EventParticipant,
    seen_at: datetime | None,
    *,
    fresh: bool,
    link_for: LinkLookup,
) -> None:
    if not participant.identity and info.identity:  # first seen by an event that did not name it
        participant.identity = info.identity
    if not participant.display_name and info.display_name:
        participant.display_name = info.display_name
    if info.kind and (fresh or participant.kind == ParticipantKind.STANDARD):
        participant.kind = info.kind
    if participant.joined_at is None and info.joined_at is not None:
        participant.joined_at = info.joined_at
    if participant.invitation_id is None:
        participant.invitation = link_for(room=room, identity=info.identity or participant.identity)
    if not participant.role:
        # The attribute is only a claim (a participant allowed to update its own attributes can
        # write anything into it): only one of Convene's roles is taken.
        claimed = info.attributes.get("convene.role", "")
        participant.role = (claimed if claimed in settings.CONVENE_ROLES else "") or (
            participant.invitation.role if participant.invitation else ""
        )
    if seen_at is not None and (participant.last_seen_at is None or seen_at > participant.last_seen_at):
        participant.last_seen_at = seen_at
    if session.ended_at is not None and participant.left_at is None:
        participant.left_at, participant.left_source = session.ended_at, LeftSource.SESSION_ENDED


def session_room_started(*, room: Room, event: NeutralEvent) -> None:
    session = _event_session(room, event)
    if session is not None:
        room_refresh_live_status(room=room, session=session)


def session_room_finished(*, room: Room, event: NeutralEvent) -> None:
    session = _event_session(room, event)
    if session is None:
        return
    _end_session(session, ended_at=event.occurred_at, source=SessionEndSource.EVENT)
    room_refresh_live_status(room=room)


def _end_session(session: CallSession, *, ended_at: datetime, source: SessionEndSource) -> None:
    """End a session and everyone still in it. A reported end overrides every inferred
    participant end (but never an explicit participant.left); an inferred one only fills gaps."""
    if session.end_source == SessionEndSource.EVENT and source != SessionEndSource.EVENT:
        return
    session.ended_at, session.end_source = ended_at, source
    table(CallSession).update(session, ["ended_at", "end_source", "updated_at"])
    still_in = ParticipantSession.objects.filter(call_session=session)
    if source == SessionEndSource.EVENT:
        still_in = still_in.exclude(left_source=LeftSource.EVENT)
    else:
        still_in = still_in.filter(left_at__isnull=True)
    still_in.update(left_at=ended_at, left_source=LeftSource.SESSION_ENDED)


def participant_joined(*, room: Room, event: NeutralEvent, link_for: LinkLookup) -> ParticipantSession | None:
    """Record a connection; one to a closed room is closed again at the provider (see
    _reclose_if_closed). The caller removes a barred identity again (access's
    participant_removal_renew_on_join)."""
    session = _event_session(room, event)
    if session is None or event.participant is None:
        return

    def joined(participant: ParticipantSession) -> None:
        if participant.joined_at is None:
            participant.joined_at = event.occurred_at

    # A join usually introduces the connection: INSERT first, read and merge only on conflict.
    participant = _participant(
        room, session, event.participant, event.occurred_at, joined, link_for=link_for, likely_new=True
    )
    room_refresh_live_status(room=room, session=session)
    emit.participant_joined(room, participant)
    _reclose_if_closed(room, participant)
    return participant


def _reclose_if_closed(room: Room, participant: ParticipantSession) -> None:
    """Someone who connects to a closed room anyway, with a token minted before the room closed,
    is removed again after this transaction commits: the room is closed at the provider again
    (the provider may have recreated it for them)."""
    if participant.left_at is not None:
        return
    if room.status == RoomStatus.CLOSED:
        from rooms.services.rooms import room_reclose_at_provider

        room_reclose_at_provider(room=room)


def participant_left(*, room: Room, event: NeutralEvent, link_for: LinkLookup, aborted: bool = False) -> None:
    session = _event_session(room, event)
    if session is None or event.participant is None:
        return
    reason = event.participant.disconnect_reason

    def left(participant: ParticipantSession) -> None:
        participant.left_at, participant.left_source = event.occurred_at, LeftSource.EVENT
        participant.disconnect_reason = reason or participant.disconnect_reason
        if aborted:
            participant.connection_aborted = True

    participant = _participant(room, session, event.participant, event.occurred_at, left, link_for=link_for)
    room_refresh_live_status(room=room, session=session)
    emit.participant_left(room, participant)


def participant_connection_aborted(*, room: Room, event: NeutralEvent, link_for: LinkLookup) -> None:
    """The participant never finished connecting: a connection that never joined."""
    participant_left(room=room, event=event, link_for=link_for, aborted=True)


def track_published(*, room: Room, event: NeutralEvent, link_for: LinkLookup) -> None:
    _track(room, event, published=True, link_for=link_for)


def track_unpublished(*, room: Room, event: NeutralEvent, link_for: LinkLookup) -> None:
    _track(room, event, published=False, link_for=link_for)


def _track(room: Room, event: NeutralEvent, *, published: bool, link_for: LinkLookup) -> None:
    session = _event_session(room, event)
    if session is None or event.participant is None or event.track is None:
        return
    participant = _participant(room, session, event.participant, event.occurred_at, link_for=link_for)
    info, at = event.track, event.occurred_at

    def fill(track: TrackPublication, fresh: bool) -> None:
        if published and (track.published_at is None or at < track.published_at):
            track.published_at = at
        if not published and (track.unpublished_at is None or at > track.unpublished_at):
            track.unpublished_at = at
        track.kind, track.source = track.kind or info.kind, track.source or info.source

    upsert(
        TrackPublication,
        {"participant_session": participant, "provider_track_id": info.sid},
        {"kind": info.kind, "source": info.source},
        fill,
        likely_new=published,
    )


def session_reconcile(
    *,
    room: Room,
    live_session_id: str | None,
    started_at: datetime | None,
    participants: list[LiveParticipant],
    now: datetime,
    link_for: LinkLookup,
) -> dict[str, int]:
    """Make our records of one room agree with what the provider reports live right now.

    Sessions and participants we think are open but the provider does not have are closed at
    their last-seen time (the latest moment we know they were there); live ones we never heard
    of are opened. Running it twice changes nothing.
    """
    counts = {"sessions_opened": 0, "sessions_closed": 0, "participants_opened": 0, "participants_closed": 0}
    live = None
    if live_session_id:
        live, created = _session_lock_or_create(
            room=room, session_id=live_session_id, started_hint=started_at or now, seen_at=now
        )
        counts["sessions_opened"] += created
        if live.end_source == SessionEndSource.EVENT:
            live = None  # a reported end is final: the listing is older than the room_finished
        elif live.ended_at is not None and live.end_source == SessionEndSource.RECONCILER:
            live.ended_at, live.end_source = None, ""
            table(CallSession).update(live, ["ended_at", "end_source", "updated_at"])
            counts["sessions_opened"] += 1
    stale = CallSession.objects.select_for_update().filter(room=room, ended_at__isnull=True)
    for session in stale.exclude(pk=live.pk if live else None):
        _end_session(session, ended_at=session.last_seen_at, source=SessionEndSource.RECONCILER)
        counts["sessions_closed"] += 1
    if live is not None:
        counts.update(_reconcile_participants(live, participants, now, link_for=link_for))
    room_refresh_live_status(room=room)
    return counts


_ALL_FIELDS_BUT_KEY = [f.name for f in ParticipantSession._meta.concrete_fields if not f.primary_key]


def _reconcile_participants(
    session: CallSession, participants: list[LiveParticipant], now: datetime, *, link_for: LinkLookup
) -> dict[str, int]:
    opened = closed = 0
    live_ids = {p.sid for p in participants}
    for info in participants:
        participant, created = lock_or_create(
            ParticipantSession,
            {"call_session": session, "provider_participant_id": info.sid},
            {"identity": info.identity, "last_seen_at": now},
        )
        event_view = EventParticipant(
            sid=info.sid,
            identity=info.identity,
            display_name=info.display_name,
            kind=info.kind,
            joined_at=info.joined_at,
        )
        _fill_participant(participant, session.room, session, event_view, now, fresh=created, link_for=link_for)
        if participant.joined_at is None:
            participant.joined_at = info.joined_at or now
        reopened = participant.left_at is not None and participant.left_source != LeftSource.EVENT
        if reopened:  # closed by an inferred end, but the provider says it is still connected
            participant.left_at, participant.left_source = None, ""
        table(ParticipantSession).update(participant, _ALL_FIELDS_BUT_KEY)
        opened += created or reopened
    gone = ParticipantSession.objects.select_for_update().filter(call_session=session, left_at__isnull=True)
    for participant in gone.exclude(provider_participant_id__in=live_ids):
        participant.left_at = participant.last_seen_at or participant.joined_at or session.last_seen_at
        participant.left_source = LeftSource.RECONCILER
        table(ParticipantSession).update(participant, ["left_at", "left_source", "updated_at"])
        closed += 1
    return {"participants_opened": opened, "participants_closed": closed}
