"""Missed events are repaired by the reconciler, which asks the (fake) LiveKit server what is
live, over its real Twirp API; running it twice changes nothing; an outage changes nothing."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings as django_settings
from django.utils import timezone
from livekit.protocol import models as lk

from reconciler.services import provider_reconcile, reconcile_all
from reconciler.tasks import reconcile_providers
from rooms.models import CallSession, LeftSource, ParticipantSession, Room, RoomStatus
from tests.core.test_settings_and_ops import load_settings
from tests.factories import RoomFactory
from tests.webhooks.conftest import participant_info, room_info
from tests.webhooks.streams import full_snapshot

pytestmark = pytest.mark.django_db

T = (int(time.time()) // 60 - 60) * 60  # the call started an hour ago (whole minutes)
SID = "RM_call1"
STANDARD, EGRESS = lk.ParticipantInfo.Kind.STANDARD, lk.ParticipantInfo.Kind.EGRESS


def at(offset: int) -> datetime:
    return datetime.fromtimestamp(T + offset, UTC)


class Call:
    """One room's call, told through signed webhooks, and the server's view of it."""

    def __init__(self, webhooks, fake, room: Room | None = None, sid: str = SID):
        self.webhooks, self.fake = webhooks, fake
        self.room, self.sid = room or RoomFactory(), sid

    def send(self, event: str, offset: int, **fields) -> None:
        room = room_info(self.room, sid=self.sid, creation_time=T)
        self.webhooks.send(event, room=room, at=T + offset, **fields)

    def started(self) -> Call:
        self.send("room_started", 0)
        return self

    def joined(self, sid: str, identity: str, offset: int, kind: str = "") -> None:
        info = participant_info(sid, identity, name=identity.title(), joined_at=T + offset, kind=kind)
        self.send("participant_joined", offset, participant=info)

    def left(self, sid: str, identity: str, joined: int, offset: int) -> None:
        info = participant_info(sid, identity, joined_at=T + joined, reason="CLIENT_INITIATED")
        self.send("participant_left", offset, participant=info)

    def track(self, event: str, sid: str, identity: str, offset: int) -> None:
        track = {"sid": f"TR_{sid}", "type": "VIDEO", "source": "CAMERA"}
        self.send(event, offset, participant={"sid": sid, "identity": identity}, track=track)

    # the server's side
    def live_at_server(self, *people: tuple[str, str, int]) -> Call:
        """The room is open at the server with this sid; `people` are (sid, identity, joined)."""
        name = self.room.provider_room_name
        self.fake.rooms[name] = lk.Room(sid=self.sid, name=name, creation_time=T, creation_time_ms=T * 1000)
        self.fake.participants[name] = {}
        for sid, identity, joined in people:
            self.server_participant(sid, identity, T + joined)
        return self

    def server_participant(self, sid: str, identity: str, joined_at: int, kind: int = STANDARD) -> None:
        self.fake.participants[self.room.provider_room_name][identity] = lk.ParticipantInfo(
            sid=sid,
            identity=identity,
            name=identity.title(),
            kind=kind,
            state=lk.ParticipantInfo.State.ACTIVE,
            joined_at=joined_at,
            joined_at_ms=joined_at * 1000,
        )

    # our side
    def session(self) -> CallSession:
        return CallSession.objects.get(room=self.room, provider_session_id=self.sid)

    def participant(self, sid: str) -> ParticipantSession:
        return ParticipantSession.objects.get(call_session__room=self.room, provider_participant_id=sid)

    def status(self) -> str:
        self.room.refresh_from_db()
        return self.room.status


def reconcile(now: datetime | None = None) -> dict[str, int]:
    return provider_reconcile(provider_name="livekit", now=now or timezone.now())


def test_a_room_finished_never_delivered_closes_the_session_at_its_last_seen_time(webhooks, fake_livekit):
    call = Call(webhooks, fake_livekit).started()
    call.joined("PA_a", "ann", 5)
    call.joined("PA_b", "bob", 10)
    call.left("PA_b", "bob", 10, 40)
    call.track("track_published", "PA_a", "ann", 50)
    # room_finished (at +100) is lost; the server has nothing live any more.
    assert call.status() == RoomStatus.LIVE

    counts = reconcile()

    session = call.session()
    assert (session.ended_at, session.end_source) == (at(50), "reconciler")
    ann, bob = call.participant("PA_a"), call.participant("PA_b")
    assert (ann.left_at, ann.left_source) == (at(50), LeftSource.SESSION_ENDED)
    assert (bob.left_at, bob.left_source, bob.disconnect_reason) == (at(40), LeftSource.EVENT, "CLIENT_INITIATED")
    assert call.status() == RoomStatus.OPEN
    assert counts["sessions_closed"] == 1


def test_a_participant_left_never_delivered_is_closed_at_its_last_seen_time_while_the_others_stay(
    webhooks, fake_livekit
):
    call = Call(webhooks, fake_livekit).started()
    call.joined("PA_a", "ann", 1)
    call.joined("PA_b", "bob", 2)
    call.joined("PA_c", "cat", 3)
    call.track("track_published", "PA_b", "bob", 20)
    call.track("track_unpublished", "PA_b", "bob", 30)
    # bob's participant_left is lost; ann and cat are still there.
    call.live_at_server(("PA_a", "ann", 1), ("PA_c", "cat", 3))
    now = timezone.now()

    counts = reconcile(now)

    bob = call.participant("PA_b")
    assert (bob.left_at, bob.left_source) == (at(30), LeftSource.RECONCILER)
    for sid, joined in (("PA_a", 1), ("PA_c", 3)):
        other = call.participant(sid)
        assert (other.joined_at, other.left_at, other.left_source) == (at(joined), None, ""), sid
    session = call.session()
    assert (session.ended_at, session.last_seen_at) == (None, now)
    assert call.status() == RoomStatus.LIVE
    assert (counts["participants_closed"], counts["participants_opened"]) == (1, 0)


def test_a_live_participant_whose_join_was_never_reported_is_opened_with_the_servers_join_time(webhooks, fake_livekit):
    call = Call(webhooks, fake_livekit).started()
    call.joined("PA_a", "ann", 1)
    call.live_at_server(("PA_a", "ann", 1))
    dan = fake_livekit.add_participant(call.room.provider_room_name, "dan", name="Dan")  # joined_at: now

    counts = reconcile()

    row = call.participant(dan.sid)
    assert (row.identity, row.display_name, row.kind) == ("dan", "Dan", "standard")
    assert row.joined_at == datetime.fromtimestamp(dan.joined_at, UTC)
    assert (row.left_at, row.left_source) == (None, "")
    assert counts["participants_opened"] == 1


def test_a_live_room_whose_events_were_all_lost_gets_its_session_from_the_server(webhooks, fake_livekit):
    call = Call(webhooks, fake_livekit).live_at_server(("PA_a", "ann", 7))

    counts = reconcile()

    session = call.session()
    assert (session.started_at, session.ended_at) == (at(0), None)
    ann = call.participant("PA_a")
    assert (ann.joined_at, ann.left_at) == (at(7), None)
    assert call.status() == RoomStatus.LIVE
    assert (counts["sessions_opened"], counts["participants_opened"]) == (1, 1)


def test_an_egress_participant_at_the_server_is_recorded_as_egress(webhooks, fake_livekit):
    call = Call(webhooks, fake_livekit).started()
    call.live_at_server()
    recorder = fake_livekit.add_participant(call.room.provider_room_name, "EG_rec", kind=EGRESS)

    reconcile()

    row = call.participant(recorder.sid)
    assert (row.kind, row.is_person, row.left_at) == ("egress", False, None)


def test_an_egress_participant_first_seen_through_a_track_event_becomes_egress(webhooks, fake_livekit):
    """Track events carry no kind: a row they created says "standard" until the server tells."""
    call = Call(webhooks, fake_livekit).started()
    call.track("track_published", "PA_rec", "EG_rec", 4)
    call.live_at_server()
    call.server_participant("PA_rec", "EG_rec", T + 3, kind=EGRESS)

    reconcile()

    row = call.participant("PA_rec")
    assert (row.kind, row.joined_at, row.left_at) == ("egress", at(3), None)


def _repairable_state(webhooks, fake_livekit) -> list[Room]:
    """Every kind of repair at once: a lost room_finished (room 1), a lost participant_left, a
    lost join and a live egress (room 2), a live room whose events were all lost (room 3)."""
    gone = Call(webhooks, fake_livekit, sid="RM_gone").started()
    gone.joined("PA_g1", "gil", 2)
    gone.track("track_published", "PA_g1", "gil", 9)
    live = Call(webhooks, fake_livekit, sid="RM_live").started()
    live.joined("PA_l1", "lea", 1)
    live.joined("PA_l2", "lou", 2)
    live.track("track_published", "PA_l2", "lou", 12)
    live.live_at_server(("PA_l1", "lea", 1), ("PA_l3", "liz", 5))
    live.server_participant("PA_eg", "EG_live", T + 6, kind=EGRESS)
    silent = Call(webhooks, fake_livekit, sid="RM_silent").live_at_server(("PA_s1", "sam", 8))
    return [gone.room, live.room, silent.room]


def test_running_the_reconciler_twice_changes_nothing(webhooks, fake_livekit):
    rooms = _repairable_state(webhooks, fake_livekit)
    now = timezone.now()
    first = reconcile(now)
    assert (first["sessions_closed"], first["participants_closed"], first["participants_opened"]) == (1, 1, 3)
    after_first = full_snapshot(rooms)

    second = reconcile(now)

    assert full_snapshot(rooms) == after_first
    assert {k: v for k, v in second.items() if k != "rooms" and v} == {}
    # Later, with nothing new at the server, only the "last seen" times move on.
    moving = ("updated_at", "last_seen_at")
    before_later = full_snapshot(rooms, exclude=moving)
    reconcile(now + timedelta(minutes=5))
    assert full_snapshot(rooms, exclude=moving) == before_later


@pytest.mark.parametrize("method", ["ListRooms", "ListParticipants"])
def test_a_provider_outage_skips_the_provider_without_touching_records(webhooks, fake_livekit, method):
    call = Call(webhooks, fake_livekit).started()
    call.joined("PA_a", "ann", 1)
    call.joined("PA_b", "bob", 2)
    call.live_at_server(("PA_a", "ann", 1))  # bob's left was lost
    before = full_snapshot([call.room], exclude=())
    fake_livekit.fail_next(method, code="unavailable", status=503)

    results = reconcile_all()

    assert results == {"livekit": "skipped: ProviderUnavailable"}
    assert full_snapshot([call.room], exclude=()) == before
    # Once the server answers again, the repair happens.
    assert reconcile_all()["livekit"]["participants_closed"] == 1


def test_a_room_live_at_the_server_that_convene_does_not_manage_is_left_alone(webhooks, fake_livekit):
    ours = Call(webhooks, fake_livekit).started()
    ours.live_at_server(("PA_a", "ann", 1))
    fake_livekit.add_participant("someone-elses-room", "stranger")
    rooms_before = set(Room.objects.values_list("pk", flat=True))

    counts = reconcile()

    assert counts["rooms"] == 1
    assert set(Room.objects.values_list("pk", flat=True)) == rooms_before
    assert set(CallSession.objects.values_list("room_id", flat=True)) == {ours.room.pk}
    assert not ParticipantSession.objects.filter(identity="stranger").exists()
    calls = [(c.method, getattr(c.request, "room", "")) for c in fake_livekit.requests]
    assert all(method.startswith(("List", "Get")) for method, _ in calls), f"the reconciler only reads: {calls}"
    assert ("ListParticipants", "someone-elses-room") not in calls
    assert "someone-elses-room" in fake_livekit.rooms and "stranger" in fake_livekit.participants["someone-elses-room"]


def _closed_by_the_reconciler_then_live_again(webhooks, fake_livekit) -> Call:
    call = Call(webhooks, fake_livekit).started()
    call.joined("PA_a", "ann", 1)
    call.joined("PA_b", "bob", 2)
    call.live_at_server(("PA_a", "ann", 1), ("PA_b", "bob", 2))
    name = call.room.provider_room_name
    # The server's room list misses the room once (e.g. a node restarting): the session and
    # everyone in it are closed at their last-seen time.
    hidden = fake_livekit.rooms.pop(name), fake_livekit.participants.pop(name)
    first = timezone.now()
    reconcile(first)
    assert call.session().end_source == "reconciler"
    assert call.participant("PA_a").left_at is not None
    # The next run finds it live again, with the same sid and the same two participants.
    fake_livekit.rooms[name], fake_livekit.participants[name] = hidden
    reconcile(first + timedelta(minutes=1))
    return call


def test_a_session_closed_by_the_reconciler_and_reported_live_again_is_reopened(webhooks, fake_livekit):
    call = _closed_by_the_reconciler_then_live_again(webhooks, fake_livekit)

    session = call.session()
    assert (session.ended_at, session.end_source) == (None, "")
    assert CallSession.objects.filter(room=call.room).count() == 1
    assert call.status() == RoomStatus.LIVE


def test_participants_the_server_still_reports_live_are_reopened_with_their_session(webhooks, fake_livekit):
    call = _closed_by_the_reconciler_then_live_again(webhooks, fake_livekit)

    for sid in ("PA_a", "PA_b"):
        row = call.participant(sid)
        assert (row.left_at, row.left_source) == (None, ""), (
            f"{sid} is connected at the server but its record stays closed at {row.left_at} ({row.left_source})"
        )


def test_a_live_listing_that_lags_behind_a_received_room_finished_reopens_nothing(webhooks, fake_livekit):
    """The reconciler reads the server (room live, ann and bob in it), then room_finished is
    processed, then the reconciler writes: a reported end is final for that room sid, so the
    stale listing must not reopen anyone in the ended session."""
    call = Call(webhooks, fake_livekit).started()
    call.joined("PA_a", "ann", 1)
    call.live_at_server(("PA_a", "ann", 1), ("PA_b", "bob", 20))  # the server's answer, a moment ago
    call.send("room_finished", 60)

    reconcile()

    session = call.session()
    assert (session.ended_at, session.end_source) == (at(60), "event")
    open_rows = ParticipantSession.objects.filter(call_session__room=call.room, left_at__isnull=True)
    assert list(open_rows.values_list("provider_participant_id", "left_source")) == [], (
        "participants of a session ended by room_finished were reopened by a stale live listing"
    )
    ann = call.participant("PA_a")
    assert (ann.left_at, ann.left_source) == (at(60), LeftSource.SESSION_ENDED)
    assert call.status() == RoomStatus.OPEN
    # The room is gone at the server now; nothing is left open for later runs to find either.
    fake_livekit.end_room(call.room.provider_room_name)
    reconcile()
    assert not ParticipantSession.objects.filter(call_session__room=call.room, left_at__isnull=True).exists()


def test_a_late_join_after_the_reconciler_closed_the_session_never_leaves_before_it_joined(webhooks, fake_livekit):
    """bob's join (at +50) is delayed by retries; the room ends at +60 and its room_finished is
    lost; the reconciler runs in between and closes the session at what it knew then (+1). When
    bob's join arrives, the inferred end must not stay before evidence that came later."""
    call = Call(webhooks, fake_livekit).started()
    call.joined("PA_a", "ann", 1)
    reconcile(at(62))  # nothing live at the server any more
    assert call.session().ended_at == at(1)

    call.joined("PA_b", "bob", 50)

    bob, session = call.participant("PA_b"), call.session()
    assert bob.joined_at == at(50)
    assert bob.left_at is not None and bob.left_at >= bob.joined_at, (
        f"bob joined at +50 but is recorded as leaving at +{int(bob.left_at.timestamp()) - T}"
    )
    assert session.ended_at >= session.last_seen_at, "the inferred end is earlier than the latest evidence"


def test_the_celery_task_reconciles_every_provider(webhooks, fake_livekit):
    call = Call(webhooks, fake_livekit).started()
    call.joined("PA_a", "ann", 1)
    # room_finished lost; nothing live at the server.

    result = reconcile_providers.run()

    assert result["livekit"]["sessions_closed"] == 1
    assert call.session().ended_at == at(1)
    assert call.participant("PA_a").left_at == at(1)
    assert reconcile_providers.name == "webhooks.reconcile_providers"
    schedule = {entry["task"] for entry in django_settings.CELERY_BEAT_SCHEDULE.values()}
    assert "webhooks.reconcile_providers" in schedule


def test_a_worker_finds_the_reconcile_task_under_its_old_name_in_the_reconciler_app():
    """A task queued (or scheduled by beat) before the reconciler left webhooks still runs."""
    find = (
        "from config.celery import app; app.loader.import_default_modules(); "
        "print(app.tasks['webhooks.reconcile_providers'].__module__)"
    )

    result = load_settings(find)

    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "reconciler.tasks"
