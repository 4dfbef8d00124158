"""Events out of order, property-based: a valid LiveKit event stream for a few rooms, delivered through the real
path (signed body -> POST /webhooks/livekit -> InboundEvent -> inbound_event_process) in any
order and with re-posts, ends in the records that in-order delivery gives; with events dropped,
the reconciler, asking the (fake) server what is live, repairs what the events missed.

Each Hypothesis example runs in a savepoint that is rolled back (`Rollback`), because the `db`
fixture's transaction spans all examples; each delivery within an example gets its own too.
"""

from __future__ import annotations

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.services import provider_reconcile
from rooms.models import RoomStatus
from tests.factories import RoomFactory
from tests.webhooks.streams import (
    Rollback,
    Stream,
    deliver,
    deliveries,
    differences,
    dt,
    expected_records,
    expected_sources,
    full_snapshot,
    live_at,
    open_records,
    records,
    set_fake_to_truth,
    sources,
    streams,
    timed_deliveries,
)

pytestmark = pytest.mark.django_db

PROPERTY = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _rooms(count: int):
    return [RoomFactory() for _ in range(count)]


def _assert_nothing_live(rooms) -> None:
    sessions, participants = open_records(rooms)
    assert sessions == set(), "a session stays open although every room_finished was delivered"
    assert participants == set(), "a participant stays connected although every room_finished was delivered"
    assert set(records(rooms)["rooms"].values()) == {RoomStatus.OPEN}


@PROPERTY
@given(stream=streams(), data=st.data())
def test_any_order_with_duplicates_converges_to_the_in_order_records(webhooks, stream, data):
    order = data.draw(deliveries(len(stream.events)), label="delivery order (event indices)")
    with Rollback():
        rooms = _rooms(stream.room_count)
        with Rollback():
            deliver(webhooks, stream, rooms, range(len(stream.events)))
            # In order, the records are what the stream describes...
            in_order = records(rooms)
            assert in_order == expected_records(stream), "not what the stream describes:\n" + differences(
                in_order, expected_records(stream)
            )
            if stream.all_finished:
                _assert_nothing_live(rooms)
            canonical = records(rooms, detail=True)
        with Rollback():
            deliver(webhooks, stream, rooms, order)
            # ...and in any other order, with re-posts, they are the same, field for field.
            converged = records(rooms, detail=True)
            assert converged == canonical, "not the in-order records:\n" + differences(converged, canonical)
            if stream.all_finished:
                _assert_nothing_live(rooms)


def _assert_repaired(stream: Stream, rooms, delivered: set[int], now) -> None:
    """After the reconciler, with the server showing what is live once the stream is over."""
    truth = expected_records(stream)
    live_now = live_at(stream)
    live_sessions = {(s.room, s.sid) for s, _ in live_now}
    live_people = {(s.room, s.sid, c.sid): c for s, people in live_now for c in people}
    sessions_open, participants_open = open_records(rooms)
    assert sessions_open == live_sessions, "open sessions differ from what the server has live"
    assert participants_open == set(live_people), "open participants differ from who the server has live"
    got = records(rooms)
    for room in range(stream.room_count):
        live = any(r == room for r, _ in live_sessions)
        assert got["rooms"][room] == (RoomStatus.LIVE if live else RoomStatus.OPEN), room
    for key, c in live_people.items():
        identity, joined_at, _, _, _, kind = got["participants"][key]
        assert (identity, joined_at, kind) == (c.identity, dt(c.joined_at), c.kind.lower()), key
    for key, (identity, joined_at, left_at, *_rest) in got["participants"].items():
        assert identity == truth["participants"][key][0], key
        assert joined_at in (None, truth["participants"][key][1]), key
        assert left_at is None or joined_at is None or left_at >= joined_at, f"{key} left before it joined"
    for event in (stream.events[i] for i in sorted(delivered)):
        participant = event.participant
        key = (event.room, event.session_sid, participant["sid"]) if participant else None
        if event.event == "participant_joined":
            assert key in got["participants"], f"{event!r} was delivered but left no record"
        elif event.event in ("participant_left", "participant_connection_aborted"):
            _, _, left_at, reason, aborted, _ = got["participants"][key]
            assert (left_at, reason) == (dt(event.at), participant["disconnectReason"]), event
            assert aborted == (event.event == "participant_connection_aborted"), event
        elif event.event == "room_finished":
            assert got["sessions"][(event.room, event.session_sid)][1] == dt(event.at), event

    before = full_snapshot(rooms)
    provider_reconcile(provider_name="livekit", now=now)
    assert full_snapshot(rooms) == before, "a second reconciler run changed records"


@PROPERTY
@given(stream=streams(), data=st.data())
def test_dropped_events_are_repaired_by_the_reconciler(webhooks, fake_livekit, stream, data):
    order = data.draw(deliveries(len(stream.events), drops=True), label="delivery order (event indices)")
    with Rollback():
        rooms = _rooms(stream.room_count)
        deliver(webhooks, stream, rooms, order)
        set_fake_to_truth(fake_livekit, stream, rooms)
        now = timezone.now()
        provider_reconcile(provider_name="livekit", now=now)
        _assert_repaired(stream, rooms, set(order), now)


@settings(PROPERTY, max_examples=40)
@given(stream=streams(), data=st.data())
def test_late_events_with_reconciler_runs_in_between_end_as_the_stream_describes(webhooks, fake_livekit, stream, data):
    """Events arrive late and the reconciler runs meanwhile, seeing the server as it is at that
    moment: its inferred ends must give way to the reported ones that arrive afterwards. With
    nothing lost, the end result is exactly what the stream describes; with losses, it is
    repaired as above."""
    drops = data.draw(st.booleans(), label="drops")
    plan = data.draw(timed_deliveries(stream, drops=drops), label="plan")
    delivered = {step.index for step in plan if step.index is not None}
    with Rollback():
        rooms = _rooms(stream.room_count)
        for step in plan:
            if step.index is not None:
                deliver(webhooks, stream, rooms, [step.index])
            else:
                set_fake_to_truth(fake_livekit, stream, rooms, step.at)
                provider_reconcile(provider_name="livekit", now=dt(step.at))
        set_fake_to_truth(fake_livekit, stream, rooms)
        end = dt(max(e.at for e in stream.events) + 120)
        provider_reconcile(provider_name="livekit", now=end)
        if len(delivered) == len(stream.events):
            got = records(rooms)
            assert got == expected_records(stream), "not what the stream describes:\n" + differences(
                got, expected_records(stream)
            )
            assert sources(rooms) == expected_sources(stream)
            if stream.all_finished:
                _assert_nothing_live(rooms)
        _assert_repaired(stream, rooms, delivered, end)
