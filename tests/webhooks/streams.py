"""Valid LiveKit webhook streams for property tests (events out of order, events missed).

A stream is a model of what happened in a few Convene rooms: one or two call sessions per room
(provider room sids, one after the other), and per session a few connections (participant sids)
with their tracks. From the model come:

- the events LiveKit would send, in server order, each with a fixed event id so that a re-post is
  a duplicate (`Stream.events`, `Event.body(rooms)`);
- the records Convene should end up with (`expected_records`);
- what the server reports live at any moment, or once the stream is over (`set_fake_to_truth`).

Records are read back with `records(rooms)` (the compared fields) and `full_snapshot(rooms)`
(every column but `updated_at`), keyed by room index and provider ids, not by database ids.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.db import transaction
from hypothesis import strategies as st
from livekit.protocol import models as lk

from rooms.models import CallSession, ParticipantSession, Room, RoomStatus, TrackPublication
from tests.webhooks.conftest import event_body, participant_info, process_pending, room_info
from webhooks.models import InboundEvent

# Whole hours, a day ago: before "now" (the reconciler's clock), stable within a run.
BASE = (int(time.time()) // 3600 - 24) * 3600

# Same-second tie-break that keeps causality: a room starts before anyone joins, a join comes
# before that connection's tracks, tracks before the leave, and the room finishes last.
PHASE = {
    "room_started": 0,
    "participant_joined": 1,
    "track_published": 2,
    "track_unpublished": 3,
    "participant_left": 4,
    "participant_connection_aborted": 4,
    "room_finished": 5,
}
TRACK_KINDS = [("AUDIO", "MICROPHONE"), ("VIDEO", "CAMERA"), ("VIDEO", "SCREEN_SHARE")]


def dt(seconds: int | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)


# -- the model -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Track:
    sid: str
    type: str
    source: str
    published_at: int
    unpublished_at: int | None


@dataclass(frozen=True)
class Connection:
    """One participant sid. `end`: left (CLIENT_INITIATED), reconnected (DUPLICATE_IDENTITY, a
    new sid of the same identity joins at about that time), stayed (still there at the end of
    the stream or at room_finished), aborted (only participant_connection_aborted is sent)."""

    sid: str
    identity: str
    name: str
    kind: str  # ParticipantInfo.Kind name: STANDARD, EGRESS, AGENT
    joined_at: int
    end: str
    left_at: int | None  # time of the left/aborted event; None when none is sent
    reason: str
    tracks: tuple[Track, ...] = ()


@dataclass(frozen=True)
class Session:
    room: int  # index into the test's rooms
    sid: str
    started_at: int
    finished_at: int | None  # room_finished time; None: still live when the stream ends
    connections: tuple[Connection, ...]


@dataclass(frozen=True)
class Event:
    event: str
    room: int
    session_sid: str
    creation_time: int
    at: int
    event_id: str
    participant: dict | None = field(default=None, compare=False)
    track: dict | None = field(default=None, compare=False)

    def body(self, rooms: Sequence[Room]) -> bytes:
        fields: dict[str, Any] = {
            "room": room_info(rooms[self.room], sid=self.session_sid, creation_time=self.creation_time)
        }
        if self.participant is not None:
            fields["participant"] = self.participant
        if self.track is not None:
            fields["track"] = self.track
        return event_body(self.event, at=self.at, event_id=self.event_id, **fields)

    def __repr__(self) -> str:
        who = ""
        if self.participant is not None:
            who = f" {self.participant['sid']}({self.participant['identity']})"
            if self.participant.get("kind"):
                who += f" kind={self.participant['kind']}"
            if self.participant.get("joinedAt"):
                who += f" joinedAt=+{int(self.participant['joinedAt']) - BASE}"
            if self.participant.get("disconnectReason"):
                who += f" {self.participant['disconnectReason']}"
        what = f" {self.track['sid']}" if self.track is not None else ""
        return f"<{self.event_id} {self.event}@+{self.at - BASE} room{self.room}/{self.session_sid}{who}{what}>"


@dataclass(frozen=True)
class Stream:
    room_count: int
    sessions: tuple[Session, ...]
    events: tuple[Event, ...]  # in the order the server sends them

    @property
    def all_finished(self) -> bool:
        return all(s.finished_at is not None for s in self.sessions)

    def live_sessions(self) -> list[Session]:
        return [s for s in self.sessions if s.finished_at is None]

    def __repr__(self) -> str:
        lines = "".join(f"\n    {i:2d} {e!r}" for i, e in enumerate(self.events))
        return f"Stream(rooms={self.room_count}, times as +seconds, events=[{lines}\n])"

    def _repr_pretty_(self, printer, cycle) -> None:  # how Hypothesis shows a failing example
        printer.text(repr(self))


# -- the strategy ----------------------------------------------------------------------------


def _tracks(draw, prefix: str, joined: int, left: int | None) -> tuple[Track, ...]:
    tracks = []
    for n in range(draw(st.sampled_from([0, 0, 1, 2]))):
        kind, source = draw(st.sampled_from(TRACK_KINDS))
        published = joined + draw(st.integers(0, 10))
        if left is not None:
            published = min(published, left)
        unpublished = None
        if draw(st.booleans()):
            unpublished = published + draw(st.integers(0, 20))
            if left is not None:
                unpublished = min(unpublished, left)
        tracks.append(Track(f"TR_{prefix}t{n}", kind, source, published, unpublished))
    return tuple(tracks)


def _person(draw, prefix: str, identity: str, kind: str, start: int, may_reconnect: bool) -> list[Connection]:
    connections = []
    joined = start + draw(st.integers(0, 20))
    count = draw(st.integers(1, 2)) if may_reconnect else 1
    for n in range(count):
        sid, name = f"PA_{prefix}c{n}", f"Name {identity}"
        if n < count - 1:
            rejoined = joined + draw(st.integers(1, 30))
            left = max(joined + 1, rejoined + draw(st.integers(-1, 1)))
            tracks = _tracks(draw, f"{prefix}c{n}", joined, left)
            connections.append(
                Connection(sid, identity, name, kind, joined, "reconnected", left, "DUPLICATE_IDENTITY", tracks)
            )
            joined = rejoined
        elif draw(st.booleans()):
            left = joined + draw(st.integers(1, 60))
            tracks = _tracks(draw, f"{prefix}c{n}", joined, left) if kind != "EGRESS" else ()
            connections.append(Connection(sid, identity, name, kind, joined, "left", left, "CLIENT_INITIATED", tracks))
        else:
            tracks = _tracks(draw, f"{prefix}c{n}", joined, None) if kind != "EGRESS" else ()
            connections.append(Connection(sid, identity, name, kind, joined, "stayed", None, "", tracks))
    return connections


def _session(draw, room: int, number: int, start: int, finished: bool) -> Session:
    sid = f"RM_r{room}s{number}"
    connections: list[Connection] = []
    for p in range(draw(st.integers(1, 3))):
        prefix = f"r{room}s{number}p{p}"
        role = draw(st.sampled_from(["person", "person", "egress", "agent", "aborted"]))
        if role == "person":
            connections += _person(draw, prefix, f"u{p}", "STANDARD", start, may_reconnect=True)
        elif role == "egress":
            connections += _person(draw, prefix, f"EG_{prefix}", "EGRESS", start, may_reconnect=False)
        elif role == "agent":
            connections += _person(draw, prefix, f"agent-{p}", "AGENT", start, may_reconnect=False)
        else:
            joined = start + draw(st.integers(0, 20))
            aborted = joined + draw(st.integers(0, 10))
            connections.append(
                Connection(
                    f"PA_{prefix}c0", f"u{p}", f"Name u{p}", "STANDARD", joined, "aborted", aborted, "JOIN_FAILURE"
                )
            )
    if not finished:
        return Session(room, sid, start, None, tuple(connections))
    horizon = max(
        [start]
        + [c.joined_at for c in connections]
        + [c.left_at for c in connections if c.left_at is not None]
        + [t.published_at for c in connections for t in c.tracks]
        + [t.unpublished_at for c in connections for t in c.tracks if t.unpublished_at is not None]
    )
    finished_at = horizon + draw(st.integers(1, 30))
    closed = []
    for c in connections:
        if c.end == "stayed":
            # Still there when the room is deleted: participant_left(ROOM_DELETED) at or just
            # before room_finished, or never.
            when = draw(st.sampled_from(["never", "at", "before"]))
            if when != "never":
                c = Connection(
                    c.sid,
                    c.identity,
                    c.name,
                    c.kind,
                    c.joined_at,
                    c.end,
                    finished_at - (when == "before"),
                    "ROOM_DELETED",
                    c.tracks,
                )
        closed.append(c)
    return Session(room, sid, start, finished_at, tuple(closed))


def _session_events(session: Session) -> list[tuple[int, str, dict | None, dict | None]]:
    """(at, event, participant, track) in causal order for one session."""
    out: list[tuple[int, int, str, dict | None, dict | None]] = [(session.started_at, "room_started", None, None)]
    for c in session.connections:
        full = participant_info(
            c.sid, c.identity, name=c.name, joined_at=c.joined_at, kind="" if c.kind == "STANDARD" else c.kind
        )
        brief = {"sid": c.sid, "identity": c.identity}  # track events carry only these
        if c.end == "aborted":
            out.append((c.left_at, "participant_connection_aborted", {**full, "disconnectReason": c.reason}, None))
            continue
        out.append((c.joined_at, "participant_joined", full, None))
        for t in c.tracks:
            info = {"sid": t.sid, "type": t.type, "source": t.source}
            out.append((t.published_at, "track_published", brief, info))
            if t.unpublished_at is not None:
                out.append((t.unpublished_at, "track_unpublished", brief, info))
        if c.left_at is not None:
            out.append((c.left_at, "participant_left", {**full, "disconnectReason": c.reason}, None))
    if session.finished_at is not None:
        out.append((session.finished_at, "room_finished", None, None))
    return out


@st.composite
def streams(draw, rooms: st.SearchStrategy[int] | None = None) -> Stream:
    """2-3 rooms, each with one or two call sessions in sequence. Either every session finishes,
    or each room's last one may still be live when the stream ends."""
    room_count = draw(rooms or st.integers(2, 3))
    all_finished = draw(st.booleans())
    sessions: list[Session] = []
    for room in range(room_count):
        start = BASE + draw(st.integers(0, 120))
        count = draw(st.integers(1, 2))
        for number in range(count):
            last = number == count - 1
            finished = not last or all_finished or draw(st.booleans())
            session = _session(draw, room, number, start, finished)
            sessions.append(session)
            if session.finished_at is not None:
                start = session.finished_at + draw(st.integers(1, 120))
    raw = []
    for s in sessions:
        for seq, (at, name, participant, track) in enumerate(_session_events(s)):
            raw.append((at, PHASE[name], s.room, seq, s, name, participant, track))
    raw.sort(key=lambda r: r[:4])
    events = tuple(
        Event(name, s.room, s.sid, s.started_at, at, f"EV_{n:04d}", participant, track)
        for n, (at, _, _, _, s, name, participant, track) in enumerate(raw)
    )
    return Stream(room_count, tuple(sessions), events)


