"""Input validation and mass assignment: every bad request is a 4xx with a JSON error code, never a 500, and
leaves the database exactly as it was.

Codes, as core/errors.py produces them: a body that is not JSON is `malformed_request`; a field
the endpoint does not declare is `unknown_field` (so `status`, provider ids or `uses` cannot be
mass-assigned); a role that is not configured is `unknown_role`; any other serializer error is
`invalid` with the field named in details.fields; a window that closes before it opens is
`invalid_window`.
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from access.models import Invitation
from core.models import AuditEvent
from rooms.models import Room, RoomStatus
from tests.api.state import database_state
from tests.factories import InvitationFactory, RoomFactory

pytestmark = pytest.mark.django_db

BODY_ENDPOINTS = {
    "create a room": ("post", "/api/v1/rooms"),
    "update a room": ("patch", "/api/v1/rooms/{room}"),
    "create an invitation": ("post", "/api/v1/rooms/{room}/invitations"),
    "issue a token": ("post", "/api/v1/rooms/{room}/tokens"),
    "publish a consent notice": ("post", "/api/v1/consent-notices"),
    "create a webhook endpoint": ("post", "/api/v1/webhook-endpoints"),
}
VALID_BODIES = {
    "create a room": {"external_id": "visit-9", "title": "Visit"},
    "update a room": {"title": "Renamed"},
    "create an invitation": {"display_name": "Pat", "role": "guest"},
    "issue a token": {"identity": "dr-1", "display_name": "Dr Who", "role": "host"},
    "publish a consent notice": {"text": "We record this call."},
    "create a webhook endpoint": {"url": "https://hooks.example.com/convene", "events": ["room.closed"]},
}
ROOM_PATHS = [
    "/api/v1/rooms/{id}",
    "/api/v1/rooms/{id}/close",
    "/api/v1/rooms/{id}/invitations",
    "/api/v1/rooms/{id}/tokens",
    "/api/v1/invitations/{id}",
    "/api/v1/webhook-endpoints/{id}",
    "/api/v1/webhook-endpoints/{id}/deliveries",
]


@pytest.fixture(autouse=True)
def _webhook_hosts_resolve_to_a_public_address(monkeypatch):
    """The SSRF guard resolves a webhook URL's host: here without asking any name server."""
    from outbound import urlguard

    monkeypatch.setattr(urlguard, "resolve", lambda host, port: ["93.184.215.14"])


@pytest.fixture
def room(app_client):
    return RoomFactory(application=app_client.application, title="Visit")


def send_raw(client, endpoint: str, body: bytes | str, *, room, content_type: str = "application/json"):
    method, path = BODY_ENDPOINTS[endpoint]
    return client.generic(method.upper(), path.format(room=room.pk), body, content_type=content_type)


def send_json(client, endpoint: str, body: Any, *, room):
    """Encode with json.dumps (ASCII escapes), so bodies DRF's test renderer cannot encode, such as
    a lone surrogate, still reach the server as the valid JSON a client could send."""
    method, path = BODY_ENDPOINTS[endpoint]
    return getattr(client, method)(path.format(room=room.pk), data=json.dumps(body), content_type="application/json")


