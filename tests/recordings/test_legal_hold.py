"""POST /api/v1/recordings/{id}/legal-hold, and the admin's legal hold: one service sets or releases
it, audited first (no audit row, no change), for the application's key and its reviewers; a held
recording is deleted neither on demand nor by retention; the hold shows on the recording."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import OperationalError
from django.utils import timezone
from rest_framework.test import APIClient

from core.models import AuditEvent
from recordings.models import Recording
from recordings.services.retention import recordings_delete_expired
from rooms.models import RecordingPolicy
from tests.factories import RoomFactory
from tests.recordings.conftest import make_staff, stored_recording

pytestmark = pytest.mark.django_db


@pytest.fixture
def recording(app_client, file_storage) -> Recording:
    room = RoomFactory(application=app_client.application, recording_policy=RecordingPolicy.ON_DEMAND)
    return stored_recording(room, storage="file", where=file_storage)


def hold(client, recording, legal_hold: bool = True, reason: str = "Matter 2026-114"):
    return client.post(
        f"/api/v1/recordings/{recording.pk}/legal-hold", {"legal_hold": legal_hold, "reason": reason}, format="json"
    )


def break_the_audit_insert(monkeypatch) -> None:
    def refuse(*args, **kwargs):
        raise OperationalError("audit table unavailable")

    monkeypatch.setattr("core.services.insert_row", refuse)


def hold_audits(recording) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action="recording.legal_hold", object_id=str(recording.pk)).order_by("id"))


def test_the_application_puts_a_recording_on_hold_and_the_recording_shows_it(app_client, recording):
    response = hold(app_client, recording)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["legal_hold"] is True and body["legal_hold_reason"] == "Matter 2026-114"
    assert body["legal_hold_changed_at"]
    detail = app_client.get(f"/api/v1/recordings/{recording.pk}").json()
    assert (detail["legal_hold"], detail["legal_hold_reason"]) == (True, "Matter 2026-114")
    [row] = hold_audits(recording)
    assert (row.actor_type, row.actor_id, row.outcome, row.application) == (
        "application",
        str(app_client.application.pk),
        "allowed",
        app_client.application,
    )
    assert row.details == {"legal_hold": True, "reason": "Matter 2026-114", "was": False}


def test_a_held_recording_is_deleted_neither_on_demand_nor_by_retention_until_released(
    app_client, reviewer_client, recording
):
    Recording.objects.filter(pk=recording.pk).update(retention_until=timezone.now() - timedelta(days=1))
    assert hold(reviewer_client, recording).status_code == 200
    refused = reviewer_client.delete(f"/api/v1/recordings/{recording.pk}")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "legal_hold"
    assert recordings_delete_expired() == {"deleted": 0, "failed": 0}
    released = hold(app_client, recording, legal_hold=False, reason="Matter closed")
    assert released.status_code == 200 and released.json()["legal_hold"] is False
    assert released.json()["legal_hold_reason"] == "Matter closed"
    assert recordings_delete_expired() == {"deleted": 1, "failed": 0}


def test_a_reviewer_of_the_application_may_set_it_others_may_not(recording, reviewer_client, other_client):
    assert hold(reviewer_client, recording).status_code == 200
    assert hold(other_client, recording).status_code == 404
    outsider = make_staff("outsider", reviewer=True, applications=[other_client.application])
    client = APIClient()
    client.force_login(outsider)
    assert hold(client, recording, legal_hold=False).status_code == 404
    recording.refresh_from_db()
    assert recording.legal_hold is True


def test_staff_without_the_review_permission_are_refused_and_the_refusal_is_audited(recording):
    client = APIClient()
    client.force_login(make_staff("nosy", reviewer=False))
    response = hold(client, recording)
    assert response.status_code == 403 and response.json()["error"]["code"] == "not_a_reviewer"
    [row] = hold_audits(recording)
    assert (row.outcome, row.application) == ("denied", recording.room.application)
    recording.refresh_from_db()
    assert recording.legal_hold is False


def test_without_an_audit_row_the_hold_is_not_changed(app_client, recording, monkeypatch):
    break_the_audit_insert(monkeypatch)
    response = hold(app_client, recording)
    assert response.status_code == 503 and response.json()["error"]["code"] == "audit_unavailable"
    recording.refresh_from_db()
    assert recording.legal_hold is False


def test_a_deleted_recording_cannot_be_held_and_the_refusal_is_audited(app_client, recording):
    Recording.objects.filter(pk=recording.pk).update(deleted_at=timezone.now(), deletion_reason="retention")
    response = hold(app_client, recording)
    assert response.status_code == 409 and response.json()["error"]["code"] == "recording_deleted"
    [row] = hold_audits(recording)
    assert row.outcome == "denied"
    recording.refresh_from_db()
    assert recording.legal_hold is False


@pytest.mark.parametrize(
    "body",
    [{"legal_hold": True}, {"legal_hold": True, "reason": " "}, {"reason": "x"}, {"legal_hold": "yes", "reason": "x"}],
    ids=["no reason", "a blank reason", "no legal_hold", "legal_hold not a boolean"],
)
def test_a_hold_without_a_boolean_and_a_reason_is_a_400(app_client, recording, body):
    response = app_client.post(f"/api/v1/recordings/{recording.pk}/legal-hold", body, format="json")
    assert response.status_code == 400
    assert not hold_audits(recording)


# -- the admin goes through the same service --------------------------------------------------------


@pytest.fixture
def admin_reviewer(client, reviewer):
    client.force_login(reviewer)
    return client


def admin_change(client, recording, **data):
    return client.post(f"/admin/recordings/recording/{recording.pk}/change/", data)


def test_the_admin_sets_the_hold_through_the_service_with_its_reason(admin_reviewer, recording):
    response = admin_change(admin_reviewer, recording, legal_hold="on", reason="Subpoena 7")
    assert response.status_code == 302, response.content.decode()[:3000]
    recording.refresh_from_db()
    assert (recording.legal_hold, recording.legal_hold_reason) == (True, "Subpoena 7")
    [row] = hold_audits(recording)
    assert row.details == {"legal_hold": True, "reason": "Subpoena 7", "was": False}


def test_the_admin_refuses_a_hold_change_without_a_reason(admin_reviewer, recording):
    response = admin_change(admin_reviewer, recording, legal_hold="on", reason="")
    assert response.status_code == 200 and "Say why" in response.content.decode()
    recording.refresh_from_db()
    assert recording.legal_hold is False and not hold_audits(recording)


def test_the_admin_change_page_is_audited_as_a_view(admin_reviewer, reviewer, recording):
    assert admin_reviewer.get(f"/admin/recordings/recording/{recording.pk}/change/").status_code == 200
    [row] = AuditEvent.objects.filter(action="recording.view", object_id=str(recording.pk))
    assert (row.actor_type, row.actor_id, row.outcome, row.application) == (
        "user",
        str(reviewer.pk),
        "allowed",
        recording.room.application,
    )


def test_the_admin_change_page_without_an_audit_row_shows_nothing(admin_reviewer, recording, monkeypatch):
    break_the_audit_insert(monkeypatch)
    response = admin_reviewer.get(f"/admin/recordings/recording/{recording.pk}/change/")
    assert response.status_code == 503
    assert recording.provider_recording_id not in response.content.decode()


def test_the_admin_change_page_refuses_staff_without_the_permission_and_audits_it(client, recording):
    client.force_login(make_staff("nosy", reviewer=False))
    assert client.get(f"/admin/recordings/recording/{recording.pk}/change/").status_code == 403
    [row] = AuditEvent.objects.filter(action="recording.view", outcome="denied")
    assert row.application == recording.room.application