@st.composite
def deliveries(draw, count: int, *, drops: bool = False) -> list[int]:
    """An order of delivery (indices into the events): a permutation, with some events re-posted
    (the same body, so the same event id) anywhere, and optionally some never delivered."""
    order = list(draw(st.permutations(range(count))))
    dropped = draw(st.sets(st.integers(0, count - 1), max_size=count)) if drops and count else set()
    order = [i for i in order if i not in dropped]
    if order:
        for i, position in draw(st.lists(st.tuples(st.sampled_from(order), st.integers(0, len(order))), max_size=6)):
            order.insert(position, i)
    return order


@dataclass(frozen=True)
class Step:
    """One step of a timed delivery: post event `index`, or run the reconciler at second `at`
    with the server showing what is live then."""

    index: int | None = None
    at: int | None = None

    def __repr__(self) -> str:
        return f"post {self.index}" if self.index is not None else f"reconcile@+{self.at - BASE}"


@st.composite
def timed_deliveries(draw, stream: Stream, *, drops: bool) -> list[Step]:
    """Events arrive late (0-40 s), some twice (a retry after our commit), optionally some never;
    the reconciler runs 1-3 times in between, each time seeing the server as it is at that moment.
    Nothing arrives before it happened."""
    count = len(stream.events)
    dropped = draw(st.sets(st.integers(0, count - 1), max_size=count)) if drops and count else set()
    arrivals = []
    for i, event in enumerate(stream.events):
        if i in dropped:
            continue
        arrival = event.at + draw(st.integers(0, 40))
        arrivals.append((arrival, draw(st.integers(0, 3)), i))
        if draw(st.integers(0, 9)) == 0:
            arrivals.append((arrival + draw(st.integers(0, 15)), draw(st.integers(0, 3)), i))
    first = min(e.at for e in stream.events)
    last = max([first] + [a for a, _, _ in arrivals])
    runs = draw(st.lists(st.integers(first, last), min_size=1, max_size=3))
    # At the same second, what has arrived is processed before the reconciler writes.
    plan = [(a, 0, tie, Step(index=i)) for a, tie, i in arrivals] + [(t, 1, 0, Step(at=t)) for t in runs]
    return [step for *_, step in sorted(plan, key=lambda p: p[:3])]


