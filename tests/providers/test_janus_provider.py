"""The Janus provider against a real Janus 1.1 (scripts/janus.py, started per test): rooms created
and destroyed, join tokens bound to their room and their expiry, removal kicks and bars, and the
real event handler's posts becoming session and participant records."""

from __future__ import annotations

import base64
import time
from datetime import timedelta

import pytest
from pytest_django.live_server_helper import LiveServer

import providers
from providers.base import ParticipantSpec, ProviderNotFound, ProviderUnavailable, RecordingSpec, RecordingState
from rooms.models import ParticipantSession, Room
from rooms.services import room_close
from scripts.localservers import free_port
from tests.fakes.janus_client import JanusClient
from tokens.roles import role_grants
from webhooks.models import InboundEvent, InboundEventStatus
from webhooks.services import inbound_event_process, provider_reconcile

UNAUTHORIZED = 433  # VideoRoom: the join token is not in the room's allowed list


def _create_room(app_client, **fields) -> Room:
    response = app_client.post("/api/v1/rooms", {"provider": "janus", **fields}, format="json")
    assert response.status_code == 201, response.json()
    return Room.objects.get(pk=response.json()["id"])


def _token(room: Room, identity: str, ttl: int = 60, role: str = "guest") -> str:
    spec = ParticipantSpec(identity=identity, display_name=identity, role=role, grants=role_grants(role))
    credentials = providers.get("janus").join_credentials(
        room=room.as_provider_ref(), participant=spec, ttl=timedelta(seconds=ttl)
    )
    return credentials.token


def _live_room_names() -> set[str]:
    return {r.name for r in providers.get("janus").list_live_rooms()}


@pytest.mark.django_db
def test_a_janus_room_is_created_at_janus_with_the_room_and_destroyed_when_it_closes(janus, app_client):
    room = _create_room(app_client, max_participants=4)
    assert room.provider == "janus" and room.provider_room_name.isdigit()
    assert room.provider_room_name in _live_room_names()
    room_close(room=room, reason="test")
    assert room.provider_room_name not in _live_room_names()


@pytest.mark.django_db
def test_a_token_joins_its_own_room_and_is_refused_in_another(janus, app_client):
    room_a, room_b = _create_room(app_client), _create_room(app_client)
    token = _token(room_a, "ann")
    client = JanusClient(janus.url, token)
    assert client.connect()["janus"] == "success"
    assert client.join(room_b.provider_room_name)["error_code"] == UNAUTHORIZED
    assert client.join(room_a.provider_room_name)["videoroom"] == "joined"


@pytest.mark.django_db
def test_a_join_link_for_a_janus_room_answers_what_janus_js_needs_and_its_token_joins(janus, app_client, anon_client):
    room_response = app_client.post(
        "/api/v1/rooms",
        {"provider": "janus", "participants": [{"identity": "pat", "role": "guest", "display_name": "Pat"}]},
        format="json",
    ).json()
    secret = room_response["participants"][0]["url"].rsplit("/", 1)[-1]
    body = anon_client.post(f"/api/v1/join/{secret}").json()
    assert {
        "provider",
        "server_url",
        "token",
        "room_name",
        "identity",
        "display_name",
        "role",
        "expires_at",
        "ice_servers",
    } <= set(body)
    assert body["provider"] == "janus" and body["server_url"] == janus.url
    assert body["room_name"] == room_response["provider_room_name"] and body["ice_servers"] == []
    client = JanusClient(body["server_url"], body["token"])
    client.connect()
    assert client.join(body["room_name"], display=body["display_name"])["videoroom"] == "joined"


@pytest.mark.django_db
def test_an_expired_token_is_refused(janus, app_client):
    room = _create_room(app_client)
    token = _token(room, "ann", ttl=1)
    time.sleep(2.1)
    answer = JanusClient(janus.url, token).connect()
    assert answer["janus"] == "error" and answer["error"]["code"] == 403


@pytest.mark.django_db
def test_a_room_janus_lost_is_created_again_before_the_next_join(janus, app_client):
    room = _create_room(app_client)
    providers.get("janus").close_room(room=room.as_provider_ref())
    client = JanusClient(janus.url, _token(room, "ann"))
    client.connect()
    assert client.join(room.provider_room_name)["videoroom"] == "joined"


@pytest.fixture
def convene_server(transactional_db, settings):
    """Convene served on 127.0.0.1 for Janus's event handler (start it before Janus: Janus posts
    only to a listener that is up)."""
    server = LiveServer("127.0.0.1:0")
    server._live_server_modified_settings.enable()
    settings.JANUS_TEST_WEBHOOK_URL = server.url + "/webhooks/janus"
    yield server
    server._live_server_modified_settings.disable()
    server.stop()


