"""Object-level authorization: application B's key never reaches application A's objects.

Every endpoint that takes an object id answers B with the same 404 as for an id that does not
exist (never 403, which would confirm the object exists), and nothing changes: no row, no audit
row, no call to the media server. Lists show only the caller's objects. A request without a
usable key is a 401 on every endpoint.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from access.models import Invitation
from core.models import ApplicationAPIKey, AuditEvent
from rooms.models import Room, RoomStatus
from tests.api.state import database_state
from tests.factories import InvitationFactory, RoomFactory

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class Call:
    method: str
    path: str  # "{room}" and "{invitation}" are replaced by the ids of application A's objects
    body: dict[str, Any] | None = None
    reaches_provider: bool = False  # when allowed, the call asks the media server to act

    def url(self, *, room: Any, invitation: Any) -> str:
        return self.path.format(room=room, invitation=invitation)


OBJECT_CALLS = {
    "get a room": Call("get", "/api/v1/rooms/{room}"),
    "update a room": Call("patch", "/api/v1/rooms/{room}", {"title": "Taken over", "max_participants": 99}),
    "update a room with a body that is itself invalid": Call("patch", "/api/v1/rooms/{room}", {"title": "x" * 300}),
    "close a room": Call("post", "/api/v1/rooms/{room}/close", reaches_provider=True),
    "list a room's invitations": Call("get", "/api/v1/rooms/{room}/invitations"),
    "create an invitation in a room": Call(
        "post", "/api/v1/rooms/{room}/invitations", {"display_name": "Intruder", "role": "host"}
    ),
    "create an invitation with a body that is itself invalid": Call(
        "post", "/api/v1/rooms/{room}/invitations", {"role": "no-such-role"}
    ),
    "issue a token for a room": Call(
        "post", "/api/v1/rooms/{room}/tokens", {"identity": "intruder", "display_name": "Intruder", "role": "host"}
    ),
    "get an invitation": Call("get", "/api/v1/invitations/{invitation}"),
    "revoke an invitation": Call("delete", "/api/v1/invitations/{invitation}", reaches_provider=True),
}
COLLECTION_CALLS = {
    "list rooms": Call("get", "/api/v1/rooms"),
    "create a room": Call("post", "/api/v1/rooms", {"external_id": "visit-new", "title": "New"}),
}
VALID_OBJECT_CALLS = {name: call for name, call in OBJECT_CALLS.items() if "invalid" not in name}
ALL_CALLS = {**COLLECTION_CALLS, **VALID_OBJECT_CALLS}


@pytest.fixture
def provider_requests(request, call):
    """What the fake LiveKit server was asked, for the calls that would reach it (the fake costs
    half a second to stop, so the other calls run against the unreachable default URL)."""
    if not call.reaches_provider:
        return list
    fake = request.getfixturevalue("fake_livekit")
    return lambda: fake.requests


def send(client, call: Call, *, room: Any, invitation: Any):
    return getattr(client, call.method)(call.url(room=room, invitation=invitation), call.body, format="json")


@pytest.fixture
def owned(app_client):
    """Application A's open room with one active join link."""
    room = RoomFactory(application=app_client.application, external_id="visit-1", title="A's room")
    invitation = InvitationFactory(room=room, role="guest", identity="patient-1")
    return room, invitation


def assert_not_found(response) -> None:
    assert response.status_code == 404, response.content
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("call", OBJECT_CALLS.values(), ids=OBJECT_CALLS.keys())
def test_another_applications_key_on_an_object_gets_not_found_and_changes_nothing(
    call, owned, app_client, other_client, provider_requests
):
    room, invitation = owned
    before = database_state()

    response = send(other_client, call, room=room.pk, invitation=invitation.pk)

    assert_not_found(response)
    assert str(room.pk) not in response.content.decode()
    assert database_state() == before
    assert not AuditEvent.objects.filter(application=other_client.application).exists()
    assert provider_requests() == []


@pytest.mark.parametrize("call", OBJECT_CALLS.values(), ids=OBJECT_CALLS.keys())
def test_another_applications_object_is_indistinguishable_from_a_missing_one(
    call, owned, other_client, provider_requests
):
    room, invitation = owned
    theirs = send(other_client, call, room=room.pk, invitation=invitation.pk)
    missing = send(other_client, call, room=uuid.uuid4(), invitation=uuid.uuid4())
    assert (theirs.status_code, theirs.json()) == (missing.status_code, missing.json())


@pytest.mark.parametrize("call", VALID_OBJECT_CALLS.values(), ids=VALID_OBJECT_CALLS.keys())
def test_the_owning_applications_key_on_the_same_request_succeeds(call, owned, app_client, provider_requests):
    """The control for the test above: the path and body are right, so B's 404 is authorization."""
    room, invitation = owned
    response = send(app_client, call, room=room.pk, invitation=invitation.pk)
    assert 200 <= response.status_code < 300, response.content
    assert bool(provider_requests()) == call.reaches_provider


def test_another_applications_close_leaves_the_room_open(owned, other_client, fake_livekit):
    room, _ = owned
    other_client.post(f"/api/v1/rooms/{room.pk}/close")
    room.refresh_from_db()
    assert room.status == RoomStatus.OPEN
    assert room.closed_at is None and room.provider_closed_at is None


