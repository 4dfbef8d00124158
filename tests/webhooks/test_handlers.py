"""The handler contract (webhooks/handlers.py): a handler returns None when it applied the event,
or EventIgnored(reason) when the event concerns nothing Convene keeps; the first ignore stops the
chain and its reason is what the stored event keeps."""

from __future__ import annotations

from datetime import UTC, datetime

from providers.base import EventIgnored, NeutralEvent
from webhooks import handlers

EVENT = NeutralEvent(provider_event_id="EV_1", kind="participant.joined", occurred_at=datetime(2026, 12, 1, tzinfo=UTC))


def test_a_chain_whose_handlers_all_apply_the_event_is_not_ignored():
    ran = []
    chain = (lambda **kwargs: ran.append(1), lambda **kwargs: ran.append(2))
    assert handlers.apply(chain, room=None, event=EVENT) is None
    assert ran == [1, 2]


def test_the_first_handler_that_ignores_the_event_stops_the_chain_with_its_reason():
    ran = []

    def ignores(**kwargs):
        ran.append("ignores")
        return EventIgnored("recording not started by Convene")

    chain = (ignores, lambda **kwargs: ran.append("after"))
    assert handlers.apply(chain, room=None, event=EVENT) == EventIgnored("recording not started by Convene")
    assert ran == ["ignores"]