def _process_events_until(predicate, timeout: float = 10) -> None:
    """Apply stored events as the worker would, until `predicate()` holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for event_id in InboundEvent.objects.filter(status=InboundEventStatus.PENDING).values_list("pk", flat=True):
            inbound_event_process(event_id=event_id)
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("the events did not arrive or did not apply")


def test_events_from_janus_make_the_session_and_participant_records(convene_server, janus, app_client):
    room = _create_room(app_client)
    client = JanusClient(janus.url, _token(room, "ann"))
    client.connect()
    joined = client.join(room.provider_room_name, display="Ann")

    def ann_recorded():
        return ParticipantSession.objects.filter(call_session__room=room, identity="ann").exists()

    _process_events_until(ann_recorded)
    participant = ParticipantSession.objects.get(call_session__room=room, identity="ann")
    assert participant.provider_participant_id == str(joined["id"]) and participant.left_at is None
    assert participant.call_session.provider_session_id == room.provider_room_name


def test_a_removed_participant_is_kicked_and_cannot_join_again(convene_server, janus, app_client):
    room = _create_room(app_client, participants=[{"identity": "bob", "role": "guest", "display_name": "Bob"}])
    client = JanusClient(janus.url, _token(room, "bob"))
    client.connect()
    client.join(room.provider_room_name)
    _process_events_until(lambda: ParticipantSession.objects.filter(identity="bob").exists())

    response = app_client.post(f"/api/v1/rooms/{room.pk}/participants/bob/remove")
    assert response.status_code in (200, 202, 204), response.content
    _process_events_until(lambda: ParticipantSession.objects.filter(identity="bob", left_at__isnull=False).exists())
    assert not providers.get("janus").list_participants(room=room.as_provider_ref())
    again = JanusClient(janus.url, client.token)
    again.connect()
    assert again.join(room.provider_room_name)["error_code"] == UNAUTHORIZED


def _publish_event(room: Room, participant_id: int, client, settings) -> None:
    """Post what Janus's event handler posts once a publisher's media is up (making Janus send
    it needs a browser), as Janus would: basic auth, a JSON array."""
    streams = [{"type": "audio", "mindex": 0, "mid": "0", "codec": "opus"}]
    data = {"event": "published", "room": int(room.provider_room_name), "id": participant_id, "streams": streams}
    event = {
        "type": 64,
        "timestamp": int(time.time() * 1e6),
        "event": {"plugin": "janus.plugin.videoroom", "data": data},
    }
    auth = "Basic " + base64.b64encode(f"janus:{settings.JANUS_WEBHOOK_PASSWORD}".encode()).decode()
    response = client.post("/webhooks/janus", [event], content_type="application/json", HTTP_AUTHORIZATION=auth)
    assert response.status_code == 200


@pytest.mark.parametrize(("role", "stays"), [("observer", False), ("guest", True)])
def test_a_participant_whose_role_cannot_publish_is_disconnected_when_it_publishes(
    convene_server, janus, app_client, client, settings, role, stays
):
    room = _create_room(app_client)
    someone = JanusClient(janus.url, _token(room, "someone", role=role))
    someone.connect()
    joined = someone.join(room.provider_room_name)
    _process_events_until(lambda: ParticipantSession.objects.filter(identity="someone", role=role).exists())
    _publish_event(room, joined["id"], client, settings)
    _process_events_until(lambda: not InboundEvent.objects.filter(status=InboundEventStatus.PENDING).exists())
    connected = [p.sid for p in providers.get("janus").list_participants(room=room.as_provider_ref())]
    assert connected == ([str(joined["id"])] if stays else [])


@pytest.mark.django_db
def test_the_reconciler_opens_and_closes_participants_from_what_janus_lists(janus, app_client):
    room = _create_room(app_client)
    client = JanusClient(janus.url, _token(room, "ann"))
    client.connect()
    joined = client.join(room.provider_room_name)
    provider_reconcile(provider_name="janus")
    participant = ParticipantSession.objects.get(call_session__room=room)
    assert participant.provider_participant_id == str(joined["id"]) and participant.left_at is None
    client.leave()
    provider_reconcile(provider_name="janus")
    participant.refresh_from_db()
    assert participant.left_at is not None


@pytest.mark.django_db
def test_recording_turns_on_in_the_live_room_into_a_folder_of_its_own_and_off_again(janus, app_client):
    room = _create_room(app_client)
    provider = providers.get("janus")
    started = provider.start_recording(room=room.as_provider_ref(), spec=RecordingSpec(location="unused"))
    assert started.state == RecordingState.ACTIVE and started.room_name == room.provider_room_name
    assert started.source_dir == f"{janus.recording_dir}/{started.recording_id}"
    assert started.source_prefix == f"videoroom-{room.provider_room_name}-"
    assert provider.list_recordings(recording_id=started.recording_id)[0].state == RecordingState.ACTIVE
    stopped = provider.stop_recording(recording_id=started.recording_id)
    assert stopped.state == RecordingState.ENDING and stopped.source_dir == started.source_dir
    assert provider.list_recordings(recording_id=started.recording_id)[0].state == RecordingState.ENDING


@pytest.mark.django_db
def test_recording_a_room_janus_does_not_have_is_not_found(janus, app_client):
    room = _create_room(app_client)
    providers.get("janus").close_room(room=room.as_provider_ref())
    with pytest.raises(ProviderNotFound):
        providers.get("janus").start_recording(room=room.as_provider_ref(), spec=RecordingSpec(location="unused"))


def test_an_unreachable_janus_is_unavailable_within_the_deadline(settings):
    settings.JANUS_URL, settings.JANUS_TIMEOUT_SECONDS = f"http://127.0.0.1:{free_port()}/janus", 1.0
    started = time.monotonic()
    with pytest.raises(ProviderUnavailable):
        providers.get("janus").list_live_rooms()
    assert time.monotonic() - started < 2


@pytest.mark.django_db
def test_a_join_while_janus_is_down_is_a_503_and_does_not_use_up_the_link(janus, app_client, anon_client):
    participants = [{"identity": "pat", "role": "guest", "display_name": "Pat"}]
    created = app_client.post("/api/v1/rooms", {"provider": "janus", "participants": participants}, format="json")
    secret = created.json()["participants"][0]["url"].rsplit("/", 1)[-1]
    invitation = Room.objects.get(pk=created.json()["id"]).invitations.get()
    janus.stop()
    response = anon_client.post(f"/api/v1/join/{secret}")
    assert response.status_code == 503 and response.json()["error"]["code"] == "provider_unavailable"
    invitation.refresh_from_db()
    assert invitation.uses == 0
