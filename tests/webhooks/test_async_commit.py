"""Processing an event commits without waiting for the WAL flush (CONVENE_EVENT_ASYNC_COMMIT), except
when work outside the database follows the commit; the webhook itself is stored synchronously."""

from __future__ import annotations

from unittest import mock

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from providers.base import EventKind
from rooms.models import CallSession, ParticipantSession, Room, RoomStatus
from tests.webhooks.conftest import WebhookPoster, event_body, participant_info, room_info
from webhooks import handlers
from webhooks.models import InboundEvent
from webhooks.services import inbound_event_process

pytestmark = pytest.mark.django_db(transaction=True)
RELAX = "set_config('synchronous_commit', 'off', true)"  # SET LOCAL, done by the UPDATE itself


@pytest.fixture
def joins(app_client, client, settings):
    """Stores (with real commits) one participant_joined webhook per call; returns its row id."""
    room = app_client.post("/api/v1/rooms", {"external_id": "async-commit"}, format="json").json()
    poster = WebhookPoster(client, settings)
    count = iter(range(100))

    def store() -> int:
        n = next(count)
        room_ref = type("R", (), {"provider_room_name": room["provider_room_name"]})
        who = participant_info(f"PA_{n}", f"p{n}")
        body = event_body("participant_joined", room=room_info(room_ref, sid="RM_async"), participant=who)
        with CaptureQueriesContext(connection) as stored:
            assert poster.post(body).status_code == 200
        assert not any(RELAX in q["sql"] for q in stored.captured_queries)  # the intake waits for its flush
        return InboundEvent.objects.latest("pk").pk

    return store


def _process(event_id: int) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        assert inbound_event_process(event_id=event_id) == "done"
    return [q["sql"] for q in queries.captured_queries]


def test_an_event_is_applied_with_an_asynchronous_commit(joins):
    statements = _process(joins())
    assert sum(RELAX in sql for sql in statements) == 1, statements
    assert next(sql for sql in statements if RELAX in sql).startswith('UPDATE "webhooks_inboundevent"')
    assert ParticipantSession.objects.filter(identity="p0").exists()
    assert InboundEvent.objects.filter(status="done").count() == 1


def test_the_setting_turns_it_off(joins, settings):
    settings.CONVENE_EVENT_ASYNC_COMMIT = False
    assert not any(RELAX in sql for sql in _process(joins()))


def test_a_transaction_with_work_queued_for_after_its_commit_waits_for_the_flush(joins):
    ran = []

    def queue_after_commit(*, room, event):
        transaction.on_commit(lambda: ran.append(event.provider_event_id))

    chain = (*handlers.HANDLERS[EventKind.PARTICIPANT_JOINED], queue_after_commit)
    with mock.patch.dict(handlers.HANDLERS, {EventKind.PARTICIPANT_JOINED: chain}):
        statements = _process(joins())
    assert not any(RELAX in sql for sql in statements), statements
    assert len(ran) == 1


def test_an_event_that_rings_for_webhooks_out_still_commits_asynchronously_and_redoing_it_reuses_the_ids(
    joins, app_client, settings
):
    """A lost asynchronous commit is redone by the sweeper; the webhooks out it emitted then get the
    same ids, so a receiver that was already sent them (the doorbell rang) deduplicates."""
    from outbound.models import WebhookDelivery

    settings.CONVENE_WEBHOOK_ALLOW_PRIVATE_URLS = True
    created = app_client.post("/api/v1/webhook-endpoints", {"url": "http://127.0.0.1:9/hook"}, format="json")
    assert created.status_code == 201, created.content
    event_id = joins()
    with mock.patch("outbound.services.outbox.deliveries_enqueue", autospec=True) as ring:
        statements = _process(event_id)
    assert sum(RELAX in sql for sql in statements) == 1, statements
    first = sorted(WebhookDelivery.objects.values_list("event_type", "event_id"))
    assert {event_type for event_type, _ in first} >= {"participant.joined"} and ring.call_count == len(first)

    # What a database crash right after the asynchronous commit leaves: the event pending, no effect.
    WebhookDelivery.objects.all().delete()
    CallSession.objects.all().delete()
    Room.objects.update(status=RoomStatus.OPEN)
    InboundEvent.objects.filter(pk=event_id).update(status="pending")
    with mock.patch("outbound.services.outbox.deliveries_enqueue", autospec=True):
        _process(event_id)
    assert sorted(WebhookDelivery.objects.values_list("event_type", "event_id")) == first
