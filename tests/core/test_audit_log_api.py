"""GET /api/v1/audit-events (core.api, core.services.audit_event_list): a reviewer reads the audit
rows of the applications they are listed on, filtered by object or action; the read is audited
first (a refusal too, under the caller's own applications); nobody else reads the log."""

# ruff: noqa: F811  (the tests take the imported fixtures as arguments)
from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from core.models import AuditEvent
from rooms.models import RecordingPolicy
from tests.factories import RoomFactory
from tests.recordings.conftest import (  # noqa: F401  (fixtures, re-exported for this module)
    file_storage,
    make_staff,
    reviewer,
    reviewer_client,
    stored_recording,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def recording(app_client, file_storage):
    room = RoomFactory(application=app_client.application, recording_policy=RecordingPolicy.ON_DEMAND)
    return stored_recording(room, storage="file", where=file_storage)


@pytest.fixture
def other_recording(other_client, file_storage):
    room = RoomFactory(application=other_client.application, recording_policy=RecordingPolicy.ON_DEMAND)
    return stored_recording(room, storage="file", where=file_storage)


def audits(**filters) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(**filters).order_by("id"))


def playback(client, recording):
    return client.post(f"/api/v1/recordings/{recording.pk}/playback")


def test_the_audit_log_shows_a_reviewer_their_applications_rows(
    reviewer_client, recording, other_recording, other_client
):
    other_client.get(f"/api/v1/recordings/{other_recording.pk}")  # an audit row of application B
    playback(reviewer_client, recording)
    response = reviewer_client.get("/api/v1/audit-events", {"object_id": str(recording.pk)})
    assert response.status_code == 200
    assert [row["action"] for row in response.json()["results"]] == ["recording.playback"]
    everything = reviewer_client.get("/api/v1/audit-events").json()["results"]
    assert str(other_recording.pk) not in {row["object_id"] for row in everything}


def test_a_refusal_aimed_at_no_recording_is_audited_under_the_applications_the_staff_user_is_listed_on(
    app_client, reviewer_client, recording
):
    listed_but_not_permitted = make_staff("listed", reviewer=False, applications=[app_client.application])
    client = APIClient()
    client.force_login(listed_but_not_permitted)
    assert client.get("/api/v1/audit-events").status_code == 403
    [row] = audits(outcome="denied")
    assert (row.action, row.application) == ("audit.list", app_client.application)


def test_reading_the_log_is_audited_first_under_each_reviewed_application_with_its_filters(
    reviewer_client,
    reviewer,
    app_client,
    other_client,
):
    other_client.application.reviewers.add(reviewer)
    response = reviewer_client.get("/api/v1/audit-events", {"action": "recording.list"})
    assert response.status_code == 200 and response.json()["results"] == []
    rows = audits(action="audit.list")
    assert {row.application_id for row in rows} == {app_client.application.pk, other_client.application.pk}
    for row in rows:
        assert (row.object_type, row.object_id, row.outcome, row.actor_type, row.actor_id) == (
            "audit_log",
            "-",
            "allowed",
            "user",
            str(reviewer.pk),
        )
        assert row.details == {"filters": {"object_id": "", "action": "recording.list"}}


def test_an_application_key_cannot_read_the_log_and_the_refusal_is_in_its_own_log(app_client):
    response = app_client.get("/api/v1/audit-events")
    assert response.status_code == 403 and response.json()["error"]["code"] == "not_a_reviewer"
    [row] = audits()
    assert (row.action, row.object_type, row.outcome, row.application) == (
        "audit.list",
        "audit_log",
        "denied",
        app_client.application,
    )