# -- delivery ----------------------------------------------------------------------------------


def deliver(webhooks, stream: Stream, rooms: Sequence[Room], order: Sequence[int]) -> None:
    """Post each event's signed body to /webhooks/livekit and process what is pending, as the
    worker would; a re-post must be answered 200 as a duplicate and change nothing."""
    for i in order:
        event = stream.events[i]
        response = webhooks.post(event.body(rooms))
        assert response.status_code == 200, (event, response.content)
        outcomes = process_pending()
        assert all(o in ("done", "ignored") for o in outcomes), (event, outcomes, _errors())


def _errors() -> list[tuple[str, str, str]]:
    return list(InboundEvent.objects.exclude(last_error="").values_list("provider_event_id", "kind", "last_error"))


class Rollback:
    """`with Rollback():` runs the block in a savepoint that is always rolled back, so each
    Hypothesis example (and each delivery within one) starts from the same database state."""

    def __enter__(self):
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        return self

    def __exit__(self, *exc):
        transaction.set_rollback(True)
        return self._atomic.__exit__(*exc)


# -- reading records back --------------------------------------------------------------------


def records(rooms: Sequence[Room], *, detail: bool = False) -> dict[str, dict]:
    """The compared state of these rooms, keyed by room index and provider ids.

    Always: room status; per session (started_at, ended_at); per participant sid (identity,
    joined_at, left_at, disconnect_reason, connection_aborted, kind); per track (published_at,
    unpublished_at). With `detail`, also end_source, last_seen_at, left_source, display_name
    and track kind/source: all functions of the set of events seen, so order-independent too.
    """
    index = {room.pk: n for n, room in enumerate(rooms)}
    out: dict[str, dict] = {"rooms": {}, "sessions": {}, "participants": {}, "tracks": {}}
    for pk, status in Room.objects.filter(pk__in=index).values_list("pk", "status"):
        out["rooms"][index[pk]] = status
    for s in CallSession.objects.filter(room__in=index):
        value = (s.started_at, s.ended_at) + ((s.end_source, s.last_seen_at) if detail else ())
        out["sessions"][(index[s.room_id], s.provider_session_id)] = value
    participants = ParticipantSession.objects.filter(call_session__room__in=index).select_related("call_session")
    for p in participants:
        key = (index[p.call_session.room_id], p.call_session.provider_session_id, p.provider_participant_id)
        value = (p.identity, p.joined_at, p.left_at, p.disconnect_reason, p.connection_aborted, p.kind)
        if detail:
            value += (p.left_source, p.display_name, p.last_seen_at)
        out["participants"][key] = value
    tracks = TrackPublication.objects.filter(participant_session__call_session__room__in=index).select_related(
        "participant_session__call_session"
    )
    for t in tracks:
        p = t.participant_session
        key = (
            index[p.call_session.room_id],
            p.call_session.provider_session_id,
            p.provider_participant_id,
            t.provider_track_id,
        )
        out["tracks"][key] = (t.published_at, t.unpublished_at) + ((t.kind, t.source) if detail else ())
    return out


