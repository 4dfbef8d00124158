"""The waiting room (access/services/lobby.py): a guest's join waits (202, no token) until a host
admits them, from the API with the application's key or from the host's page with the host's
link; a denial is final for that link; every decision is audited; stale entries expire."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from access.models import LobbyEntry, LobbyStatus
from core.models import AuditEvent
from tests.factories import InvitationFactory, RoomFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def room(app_client, fake_livekit):
    return RoomFactory(application=app_client.application, waiting_room=True)


def join(client, link):
    return client.post(f"/api/v1/join/{link.secret}")


def test_waiting_room_is_set_on_create_and_update(app_client):
    created = app_client.post("/api/v1/rooms", {"title": "Visit", "waiting_room": True}, format="json")
    assert created.status_code == 201 and created.json()["waiting_room"] is True
    updated = app_client.patch(f"/api/v1/rooms/{created.json()['id']}", {"waiting_room": False}, format="json")
    assert updated.json()["waiting_room"] is False


def test_a_guest_waits_instead_of_getting_a_token_and_shows_in_the_lobby(anon_client, app_client, room):
    guest = InvitationFactory(room=room, display_name="Ana")
    response = join(anon_client, guest)
    assert response.status_code == 202
    body = response.json()
    assert body["waiting"] is True and "token" not in body
    assert body["lobby_entry"]["status"] == "waiting"
    lobby = app_client.get(f"/api/v1/rooms/{room.pk}/lobby").json()
    assert [(e["id"], e["display_name"]) for e in lobby["results"]] == [(body["lobby_entry"]["id"], "Ana")]
    guest.refresh_from_db()
    assert guest.uses == 0  # waiting uses nothing up


def test_knocking_again_keeps_one_waiting_entry(anon_client, room):
    guest = InvitationFactory(room=room)
    first, second = join(anon_client, guest).json(), join(anon_client, guest).json()
    assert first["lobby_entry"]["id"] == second["lobby_entry"]["id"]
    assert LobbyEntry.objects.filter(invitation=guest).count() == 1


def test_a_host_never_waits(anon_client, room):
    host = InvitationFactory(room=room, role="host")
    assert join(anon_client, host).status_code == 200


def test_the_application_admits_a_guest_who_then_gets_a_token_and_it_is_audited(anon_client, app_client, room):
    guest = InvitationFactory(room=room)
    entry_id = join(anon_client, guest).json()["lobby_entry"]["id"]
    admitted = app_client.post(f"/api/v1/rooms/{room.pk}/lobby/{entry_id}/admit")
    assert admitted.status_code == 200 and admitted.json()["status"] == "admitted"
    assert join(anon_client, guest).status_code == 200
    assert join(anon_client, guest).status_code == 200  # a reload or reconnect does not wait again
    audit = AuditEvent.objects.get(action="lobby.admit")
    assert audit.object_id == entry_id and audit.actor_type == "application"


def test_a_host_denies_from_their_link_and_the_guest_is_refused_from_then_on(anon_client, room):
    host = InvitationFactory(room=room, role="host")
    guest = InvitationFactory(room=room)
    entry_id = join(anon_client, guest).json()["lobby_entry"]["id"]
    denied = anon_client.post(f"/api/v1/join/{host.secret}/lobby/{entry_id}/deny")
    assert denied.status_code == 200 and denied.json()["status"] == "denied"
    refused = join(anon_client, guest)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "lobby_denied"
    audit = AuditEvent.objects.get(action="lobby.deny")
    assert (audit.actor_type, audit.actor_id) == ("link", str(host.pk))
    page = anon_client.get(f"/join/{guest.secret}")
    assert page.status_code == 403 and 'data-state="lobby_denied"' in page.content.decode()


def test_a_guest_link_cannot_admit_anyone(anon_client, room):
    guest, other = InvitationFactory(room=room), InvitationFactory(room=room)
    entry_id = join(anon_client, other).json()["lobby_entry"]["id"]
    response = anon_client.post(f"/api/v1/join/{guest.secret}/lobby/{entry_id}/admit")
    assert response.status_code == 403 and response.json()["error"]["code"] == "not_a_host"
    assert LobbyEntry.objects.get(pk=entry_id).status == LobbyStatus.WAITING


def test_a_decided_entry_cannot_be_decided_the_other_way(anon_client, app_client, room):
    guest = InvitationFactory(room=room)
    entry_id = join(anon_client, guest).json()["lobby_entry"]["id"]
    app_client.post(f"/api/v1/rooms/{room.pk}/lobby/{entry_id}/deny")
    assert app_client.post(f"/api/v1/rooms/{room.pk}/lobby/{entry_id}/deny").status_code == 200  # idempotent
    conflict = app_client.post(f"/api/v1/rooms/{room.pk}/lobby/{entry_id}/admit")
    assert conflict.status_code == 409 and conflict.json()["error"]["code"] == "lobby_entry_decided"
    assert AuditEvent.objects.filter(action__startswith="lobby.").count() == 1


def test_another_applications_key_cannot_see_or_decide(anon_client, other_client, room):
    entry_id = join(anon_client, InvitationFactory(room=room)).json()["lobby_entry"]["id"]
    assert other_client.get(f"/api/v1/rooms/{room.pk}/lobby").status_code == 404
    assert other_client.post(f"/api/v1/rooms/{room.pk}/lobby/{entry_id}/admit").status_code == 404


def test_a_guest_whose_page_stopped_listening_leaves_the_lobby_and_may_knock_again(
    anon_client, app_client, room, settings
):
    guest = InvitationFactory(room=room)
    entry_id = join(anon_client, guest).json()["lobby_entry"]["id"]
    LobbyEntry.objects.filter(pk=entry_id).update(
        last_seen_at=timezone.now() - timedelta(seconds=settings.CONVENE_LOBBY_PRESENCE_SECONDS + 1)
    )
    assert app_client.get(f"/api/v1/rooms/{room.pk}/lobby").json()["results"] == []
    assert LobbyEntry.objects.get(pk=entry_id).status == LobbyStatus.EXPIRED
    again = join(anon_client, guest).json()
    assert again["lobby_entry"]["id"] != entry_id and again["lobby_entry"]["status"] == "waiting"


def test_the_event_stream_tells_a_waiting_guest_they_were_admitted(anon_client, app_client, room, settings):
    settings.CONVENE_JOIN_EVENTS_STREAM_SECONDS = 0
    guest = InvitationFactory(room=room)
    entry_id = join(anon_client, guest).json()["lobby_entry"]["id"]
    app_client.post(f"/api/v1/rooms/{room.pk}/lobby/{entry_id}/admit")
    response = anon_client.get(f"/api/v1/join/{guest.secret}/events")
    assert response["Content-Type"] == "text/event-stream"
    body = b"".join(response.streaming_content).decode()
    assert f'"lobby_entry":{{"id":"{entry_id}","status":"admitted"}}' in body
    assert '"recording":false' in body


def test_listening_to_events_does_not_use_up_the_join_limit(anon_client, room, settings):
    settings.CONVENE_JOIN_EVENTS_STREAM_SECONDS = 0
    settings.CONVENE_JOIN_RATE_LIMIT = "2/min"
    host = InvitationFactory(room=room, role="host")
    address = {"REMOTE_ADDR": "192.0.2.81"}
    for _ in range(5):
        assert anon_client.get(f"/api/v1/join/{host.secret}/events", **address).status_code == 200
    assert anon_client.post(f"/api/v1/join/{host.secret}", **address).status_code == 200


def test_events_for_an_unknown_link_are_a_404_in_the_error_shape(anon_client):
    response = anon_client.get("/api/v1/join/no-such-link/events")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
