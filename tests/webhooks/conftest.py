"""Helpers to build LiveKit webhook events as the server sends them and post them, signed."""

from __future__ import annotations

import itertools
import time

import pytest

from tests.fakes.livekit_webhooks import WEBHOOK_CONTENT_TYPE, new_guid, sign_webhook, webhook_body
from webhooks.models import InboundEvent, InboundEventStatus
from webhooks.services import inbound_event_process

_clock = itertools.count(int(time.time()) - 3600)


def room_info(room, sid: str = "RM_session1", creation_time: int | None = None) -> dict:
    info = {"sid": sid, "name": room.provider_room_name}
    if creation_time:
        info["creationTime"] = str(creation_time)
    return info


def participant_info(
    sid: str,
    identity: str,
    *,
    name: str = "",
    joined_at: int | None = None,
    reason: str = "",
    kind: str = "",
    attributes: dict | None = None,
) -> dict:
    info = {"sid": sid, "identity": identity}
    if name:
        info["name"] = name
    if joined_at:
        info["joinedAt"] = str(joined_at)
    if reason:
        info["disconnectReason"] = reason
    if kind:
        info["kind"] = kind
    if attributes:
        info["attributes"] = attributes
    return info


def event_body(event: str, *, at: int | None = None, event_id: str | None = None, **fields) -> bytes:
    return webhook_body(event, id=event_id or new_guid("EV_"), created_at=at or next(_clock), **fields)


class WebhookPoster:
    def __init__(self, client, settings):
        self.client, self.settings = client, settings

    def post(self, body: bytes, *, authorization: str | None = None, content_type: str = WEBHOOK_CONTENT_TYPE):
        auth = (
            authorization
            if authorization is not None
            else sign_webhook(body, self.settings.LIVEKIT_API_KEY, self.settings.LIVEKIT_API_SECRET)
        )
        headers = {"HTTP_AUTHORIZATION": auth} if auth else {}
        return self.client.post("/webhooks/livekit", data=body, content_type=content_type, **headers)

    def send(self, event: str, **fields):
        """Post one signed event and process what is pending, as the worker would."""
        response = self.post(event_body(event, **fields))
        assert response.status_code == 200, response.content
        process_pending()
        return response


def process_pending() -> list[str]:
    pending = InboundEvent.objects.filter(status=InboundEventStatus.PENDING).order_by("pk")
    return [inbound_event_process(event_id=pk) for pk in pending.values_list("pk", flat=True)]


def process_events_until(predicate, timeout: float = 10) -> None:
    """Apply stored events as the worker would, until `predicate()` holds (events posted by a real
    media server arrive on their own time)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        process_pending()
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("the events did not arrive or did not apply")


@pytest.fixture
def webhooks(client, settings, db):
    """Posts signed LiveKit webhooks. In these tests the transaction never commits, so the
    after-commit doorbell never rings: `send` processes pending rows itself."""
    return WebhookPoster(client, settings)