def differences(got: dict[str, dict], want: dict[str, dict]) -> str:
    """What differs between two `records()` results, one line per record, times as offsets."""

    def show(value: Any) -> str:
        if value is None:
            return "missing"
        return (
            "("
            + ", ".join(f"+{int(v.timestamp()) - BASE}" if isinstance(v, datetime) else repr(v) for v in value)
            + ")"
        )

    lines = []
    for part in ("rooms", "sessions", "participants", "tracks"):
        for key in sorted(set(got[part]) | set(want[part]), key=str):
            a, b = got[part].get(key), want[part].get(key)
            if a != b:
                a, b = (a, b) if part != "rooms" else ((a,), (b,))
                lines.append(f"{part} {key}: got {show(a)}, want {show(b)}")
    return "\n".join(lines)


def sources(rooms: Sequence[Room]) -> dict[str, dict]:
    """Why each end is what it is: end_source per session, left_source per participant."""
    index = {room.pk: n for n, room in enumerate(rooms)}
    sessions = CallSession.objects.filter(room__in=index).values_list("room_id", "provider_session_id", "end_source")
    participants = ParticipantSession.objects.filter(call_session__room__in=index).values_list(
        "call_session__room_id", "call_session__provider_session_id", "provider_participant_id", "left_source"
    )
    return {
        "sessions": {(index[r], sid): source for r, sid, source in sessions},
        "participants": {(index[r], ssid, sid): source for r, ssid, sid, source in participants},
    }


