"""replay_events, the failure path with bounded retries, and queries per processed event."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import RoomFactory
from tests.webhooks.conftest import event_body, participant_info, process_pending, room_info
from webhooks.handlers import HANDLERS
from webhooks.models import InboundEvent, InboundEventStatus
from webhooks.services import Outcome, inbound_event_process, retry_countdown

pytestmark = pytest.mark.django_db


def _broken_handler(**kwargs):
    raise RuntimeError("transient trouble")


def test_a_failing_handler_is_retried_then_failed_with_its_error(webhooks, monkeypatch, settings):
    settings.CONVENE_EVENT_MAX_ATTEMPTS = 3
    room = RoomFactory()
    monkeypatch.setitem(HANDLERS, "room.started", (_broken_handler,))
    webhooks.post(event_body("room_started", room=room_info(room)))
    row = InboundEvent.objects.get()
    outcomes = [inbound_event_process(event_id=row.pk) for _ in range(4)]
    assert outcomes == [Outcome.RETRY, Outcome.RETRY, Outcome.FAILED, Outcome.SKIPPED]
    row.refresh_from_db()
    assert row.status == InboundEventStatus.FAILED and row.attempts == 3
    assert "RuntimeError: transient trouble" in row.last_error


def test_retry_countdowns_grow_with_jitter_and_stay_capped(settings):
    settings.CONVENE_EVENT_RETRY_BASE_SECONDS = 2
    settings.CONVENE_EVENT_RETRY_MAX_SECONDS = 60
    first = [retry_countdown(0) for _ in range(50)]
    late = [retry_countdown(10) for _ in range(50)]
    assert all(1 <= c <= 2 for c in first) and len(set(first)) > 1
    assert all(30 <= c <= 60 for c in late)


def test_replay_events_reprocesses_failed_events(webhooks, monkeypatch, settings, capsys):
    settings.CONVENE_EVENT_MAX_ATTEMPTS = 1
    room = RoomFactory()
    monkeypatch.setitem(HANDLERS, "room.started", (_broken_handler,))
    webhooks.send("room_started", room=room_info(room))
    assert InboundEvent.objects.get().status == InboundEventStatus.FAILED
    monkeypatch.undo()
    call_command("replay_events")
    assert "1 done" in capsys.readouterr().out
    row = InboundEvent.objects.get()
    assert row.status == InboundEventStatus.DONE and row.last_error == ""


def test_replay_events_by_id_reprocesses_a_done_event_without_a_second_effect(webhooks):
    room = RoomFactory()
    webhooks.send("participant_joined", room=room_info(room), participant=participant_info("PA_1", "a"))
    row = InboundEvent.objects.get()
    call_command("replay_events", str(row.pk))
    from rooms.models import ParticipantSession

    assert ParticipantSession.objects.count() == 1
    assert InboundEvent.objects.get().status == InboundEventStatus.DONE


def test_processing_an_event_takes_a_bounded_number_of_queries(webhooks):
    room = RoomFactory()
    webhooks.send("room_started", room=room_info(room))
    counts = []
    for n in range(5):
        webhooks.post(
            event_body(
                "participant_joined",
                room=room_info(room),
                participant=participant_info(f"PA_{n}", f"user-{n}", joined_at=1_790_000_000),
            )
        )
        row_id = InboundEvent.objects.filter(status=InboundEventStatus.PENDING).values_list("pk", flat=True).get()
        with CaptureQueriesContext(connection) as queries:
            assert inbound_event_process(event_id=row_id) == Outcome.DONE
        counts.append(len(queries))
    assert len(set(counts)) == 1, counts  # the same for the 1st and the 5th participant
    print("queries per event", counts[0], *[q["sql"][:90] for q in queries.captured_queries], sep="\n")
    assert counts[0] <= 16
    process_pending()
