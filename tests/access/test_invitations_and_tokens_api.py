"""Join links through the API (create, list, revoke) and tokens for an app's signed-in users."""

from __future__ import annotations

import pytest
from django.utils import timezone

from access.models import Invitation, ParticipantRemoval
from core.models import AuditEvent
from rooms.models import RoomStatus
from tests.factories import InvitationFactory, RoomFactory

pytestmark = pytest.mark.django_db


def test_creating_a_link_returns_its_url_once(app_client):
    room = RoomFactory(application=app_client.application)
    response = app_client.post(
        f"/api/v1/rooms/{room.pk}/invitations", {"display_name": "Pat", "role": "guest", "max_uses": 3}, format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["url"].rsplit("/", 1)[1]
    assert body["max_uses"] == 3 and body["uses"] == 0
    listed = app_client.get(f"/api/v1/rooms/{room.pk}/invitations").json()["results"]
    assert [i["id"] for i in listed] == [body["id"]]
    assert "url" not in listed[0]
    assert "url" not in app_client.get(f"/api/v1/invitations/{body['id']}").json()


def test_a_second_active_link_with_the_same_identity_is_a_conflict(app_client):
    room = RoomFactory(application=app_client.application)
    body = {"display_name": "Pat", "role": "guest", "identity": "pat"}
    assert app_client.post(f"/api/v1/rooms/{room.pk}/invitations", body, format="json").status_code == 201
    second = app_client.post(f"/api/v1/rooms/{room.pk}/invitations", body, format="json")
    assert second.status_code == 409
    assert second.json()["error"]["code"] == "identity_taken"


def test_revoking_a_link_removes_its_holder_at_livekit_and_refuses_new_tokens(app_client, anon_client, fake_livekit):
    invitation = InvitationFactory(room=RoomFactory(application=app_client.application), identity="pat")
    fake_livekit.add_participant(invitation.room.provider_room_name, "pat")
    response = app_client.delete(f"/api/v1/invitations/{invitation.pk}")
    assert response.status_code == 200
    assert response.json()["revoked_at"] is not None
    assert response.json()["participant_removed"] is True
    assert fake_livekit.requests[-1].method == "RemoveParticipant"
    assert fake_livekit.requests[-1].request.identity == "pat"
    assert fake_livekit.participants.get(invitation.room.provider_room_name, {}).get("pat") is None
    assert anon_client.post(f"/api/v1/join/{invitation.secret}").json()["error"]["code"] == "link_revoked"
    token = app_client.post(
        f"/api/v1/rooms/{invitation.room.pk}/tokens",
        {"identity": "pat", "display_name": "Pat", "role": "guest"},
        format="json",
    )
    assert token.status_code == 409
    assert token.json()["error"]["code"] == "identity_revoked"
    assert AuditEvent.objects.filter(action="invitation.revoke").count() == 1


def test_revoking_when_livekit_is_down_still_revokes_and_says_the_holder_was_not_removed(app_client, fake_livekit):
    invitation = InvitationFactory(room=RoomFactory(application=app_client.application))
    fake_livekit.fail_next("RemoveParticipant", code="unavailable", status=503)
    response = app_client.delete(f"/api/v1/invitations/{invitation.pk}")
    assert response.status_code == 200
    assert response.json()["participant_removed"] is False
    assert Invitation.objects.get(pk=invitation.pk).revoked_at is not None
    pending = ParticipantRemoval.objects.get(room=invitation.room, identity=invitation.identity)
    assert pending.done_at is None and pending.next_attempt_at is not None  # retried in the background


def test_revoking_a_link_nobody_is_using_is_fine_and_idempotent(app_client, fake_livekit):
    invitation = InvitationFactory(room=RoomFactory(application=app_client.application))
    first = app_client.delete(f"/api/v1/invitations/{invitation.pk}")
    second = app_client.delete(f"/api/v1/invitations/{invitation.pk}")
    assert (first.status_code, second.status_code) == (200, 200)
    assert first.json()["revoked_at"] == second.json()["revoked_at"]
    assert first.json()["participant_removed"] is True


def test_an_app_gets_a_token_for_its_signed_in_user(app_client, settings):
    room = RoomFactory(application=app_client.application)
    response = app_client.post(
        f"/api/v1/rooms/{room.pk}/tokens",
        {"identity": "user-42", "display_name": "Ann", "role": "host", "metadata": "{}"},
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["identity"] == "user-42" and body["role"] == "host"
    assert set(body) == {
        "provider",
        "server_url",
        "token",
        "expires_at",
        "room_id",
        "room_name",
        "identity",
        "display_name",
        "role",
    }
    audit = AuditEvent.objects.get(action="token.issue")
    assert audit.actor_type == "application" and audit.actor_id == str(app_client.application.pk)
    assert body["token"] not in str(audit.details)


def test_no_token_for_a_closed_room(app_client):
    room = RoomFactory(application=app_client.application, status=RoomStatus.CLOSED, closed_at=timezone.now())
    response = app_client.post(
        f"/api/v1/rooms/{room.pk}/tokens", {"identity": "u", "display_name": "U", "role": "guest"}, format="json"
    )
    assert response.status_code == 410
    assert response.json()["error"]["code"] == "room_closed"


def test_no_link_for_a_closed_room(app_client):
    room = RoomFactory(application=app_client.application, status=RoomStatus.CLOSED)
    response = app_client.post(
        f"/api/v1/rooms/{room.pk}/invitations", {"display_name": "Pat", "role": "guest"}, format="json"
    )
    assert response.status_code == 410
    assert response.json()["error"]["code"] == "room_closed"


@pytest.mark.parametrize("scheduled", [False, True], ids=["open", "scheduled"])
def test_a_token_writes_its_audit_row_with_one_statement_unless_it_also_opens_the_room(app_client, scheduled):
    """The audit INSERT alone is atomic by itself: no transaction block around it. A scheduled
    room inside its early-join allowance is opened in the same transaction as the row."""
    from datetime import timedelta

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    opens = timezone.now() + timedelta(minutes=1)
    window = {"status": RoomStatus.SCHEDULED, "opens_at": opens, "closes_at": opens + timedelta(hours=1)}
    room = RoomFactory(application=app_client.application, **(window if scheduled else {}))
    with CaptureQueriesContext(connection) as queries:
        response = app_client.post(
            f"/api/v1/rooms/{room.pk}/tokens", {"identity": "u", "display_name": "U", "role": "guest"}, format="json"
        )
    assert response.status_code == 200
    writes = [q["sql"].split()[0].upper() for q in queries if not q["sql"].upper().startswith("SELECT")]
    # Inside the test's own transaction, a transaction block shows as SAVEPOINT ... RELEASE.
    assert writes == (["SAVEPOINT", "INSERT", "UPDATE", "RELEASE"] if scheduled else ["INSERT"])
    room.refresh_from_db()
    assert room.status == RoomStatus.OPEN
    assert AuditEvent.objects.filter(action="token.issue", object_id=str(room.pk)).count() == 1


def test_a_link_that_has_already_expired_is_refused(app_client):
    room = RoomFactory(application=app_client.application)
    past = (timezone.now() - timezone.timedelta(minutes=1)).isoformat()
    response = app_client.post(
        f"/api/v1/rooms/{room.pk}/invitations",
        {"display_name": "Pat", "role": "guest", "expires_at": past},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "expires_in_past"
    assert not Invitation.objects.filter(room=room).exists()