def full_snapshot(rooms: Sequence[Room], *, exclude: Sequence[str] = ("updated_at",)) -> dict[str, list]:
    """Every column of every record of these rooms, by default except updated_at (a save of
    unchanged values bumps it), for "running it again changes nothing"."""

    def rows(queryset):
        fields = [f.attname for f in queryset.model._meta.concrete_fields if f.name not in exclude]
        return sorted((tuple(str(v) for v in row) for row in queryset.values_list(*fields)), key=str)

    pks = [room.pk for room in rooms]
    return {
        "rooms": rows(Room.objects.filter(pk__in=pks)),
        "sessions": rows(CallSession.objects.filter(room__in=pks)),
        "participants": rows(ParticipantSession.objects.filter(call_session__room__in=pks)),
        "tracks": rows(TrackPublication.objects.filter(participant_session__call_session__room__in=pks)),
    }


def open_records(rooms: Sequence[Room]) -> tuple[set, set]:
    """(open sessions, open participant sessions) of these rooms, by room index and provider ids."""
    index = {room.pk: n for n, room in enumerate(rooms)}
    sessions = {
        (index[room_id], sid)
        for room_id, sid in CallSession.objects.filter(room__in=index, ended_at__isnull=True).values_list(
            "room_id", "provider_session_id"
        )
    }
    participants = {
        (index[room_id], session_sid, sid)
        for room_id, session_sid, sid in ParticipantSession.objects.filter(
            call_session__room__in=index, left_at__isnull=True
        ).values_list("call_session__room_id", "call_session__provider_session_id", "provider_participant_id")
    }
    return sessions, participants


