"""POST /webhooks/livekit: verification, storage, duplicates, size, content type, a database that is down."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from tests.factories import RoomFactory
from tests.fakes.livekit_webhooks import sign_webhook
from tests.webhooks.conftest import event_body, room_info
from webhooks.models import InboundEvent, InboundEventStatus

pytestmark = pytest.mark.django_db


def test_a_signed_event_is_stored_pending_and_answered_200(webhooks):
    room = RoomFactory()
    body = event_body("room_started", room=room_info(room), event_id="EV_one")
    response = webhooks.post(body)
    assert response.status_code == 200
    assert response.json() == {"stored": 1, "duplicates": 0}
    row = InboundEvent.objects.get()
    assert (row.provider, row.provider_event_id, row.kind) == ("livekit", "EV_one", "room.started")
    assert row.status == InboundEventStatus.PENDING
    assert bytes(row.body) == body
    assert row.room_name == room.provider_room_name


def test_the_same_event_delivered_again_is_200_and_stores_nothing_more(webhooks):
    body = event_body("room_started", room={"sid": "RM_x", "name": "n"}, event_id="EV_dup")
    assert webhooks.post(body).status_code == 200
    again = webhooks.post(body)
    assert again.status_code == 200
    assert again.json() == {"stored": 0, "duplicates": 1}
    assert InboundEvent.objects.count() == 1


def test_a_bearer_prefix_added_by_a_proxy_is_accepted(webhooks, settings):
    body = event_body("room_started", room={"sid": "RM_x", "name": "n"})
    auth = "Bearer " + sign_webhook(body, settings.LIVEKIT_API_KEY, settings.LIVEKIT_API_SECRET)
    assert webhooks.post(body, authorization=auth).status_code == 200


def _tampered(body: bytes) -> bytes:
    return body.replace(b"room_started", b"room_finished")


def _reserialized(body: bytes) -> bytes:
    return json.dumps(json.loads(body), indent=2).encode()


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda body, s: sign_webhook(body, s.LIVEKIT_API_KEY, "w" * 40), id="wrong-secret"),
        pytest.param(lambda body, s: sign_webhook(body, "otherkey", s.LIVEKIT_API_SECRET), id="wrong-issuer"),
        pytest.param(lambda body, s: "", id="missing-header"),
        pytest.param(lambda body, s: "not-a-jwt", id="garbage"),
        pytest.param(
            lambda body, s: jwt.encode({"iss": s.LIVEKIT_API_KEY, "exp": 9999999999}, None, algorithm="none"),
            id="alg-none",
        ),
        pytest.param(
            lambda body, s: jwt.encode(
                {"iss": s.LIVEKIT_API_KEY, "exp": 9999999999}, s.LIVEKIT_API_SECRET, algorithm="HS256"
            ),
            id="no-body-hash",
        ),
        pytest.param(
            lambda body, s: sign_webhook(
                body, s.LIVEKIT_API_KEY, s.LIVEKIT_API_SECRET, now=datetime.now(UTC) - timedelta(minutes=7)
            ),
            id="expired",
        ),
        pytest.param(
            lambda body, s: sign_webhook(
                body,
                s.LIVEKIT_API_KEY,
                s.LIVEKIT_API_SECRET,
                valid_for=datetime(2100, 1, 1, tzinfo=UTC) - datetime.now(UTC),
            ),
            id="valid-until-2100",
        ),
        pytest.param(
            lambda body, s: sign_webhook(body, s.LIVEKIT_API_KEY, s.LIVEKIT_API_SECRET, valid_for=timedelta(hours=1)),
            id="valid-for-an-hour",
        ),
    ],
)
def test_a_badly_signed_webhook_is_401_and_nothing_is_stored(webhooks, settings, forge):
    body = event_body("room_started", room={"sid": "RM_x", "name": "n"})
    response = webhooks.post(body, authorization=forge(body, settings))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "bad_signature"
    assert InboundEvent.objects.count() == 0


@pytest.mark.parametrize("mangle", [_tampered, _reserialized], ids=["tampered-body", "reserialized-body"])
def test_a_body_changed_after_signing_is_401(webhooks, settings, mangle):
    body = event_body("room_started", room={"sid": "RM_x", "name": "n"})
    auth = sign_webhook(body, settings.LIVEKIT_API_KEY, settings.LIVEKIT_API_SECRET)
    assert webhooks.post(mangle(body), authorization=auth).status_code == 401
    assert InboundEvent.objects.count() == 0


def test_a_rotated_key_listed_as_extra_is_accepted(webhooks, settings):
    import providers

    settings.LIVEKIT_WEBHOOK_KEYS = {**settings.LIVEKIT_WEBHOOK_KEYS, "oldkey": "o" * 40}
    providers.get.cache_clear()
    body = event_body("room_started", room={"sid": "RM_x", "name": "n"})
    assert webhooks.post(body, authorization=sign_webhook(body, "oldkey", "o" * 40)).status_code == 200


def test_an_oversized_body_is_413_without_parsing(webhooks, settings):
    settings.CONVENE_WEBHOOK_MAX_BYTES = 1024
    body = event_body("room_started", room={"sid": "RM_x", "name": "n", "metadata": "x" * 2000})
    assert webhooks.post(body).status_code == 413
    assert InboundEvent.objects.count() == 0


def test_a_verified_but_unreadable_body_is_400(webhooks):
    for body in (b"[1, 2]", b"{not json", b'{"id": "EV_1"}'):
        response = webhooks.post(body)
        assert response.status_code == 400, body
        assert response.json()["error"]["code"] == "bad_payload"
    assert InboundEvent.objects.count() == 0


def test_an_unknown_event_kind_is_stored_and_ignored(webhooks):
    webhooks.send("ingress_started", event_id="EV_ing")
    row = InboundEvent.objects.get(provider_event_id="EV_ing")
    assert row.kind == "livekit.ingress_started"
    assert row.status == InboundEventStatus.IGNORED


def test_an_event_for_a_room_convene_does_not_manage_is_ignored(webhooks):
    webhooks.send("room_started", room={"sid": "RM_x", "name": "someone-elses-room"}, event_id="EV_other")
    assert InboundEvent.objects.get().status == InboundEventStatus.IGNORED


def test_get_is_not_allowed_and_an_unknown_provider_is_404(client):
    assert client.get("/webhooks/livekit").status_code == 405
    assert client.post("/webhooks/nope", data=b"{}", content_type="application/json").status_code == 404


@pytest.mark.parametrize("method", ["get", "put", "delete"])
def test_a_method_other_than_post_is_405_in_the_error_shape_with_an_allow_header(client, method):
    response = getattr(client, method)("/webhooks/livekit")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert response["Allow"] == "POST"


INT64_MAX = 2**63 - 1


@pytest.mark.parametrize("created_at", [str(INT64_MAX), "100000000000", "-100000000000", "1e12", "-5"])
def test_a_signed_event_with_an_absurd_time_is_stored_at_its_arrival_time(webhooks, created_at):
    body = json.dumps(
        {"event": "room_started", "room": {"sid": "RM_x", "name": "n"}, "id": "EV_t", "createdAt": created_at}
    ).encode()
    before = datetime.now(UTC)
    assert webhooks.post(body).status_code == 200
    assert before <= InboundEvent.objects.get().occurred_at <= datetime.now(UTC)


def test_names_and_ids_up_to_livekits_limits_are_stored(webhooks):
    event_name, room_name = "e" * 200, "r" * 256
    body = event_body(event_name, event_id="E" * 100, room={"sid": "RM_x", "name": room_name})
    assert webhooks.post(body).status_code == 200
    row = InboundEvent.objects.get()
    assert (row.provider_event_id, row.room_name) == ("E" * 100, room_name)
    assert row.kind == ("livekit." + event_name)[:60]


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"event_id": "E" * 101}, id="event-id-over-100"),
        pytest.param({"room": {"sid": "RM_x", "name": "r" * 257}}, id="room-name-over-256"),
        pytest.param({"room": {"sid": "RM_x", "name": "r\x00"}}, id="room-name-with-nul"),
        pytest.param({"participant": {"sid": "PA_1", "identity": "i" * 257}}, id="identity-over-256"),
    ],
)
def test_a_signed_event_with_an_identifier_beyond_livekits_limits_is_400_and_nothing_is_stored(webhooks, fields):
    response = webhooks.post(event_body("participant_joined", **fields))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_payload"
    assert InboundEvent.objects.count() == 0


def test_the_database_being_down_is_503_so_livekit_retries(webhooks, monkeypatch):
    from django.db import OperationalError

    def down(**kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr("webhooks.views.inbound_events_store", down)
    response = webhooks.post(event_body("room_started", room={"sid": "RM_x", "name": "n"}))
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "unavailable"