def test_another_applications_revoke_leaves_the_link_usable(owned, other_client, anon_client, fake_livekit):
    _, invitation = owned
    other_client.delete(f"/api/v1/invitations/{invitation.pk}")
    invitation.refresh_from_db()
    assert invitation.revoked_at is None
    assert anon_client.post(f"/api/v1/join/{invitation.secret}").status_code == 200


def test_another_applications_invitation_is_not_created_in_the_room(owned, other_client):
    room, _ = owned
    other_client.post(
        f"/api/v1/rooms/{room.pk}/invitations", {"display_name": "Intruder", "role": "host"}, format="json"
    )
    assert list(Invitation.objects.filter(room=room).values_list("identity", flat=True)) == ["patient-1"]


def test_room_list_shows_only_the_callers_rooms(app_client, other_client):
    mine = {str(RoomFactory(application=app_client.application).pk) for _ in range(2)}
    theirs = str(RoomFactory(application=other_client.application).pk)

    body = app_client.get("/api/v1/rooms").json()

    assert {r["id"] for r in body["results"]} == mine
    assert body["count"] == 2
    assert theirs not in str(body)
    assert [r["id"] for r in other_client.get("/api/v1/rooms").json()["results"]] == [theirs]


def test_room_list_filtered_by_another_applications_external_id_is_empty(app_client, other_client):
    RoomFactory(application=app_client.application, external_id="visit-a")
    RoomFactory(application=other_client.application, external_id="visit-b")

    body = app_client.get("/api/v1/rooms", {"external_id": "visit-b"}).json()

    assert body["count"] == 0 and body["results"] == []


def test_room_list_filtered_by_an_external_id_both_applications_use_shows_only_the_callers_room(
    app_client, other_client
):
    mine = RoomFactory(application=app_client.application, external_id="visit-1")
    RoomFactory(application=other_client.application, external_id="visit-1")

    body = app_client.get("/api/v1/rooms", {"external_id": "visit-1"}).json()

    assert [r["id"] for r in body["results"]] == [str(mine.pk)]


def test_room_list_filtered_by_status_shows_only_the_callers_rooms(app_client, other_client):
    mine = RoomFactory(application=app_client.application, status=RoomStatus.CLOSED)
    RoomFactory(application=other_client.application, status=RoomStatus.CLOSED)

    body = app_client.get("/api/v1/rooms", {"status": "closed"}).json()

    assert [r["id"] for r in body["results"]] == [str(mine.pk)]


def test_invitation_list_shows_only_the_rooms_own_links(app_client, other_client):
    room = RoomFactory(application=app_client.application)
    links = {str(InvitationFactory(room=room).pk) for _ in range(2)}
    InvitationFactory(room=RoomFactory(application=app_client.application))
    InvitationFactory(room=RoomFactory(application=other_client.application))

    body = app_client.get(f"/api/v1/rooms/{room.pk}/invitations").json()

    assert {i["id"] for i in body["results"]} == links
    assert body["count"] == 2


def test_creating_a_room_with_another_applications_external_id_makes_the_callers_own_room(app_client, other_client):
    theirs = RoomFactory(application=other_client.application, external_id="visit-1", title="B's room")

    response = app_client.post("/api/v1/rooms", {"external_id": "visit-1", "title": "A's room"}, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["id"] != str(theirs.pk)
    assert Room.objects.get(pk=response.json()["id"]).application == app_client.application
    theirs.refresh_from_db()
    assert theirs.title == "B's room"


# -- authentication ---------------------------------------------------------------------------


def _no_key(client) -> None:
    client.credentials()


def _unknown_key(client) -> None:
    client.credentials(HTTP_AUTHORIZATION="Api-Key NotAKey.NotASecret")


def _right_prefix_wrong_secret(client) -> None:
    prefix = client.api_key.partition(".")[0]
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {prefix}.wrong-secret")


def _key_under_another_scheme(client) -> None:
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {client.api_key}")


def _revoked_key(client) -> None:
    ApplicationAPIKey.objects.filter(application=client.application).update(revoked=True)


def _expired_key(client) -> None:
    ApplicationAPIKey.objects.filter(application=client.application).update(
        expiry_date=timezone.now() - timedelta(minutes=1)
    )


def _key_of_a_deactivated_application(client) -> None:
    type(client.application).objects.filter(pk=client.application.pk).update(is_active=False)


UNUSABLE_KEYS = {
    "no key": _no_key,
    "an unknown key": _unknown_key,
    "a known prefix with a wrong secret": _right_prefix_wrong_secret,
    "the key under another scheme": _key_under_another_scheme,
    "a revoked key": _revoked_key,
    "an expired key": _expired_key,
    "the key of a deactivated application": _key_of_a_deactivated_application,
}


@pytest.mark.parametrize("spoil", UNUSABLE_KEYS.values(), ids=UNUSABLE_KEYS.keys())
@pytest.mark.parametrize("call", ALL_CALLS.values(), ids=ALL_CALLS.keys())
def test_a_request_without_a_usable_key_is_not_authenticated_and_changes_nothing(
    call, spoil, owned, app_client, provider_requests
):
    room, invitation = owned
    spoil(app_client)
    before = database_state()

    response = send(app_client, call, room=room.pk, invitation=invitation.pk)

    assert response.status_code == 401, response.content
    assert response.json()["error"]["code"] == "not_authenticated"
    assert response.headers["WWW-Authenticate"] == "Api-Key"
    assert database_state() == before
    assert provider_requests() == []