# -- what the stream means -------------------------------------------------------------------


def expected_records(stream: Stream) -> dict[str, dict]:
    """The records a correct Convene holds after the whole stream, in the shape of `records()`."""
    out: dict[str, dict] = {"rooms": {}, "sessions": {}, "participants": {}, "tracks": {}}
    for room in range(stream.room_count):
        last = [s for s in stream.sessions if s.room == room][-1]
        out["rooms"][room] = RoomStatus.LIVE if last.finished_at is None else RoomStatus.OPEN
    for s in stream.sessions:
        out["sessions"][(s.room, s.sid)] = (dt(s.started_at), dt(s.finished_at))
        for c in s.connections:
            left_at, reason = c.left_at, c.reason
            if left_at is None and s.finished_at is not None:
                left_at, reason = s.finished_at, ""  # ended with the session, no reason reported
            out["participants"][(s.room, s.sid, c.sid)] = (
                c.identity,
                dt(c.joined_at),
                dt(left_at),
                reason,
                c.end == "aborted",
                c.kind.lower(),
            )
            for t in c.tracks:
                out["tracks"][(s.room, s.sid, c.sid, t.sid)] = (dt(t.published_at), dt(t.unpublished_at))
    return out


def expected_sources(stream: Stream) -> dict[str, dict]:
    """`sources()` once every event has arrived: reported ends everywhere, inferred ones only for
    people still there at room_finished with no participant_left of their own."""
    out: dict[str, dict] = {"sessions": {}, "participants": {}}
    for s in stream.sessions:
        out["sessions"][(s.room, s.sid)] = "event" if s.finished_at is not None else ""
        for c in s.connections:
            if c.left_at is not None:
                source = "event"
            else:
                source = "session_ended" if s.finished_at is not None else ""
            out["participants"][(s.room, s.sid, c.sid)] = source
    return out


def live_at(stream: Stream, t: int | None = None) -> list[tuple[Session, list[Connection]]]:
    """What the server has live at second `t` (None: once the stream is over): sessions started
    and not finished, with their connections joined and not yet gone. Aborted connections never
    became participants; a reconnect replaces the older sid of the same identity at once."""
    out = []
    for session in stream.sessions:
        if t is not None and session.started_at > t:
            continue
        if session.finished_at is not None and (t is None or t >= session.finished_at):
            continue
        people: dict[str, Connection] = {}
        for c in sorted(session.connections, key=lambda c: c.joined_at):
            if c.end == "aborted" or (t is not None and c.joined_at > t):
                continue
            if c.left_at is not None and (t is None or t >= c.left_at):
                continue
            people[c.identity] = c
        out.append((session, list(people.values())))
    return out


def set_fake_to_truth(fake, stream: Stream, rooms: Sequence[Room], t: int | None = None) -> None:
    """Make the fake LiveKit server report what is live at second `t` (by default once the stream
    is over): each room with a session then, with that session's sid, creation time and people."""
    fake.reset()
    for session, people in live_at(stream, t):
        name = rooms[session.room].provider_room_name
        fake.rooms[name] = lk.Room(
            sid=session.sid,
            name=name,
            creation_time=session.started_at,
            creation_time_ms=session.started_at * 1000,
            empty_timeout=300,
            departure_timeout=20,
        )
        fake.participants[name] = {
            c.identity: lk.ParticipantInfo(
                sid=c.sid,
                identity=c.identity,
                name=c.name,
                kind=lk.ParticipantInfo.Kind.Value(c.kind),
                state=lk.ParticipantInfo.State.ACTIVE,
                joined_at=c.joined_at,
                joined_at_ms=c.joined_at * 1000,
            )
            for c in people
        }