def assert_refused(response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == code, error
    assert set(error) == {"code", "message", "details"}
    return error


@pytest.mark.parametrize("endpoint", BODY_ENDPOINTS)
def test_the_valid_body_each_case_below_starts_from_is_accepted(endpoint, app_client, room):
    """The control for this module: a refusal below is caused by what the case changed."""
    response = send_json(app_client, endpoint, VALID_BODIES[endpoint], room=room)
    assert response.status_code in (200, 201), response.content


# -- bodies that are not a JSON object -------------------------------------------------------

NOT_AN_OBJECT = {
    "malformed JSON": ('{"title": "Visit"', "malformed_request"),
    "JSON with a trailing comma": ('{"title": "Visit",}', "malformed_request"),
    "bytes that are not UTF-8": (b'{"title": "\xff"}', "malformed_request"),
    "NaN, which JSON does not have": ('{"max_participants": NaN}', "malformed_request"),
    "an array": ('[{"title": "Visit"}]', "invalid"),
    "a string": ('"Visit"', "invalid"),
    "a number": ("42", "invalid"),
    "null": ("null", "invalid"),
    "an array nested thousands deep": ('{"metadata": ' + "[" * 10_000 + "]" * 10_000 + "}", "malformed_request"),
}


@pytest.mark.parametrize(("body", "code"), NOT_AN_OBJECT.values(), ids=NOT_AN_OBJECT.keys())
@pytest.mark.parametrize("endpoint", BODY_ENDPOINTS)
def test_a_body_that_is_not_a_json_object_is_refused_and_changes_nothing(endpoint, body, code, app_client, room):
    before = database_state()
    response = send_raw(app_client, endpoint, body, room=room)
    assert_refused(response, 400, code)
    assert database_state() == before


@pytest.mark.parametrize(
    "content_type",
    ["application/x-www-form-urlencoded", "multipart/form-data; boundary=xyz", "text/plain"],
)
@pytest.mark.parametrize("endpoint", BODY_ENDPOINTS)
def test_a_body_that_is_not_json_is_an_unsupported_media_type(endpoint, content_type, app_client, room):
    before = database_state()
    response = send_raw(app_client, endpoint, "title=Visit&role=guest", room=room, content_type=content_type)
    assert_refused(response, 415, "unsupported_media_type")
    assert database_state() == before


# -- mass assignment: read-only and unknown fields change nothing -----------------------------

FORBIDDEN_FIELDS = {
    "status": "closed",
    "provider_room_name": "cv_chosen_by_the_caller",
    "provider": "janus",
    "id": str(uuid.uuid4()),
    "uses": 0,
    "revoked_at": None,
    "application": str(uuid.uuid4()),
    "created_at": "2020-01-01T00:00:00Z",
    "secret_hash": "0" * 64,
}


# A room chooses its provider when it is created, and only then.
ACCEPTED_FIELDS = {("create a room", "provider")}


@pytest.mark.parametrize(
    ("endpoint", "field", "value"),
    [
        pytest.param(endpoint, field, value, id=f"{endpoint}-{field}")
        for endpoint in BODY_ENDPOINTS
        for field, value in FORBIDDEN_FIELDS.items()
        if (endpoint, field) not in ACCEPTED_FIELDS
    ],
)
def test_a_field_the_endpoint_does_not_accept_is_refused_as_unknown_and_changes_nothing(
    endpoint, field, value, app_client, room
):
    before = database_state()
    response = send_json(app_client, endpoint, {**VALID_BODIES[endpoint], field: value}, room=room)
    error = assert_refused(response, 400, "unknown_field")
    assert field in error["details"]["fields"]
    assert database_state() == before


@pytest.mark.parametrize(("field", "value"), FORBIDDEN_FIELDS.items(), ids=FORBIDDEN_FIELDS.keys())
def test_a_participant_field_a_join_link_does_not_accept_is_refused_as_unknown(field, value, app_client):
    before = database_state()
    participant = {"display_name": "Pat", "role": "guest", field: value}
    response = app_client.post("/api/v1/rooms", {"title": "Visit", "participants": [participant]}, format="json")
    error = assert_refused(response, 400, "unknown_field")
    assert field in error["details"]["fields"]["participants"]["0"]
    assert database_state() == before


def test_a_room_list_query_parameter_the_endpoint_does_not_accept_is_refused_as_unknown(app_client, other_client):
    response = app_client.get("/api/v1/rooms", {"application": str(other_client.application.pk)})
    assert_refused(response, 400, "unknown_field")


# -- fields of the wrong type, size or shape ---------------------------------------------------

TOO_BIG_METADATA = {"notes": "x" * 4100}
INVALID_FIELDS = {
    # create a room
    "a room whose max_participants is a word": ("create a room", {"max_participants": "many"}, "max_participants"),
    "a room whose max_participants is a numeric string": (
        "create a room",
        {"max_participants": "5"},
        "max_participants",
    ),
    "a room whose max_participants is a fraction": ("create a room", {"max_participants": 2.5}, "max_participants"),
    "a room whose max_participants is a boolean": ("create a room", {"max_participants": True}, "max_participants"),
    "a room whose max_participants is negative": ("create a room", {"max_participants": -1}, "max_participants"),
    "a room whose max_participants is over 1000": ("create a room", {"max_participants": 1001}, "max_participants"),
    "a room whose title is a number": ("create a room", {"title": 123}, "title"),
    "a room whose title is a list": ("create a room", {"title": ["Visit"]}, "title"),
    "a room whose title is null": ("create a room", {"title": None}, "title"),
    "a room whose title is over 200 characters": ("create a room", {"title": "x" * 201}, "title"),
    "a room whose title holds a NUL character": ("create a room", {"title": "Vis\u0000it"}, "title"),
    "a room whose external_id is over 200 characters": ("create a room", {"external_id": "x" * 201}, "external_id"),
    "a room whose opens_at is not a date": ("create a room", {"opens_at": "tomorrow"}, "opens_at"),
    "a room whose opens_at is a unix timestamp": ("create a room", {"opens_at": 1_900_000_000}, "opens_at"),
    "a room whose closes_at is an impossible date": (
        "create a room",
        {"closes_at": "2030-13-45T10:00:00Z"},
        "closes_at",
    ),
    "a room whose opens_at is in year 1": ("create a room", {"opens_at": "0001-01-01T00:00:00Z"}, "opens_at"),
    "a room whose opens_at has no time zone": ("create a room", {"opens_at": "2030-12-01T09:00:00"}, "opens_at"),
    "a room whose opens_at is a date alone": ("create a room", {"opens_at": "2030-12-01"}, "opens_at"),
    "a room whose closes_at has no time zone": ("create a room", {"closes_at": "2030-12-01T09:30"}, "closes_at"),
    "a room whose recording_policy is unknown": ("create a room", {"recording_policy": "always"}, "recording_policy"),
    "a room whose metadata is a string": ("create a room", {"metadata": "vip"}, "metadata"),
    "a room whose metadata is a list": ("create a room", {"metadata": ["vip"]}, "metadata"),
    "a room whose metadata is over 4 KB": ("create a room", {"metadata": TOO_BIG_METADATA}, "metadata"),
    "a room whose metadata holds a NUL character": ("create a room", {"metadata": {"note": "a\u0000b"}}, "metadata"),
    "a room whose metadata key is a NUL character": ("create a room", {"metadata": {"\u0000": 1}}, "metadata"),
    "a room whose metadata holds a lone surrogate": ("create a room", {"metadata": {"note": "\ud800"}}, "metadata"),
    "a room whose participants is not a list": (
        "create a room",
        {"participants": {"display_name": "Pat", "role": "guest"}},
        "participants",
    ),
    "a room with more than 50 participants": (
        "create a room",
        {"participants": [{"display_name": f"P{n}", "role": "guest"} for n in range(51)]},
        "participants",
    ),
    "a participant whose display_name is over 200 characters": (
        "create a room",
        {"participants": [{"display_name": "x" * 201, "role": "guest"}]},
        "participants",
    ),
    "a participant whose identity has a space": (
        "create a room",
        {"participants": [{"display_name": "Pat", "role": "guest", "identity": "pat smith"}]},
        "participants",
    ),
    "a participant whose identity has a slash": (
        "create a room",
        {"participants": [{"display_name": "Pat", "role": "guest", "identity": "../admin"}]},
        "participants",
    ),
    "a participant whose identity is over 128 characters": (
        "create a room",
        {"participants": [{"display_name": "Pat", "role": "guest", "identity": "p" * 129}]},
        "participants",
    ),
    # update a room
    "an update whose title is over 200 characters": ("update a room", {"title": "x" * 201}, "title"),
    "an update whose max_participants is a word": ("update a room", {"max_participants": "many"}, "max_participants"),
    "an update whose closes_at is not a date": ("update a room", {"closes_at": "next week"}, "closes_at"),
    "an update whose opens_at is in year 1": ("update a room", {"opens_at": "0001-01-01T00:00:00Z"}, "opens_at"),
    "an update whose opens_at has no time zone": ("update a room", {"opens_at": "2030-12-01T09:00:00"}, "opens_at"),
    "an update whose metadata is a list": ("update a room", {"metadata": [1, 2]}, "metadata"),
    "an update whose metadata is over 4 KB": ("update a room", {"metadata": TOO_BIG_METADATA}, "metadata"),
    "an update whose metadata holds a NUL character": ("update a room", {"metadata": {"n": "\u0000"}}, "metadata"),
    # create an invitation
    "an invitation with an empty role": ("create an invitation", {"display_name": "Pat", "role": ""}, "role"),
    "an invitation without a display_name": ("create an invitation", {"role": "guest"}, "display_name"),
    "an invitation whose display_name is over 200 characters": (
        "create an invitation",
        {"display_name": "x" * 201, "role": "guest"},
        "display_name",
    ),
    "an invitation whose identity has a space": (
        "create an invitation",
        {"display_name": "Pat", "role": "guest", "identity": "pat smith"},
        "identity",
    ),
    "an invitation whose identity has a slash": (
        "create an invitation",
        {"display_name": "Pat", "role": "guest", "identity": "rooms/pat"},
        "identity",
    ),
    "an invitation whose identity is over 128 characters": (
        "create an invitation",
        {"display_name": "Pat", "role": "guest", "identity": "p" * 129},
        "identity",
    ),
    "an invitation whose max_uses is zero": (
        "create an invitation",
        {"display_name": "Pat", "role": "guest", "max_uses": 0},
        "max_uses",
    ),
    "an invitation whose expires_at is not a date": (
        "create an invitation",
        {"display_name": "Pat", "role": "guest", "expires_at": "soon"},
        "expires_at",
    ),
    "an invitation whose metadata is an object": (
        "create an invitation",
        {"display_name": "Pat", "role": "guest", "metadata": {"vip": True}},
        "metadata",
    ),
    "an invitation whose metadata is over 2000 characters": (
        "create an invitation",
        {"display_name": "Pat", "role": "guest", "metadata": "m" * 2001},
        "metadata",
    ),
    # issue a token
    "a token without an identity": ("issue a token", {"display_name": "Dr", "role": "host"}, "identity"),
    "a token whose identity has a space": (
        "issue a token",
        {"identity": "dr one", "display_name": "Dr", "role": "host"},
        "identity",
    ),
    "a token whose identity has a slash": (
        "issue a token",
        {"identity": "dr/1", "display_name": "Dr", "role": "host"},
        "identity",
    ),
    "a token whose identity is over 128 characters": (
        "issue a token",
        {"identity": "d" * 129, "display_name": "Dr", "role": "host"},
        "identity",
    ),
    "a consent notice whose text is a number": ("publish a consent notice", {"text": 1}, "text"),
    "a consent notice whose text is null": ("publish a consent notice", {"text": None}, "text"),
    "a consent notice whose text is blank": ("publish a consent notice", {"text": " \n "}, "text"),
    "a consent notice whose text holds a NUL character": ("publish a consent notice", {"text": "a\u0000b"}, "text"),
    "a consent notice whose text holds a lone surrogate": ("publish a consent notice", {"text": "\ud800"}, "text"),
    "a consent notice whose text is over 20000 characters": ("publish a consent notice", {"text": "x" * 20001}, "text"),
    "a webhook endpoint whose url is not a URL": ("create a webhook endpoint", {"url": "hooks"}, "url"),
    "a webhook endpoint whose url is a number": ("create a webhook endpoint", {"url": 5}, "url"),
    "a webhook endpoint whose events is a string": (
        "create a webhook endpoint",
        {"url": "https://hooks.example.com/x", "events": "room.closed"},
        "events",
    ),
    "a webhook endpoint with an unknown event type": (
        "create a webhook endpoint",
        {"url": "https://hooks.example.com/x", "events": ["room.exploded"]},
        "events",
    ),
    "a webhook endpoint whose url is over 2000 characters": (
        "create a webhook endpoint",
        {"url": "https://hooks.example.com/" + "x" * 2000},
        "url",
    ),
    "a token whose display_name is over 200 characters": (
        "issue a token",
        {"identity": "dr-1", "display_name": "x" * 201, "role": "host"},
        "display_name",
    ),
}


@pytest.mark.parametrize(("endpoint", "body", "field"), INVALID_FIELDS.values(), ids=INVALID_FIELDS.keys())
def test_an_invalid_field_is_refused_naming_the_field_and_changes_nothing(endpoint, body, field, app_client, room):
    before = database_state()
    response = send_json(app_client, endpoint, body, room=room)
    error = assert_refused(response, 400, "invalid")
    assert field in error["details"]["fields"]
    assert database_state() == before


@pytest.mark.parametrize(
    ("endpoint", "body"),
    [
        ("create an invitation", {"display_name": "Pat", "role": "superuser"}),
        ("issue a token", {"identity": "dr-1", "display_name": "Dr", "role": "superuser"}),
        ("create a room", {"participants": [{"display_name": "Pat", "role": "superuser"}]}),
    ],
    ids=["invitation", "token", "participant"],
)
def test_an_unknown_role_is_refused_naming_the_roles_there_are(endpoint, body, app_client, room):
    before = database_state()
    error = assert_refused(send_json(app_client, endpoint, body, room=room), 400, "unknown_role")
    assert database_state() == before
    message = str(error["details"]["fields"])
    assert all(role in message for role in ("guest", "host", "observer"))


# -- the time window -------------------------------------------------------------------------

OPENS_AT = timezone.now().replace(microsecond=0) + timedelta(days=2)
CLOSES_AT = OPENS_AT + timedelta(hours=1)


@pytest.mark.parametrize(
    "closes_at", [OPENS_AT, OPENS_AT - timedelta(minutes=1)], ids=["equal to opens_at", "before opens_at"]
)
def test_a_room_that_closes_before_it_opens_is_refused_as_an_invalid_window(closes_at, app_client):
    before = database_state()
    body = {"opens_at": OPENS_AT.isoformat(), "closes_at": closes_at.isoformat()}
    response = app_client.post("/api/v1/rooms", body, format="json")
    error = assert_refused(response, 400, "invalid_window")
    assert set(error["details"]) == {"opens_at", "closes_at"}
    assert database_state() == before


WINDOW_UPDATES = {
    "closes_at before the stored opens_at": {"closes_at": (OPENS_AT - timedelta(hours=1)).isoformat()},
    "closes_at equal to the stored opens_at": {"closes_at": OPENS_AT.isoformat()},
    "opens_at after the stored closes_at": {"opens_at": (CLOSES_AT + timedelta(hours=1)).isoformat()},
    "opens_at equal to the stored closes_at": {"opens_at": CLOSES_AT.isoformat()},
    "both bounds swapped": {"opens_at": CLOSES_AT.isoformat(), "closes_at": OPENS_AT.isoformat()},
}


@pytest.mark.parametrize("change", WINDOW_UPDATES.values(), ids=WINDOW_UPDATES.keys())
def test_an_update_that_makes_the_stored_window_close_before_it_opens_is_refused(change, app_client):
    room = RoomFactory(
        application=app_client.application, status=RoomStatus.SCHEDULED, opens_at=OPENS_AT, closes_at=CLOSES_AT
    )
    before = database_state()
    response = app_client.patch(f"/api/v1/rooms/{room.pk}", change, format="json")
    assert_refused(response, 400, "invalid_window")
    assert database_state() == before


# -- ids in the path and the state of the room -------------------------------------------------


@pytest.mark.parametrize("bad_id", ["not-a-uuid", "1", "00000000-0000-0000-0000-00000000000g", "%00"])
@pytest.mark.parametrize("path", ROOM_PATHS)
@pytest.mark.parametrize("method", ["get", "post", "patch", "delete"])
def test_an_id_in_the_path_that_is_not_a_uuid_is_not_found(method, path, bad_id, app_client):
    before = database_state()
    response = getattr(app_client, method)(path.format(id=bad_id), {}, format="json")
    assert_refused(response, 404, "not_found")
    assert database_state() == before


def test_updating_a_closed_room_is_a_conflict_and_changes_nothing(app_client):
    room = RoomFactory(application=app_client.application, status=RoomStatus.CLOSED, closed_at=timezone.now())
    before = database_state()
    response = app_client.patch(f"/api/v1/rooms/{room.pk}", {"title": "Reopened?"}, format="json")
    assert_refused(response, 409, "room_closed")
    assert database_state() == before


def test_creating_an_invitation_in_a_closed_room_is_gone_and_creates_nothing(app_client):
    room = RoomFactory(application=app_client.application, status=RoomStatus.CLOSED, closed_at=timezone.now())
    before = database_state()
    response = send_json(app_client, "create an invitation", VALID_BODIES["create an invitation"], room=room)
    assert_refused(response, 410, "room_closed")
    assert database_state() == before


def test_issuing_a_token_for_a_closed_room_is_gone_and_writes_no_audit_row(app_client):
    room = RoomFactory(application=app_client.application, status=RoomStatus.CLOSED, closed_at=timezone.now())
    before = database_state()
    response = send_json(app_client, "issue a token", VALID_BODIES["issue a token"], room=room)
    assert_refused(response, 410, "room_closed")
    assert database_state() == before


def test_participants_that_share_an_identity_create_no_room_and_no_link(app_client):
    participants = [
        {"display_name": "Pat", "role": "guest", "identity": "pat"},
        {"display_name": "Pat again", "role": "guest", "identity": "pat"},
    ]
    response = app_client.post("/api/v1/rooms", {"external_id": "v-1", "participants": participants}, format="json")
    assert_refused(response, 400, "invalid")
    assert not Room.objects.exists()
    assert not Invitation.objects.exists()
    assert not AuditEvent.objects.exists()


def test_an_invitation_for_an_identity_with_an_active_link_in_the_room_is_a_conflict(app_client, room):
    InvitationFactory(room=room, identity="pat")
    before = database_state()
    response = send_json(
        app_client, "create an invitation", {"display_name": "Pat", "role": "host", "identity": "pat"}, room=room
    )
    assert_refused(response, 409, "identity_taken")
    assert database_state() == before


# -- list filters ----------------------------------------------------------------------------

BAD_FILTERS = {
    "an unknown status": {"status": "deleted"},
    "a limit of zero": {"limit": 0},
    "a limit that is a word": {"limit": "all"},
    "a negative offset": {"offset": -1},
    "an external_id with a NUL character": {"external_id": "a\u0000b"},
    "an external_id over 200 characters": {"external_id": "x" * 201},
}


@pytest.mark.parametrize("query", BAD_FILTERS.values(), ids=BAD_FILTERS.keys())
def test_a_room_list_filter_with_a_bad_value_is_invalid(query, app_client):
    error = assert_refused(app_client.get("/api/v1/rooms", query), 400, "invalid")
    assert set(error["details"]["fields"]) == set(query)
