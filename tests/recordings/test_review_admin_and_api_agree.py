"""The API and the admin call the same reviewer services (recordings.services.review), so the same
look or change writes the same audit row whichever of them it came through; refusals too."""

from __future__ import annotations

import uuid

import pytest
from rest_framework.test import APIClient

from core.models import AuditEvent
from recordings.models import Recording
from rooms.models import RecordingPolicy
from tests.factories import RoomFactory
from tests.recordings.conftest import make_staff, stored_recording

pytestmark = pytest.mark.django_db


@pytest.fixture
def recording(app_client, file_storage) -> Recording:
    room = RoomFactory(application=app_client.application, recording_policy=RecordingPolicy.ON_DEMAND)
    return stored_recording(room, storage="file", where=file_storage)


@pytest.fixture
def admin_client(client, reviewer):
    client.force_login(reviewer)
    return client


def rows_written_by(call) -> list[tuple]:
    """What each audit row `call` writes says: everything but its id, time and request id."""
    last = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    call()
    return [
        (e.action, e.object_type, e.object_id, e.application_id, e.actor_type, e.actor_id, e.outcome, e.ip, e.details)
        for e in AuditEvent.objects.filter(id__gt=last).order_by("id")
    ]


def test_the_admin_change_page_writes_the_same_audit_row_as_the_api_detail(reviewer_client, admin_client, recording):
    change_page = f"/admin/recordings/recording/{recording.pk}/change/"
    api = rows_written_by(lambda: reviewer_client.get(f"/api/v1/recordings/{recording.pk}"))
    admin = rows_written_by(lambda: admin_client.get(change_page))
    assert api == admin
    assert [row[:3] for row in api] == [("recording.view", "recording", str(recording.pk))]


def test_the_admin_list_writes_the_same_audit_rows_as_the_api_list(reviewer_client, admin_client, recording):
    api = rows_written_by(lambda: reviewer_client.get("/api/v1/recordings"))
    admin = rows_written_by(lambda: admin_client.get("/admin/recordings/recording/"))
    assert api == admin
    assert [row[:3] for row in api] == [("recording.list", "recording", "-")]


def test_the_admin_legal_hold_writes_the_same_audit_row_as_the_api(reviewer_client, admin_client, recording):
    def api_hold():
        body = {"legal_hold": True, "reason": "Matter 9"}
        response = reviewer_client.post(f"/api/v1/recordings/{recording.pk}/legal-hold", body, format="json")
        assert response.status_code == 200

    def admin_release_and_hold():
        Recording.objects.filter(pk=recording.pk).update(legal_hold=False, legal_hold_reason="")
        response = admin_client.post(
            f"/admin/recordings/recording/{recording.pk}/change/", {"legal_hold": "on", "reason": "Matter 9"}
        )
        assert response.status_code == 302

    api = rows_written_by(api_hold)
    admin = [row for row in rows_written_by(admin_release_and_hold) if row[0] == "recording.legal_hold"]
    assert api == admin
    assert api[0][-1] == {"legal_hold": True, "reason": "Matter 9", "was": False}


def test_staff_without_the_permission_are_refused_alike_and_both_refusals_are_audited(client, recording):
    nosy = make_staff("nosy", reviewer=False)
    api_client = APIClient()
    api_client.force_login(nosy)
    client.force_login(nosy)
    api = rows_written_by(lambda: api_client.get(f"/api/v1/recordings/{recording.pk}"))
    admin = rows_written_by(lambda: client.get(f"/admin/recordings/recording/{recording.pk}/change/"))
    assert api == admin
    assert [(row[0], row[3], row[6]) for row in api] == [("recording.view", recording.room.application_id, "denied")]


@pytest.mark.parametrize("object_id", [str(uuid.uuid4()), "not-a-uuid"])
def test_the_admin_change_page_of_no_recording_audits_nothing_and_says_it_does_not_exist(
    admin_client, recording, object_id
):
    response = admin_client.get(f"/admin/recordings/recording/{object_id}/change/")
    assert response.status_code == 302 and response.url == "/admin/"
    assert not AuditEvent.objects.exists()
