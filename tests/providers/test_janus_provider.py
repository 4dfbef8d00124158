"""The Janus provider against a real Janus 1.1 (devtools/janus.py, started per test): rooms created
and destroyed, join tokens bound to their room and their expiry, removal kicks and bars, and the
real event handler's posts becoming session and participant records."""

from __future__ import annotations

import base64
import time
from datetime import timedelta

import pytest

import providers
from access.roles import role_grants
from devtools.localservers import free_port
from providers.base import ParticipantSpec, ProviderNotFound, ProviderUnavailable, RecordingSpec, RecordingState
from providers.janus import PLUGIN, sign_token
from reconciler.services import provider_reconcile
from rooms.models import CallSession, ParticipantSession, Room
from rooms.services import room_close
from tests.fakes.janus_client import JanusClient
from tests.webhooks.conftest import process_events_until
from webhooks.models import InboundEvent, InboundEventStatus

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


def _janus_rooms(janus, settings) -> dict[str, dict]:
    """Every VideoRoom Janus has, asked with a server token of our own (not through the provider)."""
    client = JanusClient(janus.url, sign_token(settings.JANUS_TOKEN_SECRET, f"{int(time.time()) + 60},janus,{PLUGIN}"))
    client.connect()
    return {
        str(r["room"]): r for r in client.request({"request": "list", "admin_key": settings.JANUS_ADMIN_KEY})["list"]
    }


@pytest.mark.django_db
def test_a_janus_room_is_created_at_janus_with_the_room_and_destroyed_when_it_closes(janus, app_client, settings):
    room = _create_room(app_client, max_participants=4)
    assert room.provider == "janus" and room.provider_room_name.isdigit()
    assert _janus_rooms(janus, settings)[room.provider_room_name]["max_publishers"] == 4
    room_close(room=room, reason="test")
    assert room.provider_room_name not in _janus_rooms(janus, settings)


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
def test_a_janus_join_carries_turn_credentials_for_its_identity_when_turn_is_configured(
    janus, app_client, anon_client, settings
):
    settings.TURN_URLS = ["stun:turn.example:3478", "turn:turn.example:3478?transport=udp"]
    settings.TURN_SECRET = "Qm7Zr2Kx9Lw4Vb1Nh8Jc5Pd3Gy6Sa0Ue"
    room_response = app_client.post(
        "/api/v1/rooms",
        {"provider": "janus", "participants": [{"identity": "pat", "role": "guest", "display_name": "Pat"}]},
        format="json",
    ).json()
    secret = room_response["participants"][0]["url"].rsplit("/", 1)[-1]
    servers = anon_client.post(f"/api/v1/join/{secret}").json()["ice_servers"]
    assert servers[0] == {"urls": ["stun:turn.example:3478"]}
    turn = servers[1]
    assert turn["urls"] == ["turn:turn.example:3478?transport=udp"]
    assert turn["username"].endswith(":pat") and turn["credential"]


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


def test_events_from_janus_open_and_close_the_participant_records(convene_server, janus, app_client):
    room = _create_room(app_client)
    client = JanusClient(janus.url, _token(room, "ann"))
    client.connect()
    joined = client.join(room.provider_room_name, display="Ann")

    def ann_recorded():
        return ParticipantSession.objects.filter(call_session__room=room, identity="ann").exists()

    process_events_until(ann_recorded)
    participant = ParticipantSession.objects.get(call_session__room=room, identity="ann")
    assert participant.provider_participant_id == str(joined["id"]) and participant.left_at is None
    assert participant.call_session.provider_session_id == room.provider_room_name
    client.leave()
    process_events_until(lambda: ParticipantSession.objects.filter(pk=participant.pk, left_at__isnull=False).exists())


def test_a_removed_participant_is_kicked_and_cannot_join_again(convene_server, janus, app_client):
    room = _create_room(app_client, participants=[{"identity": "bob", "role": "guest", "display_name": "Bob"}])
    client = JanusClient(janus.url, _token(room, "bob"))
    client.connect()
    client.join(room.provider_room_name)
    process_events_until(lambda: ParticipantSession.objects.filter(identity="bob").exists())

    response = app_client.post(f"/api/v1/rooms/{room.pk}/participants/bob/remove")
    assert response.status_code in (200, 202, 204), response.content
    process_events_until(lambda: ParticipantSession.objects.filter(identity="bob", left_at__isnull=False).exists())
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
    process_events_until(lambda: ParticipantSession.objects.filter(identity="someone", role=role).exists())
    _publish_event(room, joined["id"], client, settings)
    process_events_until(lambda: not InboundEvent.objects.filter(status=InboundEventStatus.PENDING).exists())
    connected = [p.sid for p in providers.get("janus").list_participants(room=room.as_provider_ref())]
    assert connected == ([str(joined["id"])] if stays else [])


@pytest.mark.django_db
def test_the_reconciler_follows_who_janus_lists_through_an_empty_room_and_back(janus, app_client):
    room = _create_room(app_client)
    provider_reconcile(provider_name="janus")
    assert not CallSession.objects.filter(room=room).exists()  # a VideoRoom nobody is in is no call

    ann = JanusClient(janus.url, _token(room, "ann"))
    ann.connect()
    ann_id = str(ann.join(room.provider_room_name)["id"])
    provider_reconcile(provider_name="janus")
    session = CallSession.objects.get(room=room)
    assert list(session.participants.filter(left_at=None).values_list("provider_participant_id", flat=True)) == [ann_id]

    ann.leave()
    provider_reconcile(provider_name="janus")
    session.refresh_from_db()
    assert session.ended_at is not None and not session.participants.filter(left_at=None).exists()

    bob = JanusClient(janus.url, _token(room, "bob"))
    bob.connect()
    bob_id = str(bob.join(room.provider_room_name)["id"])
    provider_reconcile(provider_name="janus")
    session.refresh_from_db()
    assert session.ended_at is None
    assert list(session.participants.filter(left_at=None).values_list("provider_participant_id", flat=True)) == [bob_id]


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
