"""POST /webhooks/janus: Janus's sample event handler cannot sign, so only its basic auth
credentials from the configured network are believed; events get stable ids (a retransmission
is a duplicate) and each is stored on its own."""

from __future__ import annotations

import base64
import json

import pytest

from webhooks.models import InboundEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def janus_settings(settings):
    settings.JANUS_URL = "http://127.0.0.1:9/janus"
    settings.JANUS_WEBHOOK_USER, settings.JANUS_WEBHOOK_PASSWORD = "janus", "hook-password-for-tests"
    settings.JANUS_WEBHOOK_ALLOW_IPS = ["127.0.0.1"]
    return settings


def _auth(user="janus", password="hook-password-for-tests") -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _batch(room: int = 42) -> bytes:
    joined = {"plugin": "janus.plugin.videoroom", "data": {"event": "joined", "room": room, "id": 7, "display": "A"}}
    events = [
        {"emitter": "j", "type": 1, "timestamp": 1796026705141299, "session_id": 1, "event": {"name": "created"}},
        {"emitter": "j", "type": 64, "timestamp": 1796026705154478, "session_id": 1, "handle_id": 2, "event": joined},
    ]
    return json.dumps(events).encode()


def _post(client, body: bytes, *, authorization: str | None = None, remote_addr: str = "127.0.0.1"):
    return client.post(
        "/webhooks/janus",
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION=authorization if authorization is not None else _auth(),
        REMOTE_ADDR=remote_addr,
    )


def test_a_grouped_post_stores_each_event_once_and_a_retransmission_is_a_duplicate(client, janus_settings):
    assert _post(client, _batch()).json() == {"stored": 2, "duplicates": 0}
    assert _post(client, _batch()).json() == {"stored": 0, "duplicates": 2}
    joined = InboundEvent.objects.get(kind="participant.joined")
    assert joined.room_name == "42" and json.loads(bytes(joined.body))["event"]["data"]["event"] == "joined"


@pytest.mark.parametrize("authorization", ["", _auth(password="wrong-password-for-tests"), _auth(user="other")])
def test_wrong_or_missing_basic_auth_is_refused_with_401(client, janus_settings, authorization):
    assert _post(client, _batch(), authorization=authorization).status_code == 401
    assert not InboundEvent.objects.exists()


def test_right_credentials_from_outside_the_configured_network_are_refused(client, janus_settings):
    assert _post(client, _batch(), remote_addr="10.1.2.3").status_code == 401
    assert not InboundEvent.objects.exists()


def test_a_body_that_is_not_janus_events_is_a_400(client, janus_settings):
    assert _post(client, b'"just a string"').status_code == 400


def test_janus_webhooks_are_404_while_janus_is_not_configured(client, settings):
    settings.JANUS_URL = ""
    assert _post(client, _batch()).status_code == 404
