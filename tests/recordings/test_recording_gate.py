"""The consent gate: a recording starts only when everyone present has consented, and no
request reaches the media server otherwise; a withdrawal, or a joiner without consent, stops it."""

from __future__ import annotations

import logging
import threading

import pytest
from django.db import connection
from livekit.protocol import egress as lk_egress
from rest_framework.test import APIClient

from core.models import AuditEvent
from recordings.models import ConsentEvent, Recording, RecordingStatus
from rooms.models import RecordingPolicy, RoomStatus
from tests.recordings.conftest import egress_calls

pytestmark = pytest.mark.django_db


def error(response) -> dict:
    return response.json()["error"]


def test_a_start_before_everyone_consented_is_refused_naming_who_and_never_reaches_livekit(make_meeting):
    meeting = make_meeting()
    for identity in ("pat", "doc", "amy"):
        meeting.join(identity)
    meeting.grant("doc")
    refused = meeting.start()
    assert refused.status_code == 409
    assert error(refused)["code"] == "consent_missing"
    assert error(refused)["details"] == {"missing": ["amy", "pat"]}
    assert egress_calls(meeting.fake) == []
    assert not Recording.objects.exists()


def test_a_withdrawn_consent_counts_as_missing(make_meeting):
    meeting = make_meeting()
    meeting.join("pat")
    meeting.grant("pat")
    assert meeting.link_consent("pat", "withdrawn").status_code == 201
    refused = meeting.start()
    assert refused.status_code == 409 and error(refused)["details"] == {"missing": ["pat"]}
    assert egress_calls(meeting.fake) == []


def test_recorders_and_agents_in_the_room_never_need_consent(make_meeting):
    meeting = make_meeting()
    meeting.join("pat")
    meeting.grant("pat")
    meeting.join("EG_recorder", kind="EGRESS")
    meeting.join("agent-notes", kind="AGENT")
    started = meeting.start()
    assert started.status_code == 201, started.content
    recording = Recording.objects.get()
    assert [entry["identity"] for entry in recording.consent_snapshot] == ["pat"]


def test_an_empty_room_cannot_be_recorded(make_meeting):
    meeting = make_meeting()
    meeting.join("EG_recorder", kind="EGRESS")
    refused = meeting.start()
    assert refused.status_code == 409 and error(refused)["code"] == "nobody_present"
    assert egress_calls(meeting.fake) == []


def test_a_room_with_recording_off_cannot_be_recorded(make_meeting):
    meeting = make_meeting(policy=RecordingPolicy.OFF)
    meeting.join("pat")
    meeting.grant("pat")
    refused = meeting.start()
    assert refused.status_code == 409 and error(refused)["code"] == "recording_disabled"
    assert egress_calls(meeting.fake) == []


def test_a_closed_room_cannot_be_recorded(make_meeting):
    meeting = make_meeting()
    meeting.join("pat")
    meeting.grant("pat")
    type(meeting.room).objects.filter(pk=meeting.room.pk).update(status=RoomStatus.CLOSED)
    refused = meeting.start()
    assert refused.status_code == 410
    assert egress_calls(meeting.fake) == []
    assert not Recording.objects.exists()


def test_with_everyone_consented_the_recording_starts_at_livekit(make_meeting):
    meeting = make_meeting()
    meeting.join("doc")
    meeting.join("pat")
    doc_grant = meeting.grant("doc")
    pat_grant = meeting.link_consent("pat", "granted").json()
    started = meeting.start()
    assert started.status_code == 201, started.content
    body = started.json()
    recording = Recording.objects.get()
    assert body["id"] == str(recording.pk) and body["status"] == "starting"
    assert recording.status == RecordingStatus.STARTING
    [call] = egress_calls(meeting.fake)
    assert call.request.room_name == meeting.room.provider_room_name
    assert recording.provider_recording_id in meeting.fake.egresses
    assert body["provider_recording_id"] == recording.provider_recording_id
    assert recording.trigger == "api" and recording.started_by == f"application:{meeting.app_client.application.pk}"
    snapshot = {entry["identity"]: entry for entry in recording.consent_snapshot}
    assert set(snapshot) == {"doc", "pat"}
    assert snapshot["doc"]["consent_event_id"] == doc_grant["id"]
    assert snapshot["pat"]["consent_event_id"] == pat_grant["id"]
    assert snapshot["pat"]["participant_sid"] == meeting.sids["pat"]
    assert snapshot["doc"]["notice_version"] == 1
    assert AuditEvent.objects.filter(action="recording.start", object_id=str(recording.pk)).count() == 1


def test_a_second_start_while_recording_is_refused(make_meeting):
    meeting = make_meeting()
    meeting.join("pat")
    meeting.grant("pat")
    assert meeting.start().status_code == 201
    again = meeting.start()
    assert again.status_code == 409 and error(again)["code"] == "recording_active"
    assert len(egress_calls(meeting.fake)) == 1
    assert Recording.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_starts_give_exactly_one_recording(make_meeting, eager_celery):
    meeting = make_meeting()
    meeting.join("pat")
    meeting.grant("pat")
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def start() -> None:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {meeting.app_client.api_key}")
        try:
            barrier.wait(timeout=10)
            statuses.append(client.post(f"/api/v1/rooms/{meeting.room.pk}/recordings").status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=start) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(statuses) == [201, 409]
    assert Recording.objects.count() == 1
    assert len(egress_calls(meeting.fake)) == 1


# -- stopping ------------------------------------------------------------------------------------


@pytest.fixture
def recording_meeting(make_meeting):
    """doc and pat present and consented, a recording started (egress ACTIVE at the fake)."""
    meeting = make_meeting()
    meeting.join("doc")
    meeting.join("pat")
    meeting.grant("doc")
    meeting.grant("pat")
    assert meeting.start().status_code == 201
    meeting.recording = Recording.objects.get()
    meeting.fake.set_egress_status(meeting.recording.provider_recording_id, lk_egress.EGRESS_ACTIVE)
    return meeting


def stop_requests(meeting) -> list[str]:
    return [call.request.egress_id for call in egress_calls(meeting.fake, "StopEgress")]


def test_a_withdrawal_on_the_join_page_stops_the_recording(
    recording_meeting, eager_celery, django_capture_on_commit_callbacks
):
    meeting = recording_meeting
    with django_capture_on_commit_callbacks(execute=True):
        assert meeting.link_consent("pat", "withdrawn").status_code == 201
    meeting.recording.refresh_from_db()
    assert meeting.recording.stop_reason == "consent_withdrawn"
    assert meeting.recording.stop_requested_at is not None
    assert stop_requests(meeting) == [meeting.recording.provider_recording_id]
    egress = meeting.fake.egresses[meeting.recording.provider_recording_id]
    assert egress.status == lk_egress.EGRESS_ENDING
    audit = AuditEvent.objects.get(action="recording.stop", object_id=str(meeting.recording.pk))
    assert (audit.actor_type, audit.actor_id, audit.details["reason"]) == (
        "system",
        "consent_gate",
        "consent_withdrawn",
    )


def test_a_withdrawal_by_the_application_stops_the_recording(
    recording_meeting, eager_celery, django_capture_on_commit_callbacks
):
    meeting = recording_meeting
    with django_capture_on_commit_callbacks(execute=True):
        response = meeting.app_client.post(
            f"/api/v1/rooms/{meeting.room.pk}/consents", {"identity": "doc", "decision": "withdrawn"}, format="json"
        )
    assert response.status_code == 201
    meeting.recording.refresh_from_db()
    assert meeting.recording.stop_reason == "consent_withdrawn"
    assert stop_requests(meeting) == [meeting.recording.provider_recording_id]


def test_a_joiner_without_consent_stops_the_recording(
    recording_meeting, eager_celery, django_capture_on_commit_callbacks
):
    meeting = recording_meeting
    with django_capture_on_commit_callbacks(execute=True):
        meeting.join("amy")
    meeting.recording.refresh_from_db()
    assert meeting.recording.stop_reason == "unconsented_participant"
    assert stop_requests(meeting) == [meeting.recording.provider_recording_id]


def test_a_joiner_who_already_consented_does_not_stop_the_recording(
    recording_meeting, eager_celery, django_capture_on_commit_callbacks
):
    meeting = recording_meeting
    meeting.grant("amy")
    with django_capture_on_commit_callbacks(execute=True):
        meeting.join("amy")
    meeting.recording.refresh_from_db()
    assert meeting.recording.stop_reason == "" and meeting.recording.stop_requested_at is None
    assert stop_requests(meeting) == []


def test_a_recorder_or_agent_joining_does_not_stop_the_recording(
    recording_meeting, eager_celery, django_capture_on_commit_callbacks
):
    meeting = recording_meeting
    with django_capture_on_commit_callbacks(execute=True):
        meeting.join(meeting.recording.provider_recording_id, kind="EGRESS")
        meeting.join("agent-notes", kind="AGENT")
    meeting.recording.refresh_from_db()
    assert meeting.recording.stop_requested_at is None
    assert stop_requests(meeting) == []


def test_the_application_stops_a_recording(recording_meeting):
    meeting = recording_meeting
    response = meeting.app_client.post(f"/api/v1/recordings/{meeting.recording.pk}/stop")
    assert response.status_code == 200, response.content
    assert response.json()["stop_reason"] == "api"
    meeting.recording.refresh_from_db()
    assert meeting.recording.stop_reason == "api" and meeting.recording.stop_requested_at is not None
    assert stop_requests(meeting) == [meeting.recording.provider_recording_id]
    audit = AuditEvent.objects.get(action="recording.stop", object_id=str(meeting.recording.pk))
    assert (audit.actor_type, audit.details["reason"]) == ("application", "api")


def test_another_application_cannot_stop_it(recording_meeting, other_client):
    meeting = recording_meeting
    assert other_client.post(f"/api/v1/recordings/{meeting.recording.pk}/stop").status_code == 404
    assert stop_requests(meeting) == []


def test_a_finished_recording_cannot_be_stopped(recording_meeting):
    meeting = recording_meeting
    Recording.objects.filter(pk=meeting.recording.pk).update(status=RecordingStatus.COMPLETE)
    response = meeting.app_client.post(f"/api/v1/recordings/{meeting.recording.pk}/stop")
    assert response.status_code == 409 and error(response)["code"] == "recording_not_active"
    assert stop_requests(meeting) == []


def _end_at_the_media_server(meeting) -> None:
    """The egress completed at LiveKit, its egress_ended not delivered yet."""
    meeting.fake.set_egress_status(meeting.recording.provider_recording_id, lk_egress.EGRESS_COMPLETE)


def warnings_or_worse(caplog) -> list[str]:
    return [f"{r.name}: {r.getMessage()}" for r in caplog.records if r.levelno >= logging.WARNING]


def test_a_stop_the_media_server_refuses_as_already_ended_is_sent_once_not_retried_nor_logged_as_a_failure(
    recording_meeting, eager_celery, django_capture_on_commit_callbacks, caplog
):
    meeting = recording_meeting
    _end_at_the_media_server(meeting)
    caplog.set_level(logging.INFO)
    with django_capture_on_commit_callbacks(execute=True):
        assert meeting.link_consent("pat", "withdrawn").status_code == 201
    assert stop_requests(meeting) == [meeting.recording.provider_recording_id]
    assert warnings_or_worse(caplog) == []
    meeting.recording.refresh_from_db()
    assert meeting.recording.status == RecordingStatus.COMPLETE  # as LiveKit reports it


def test_the_application_stopping_a_recording_the_media_server_already_ended_gets_its_final_state(
    recording_meeting, caplog
):
    meeting = recording_meeting
    _end_at_the_media_server(meeting)
    response = meeting.app_client.post(f"/api/v1/recordings/{meeting.recording.pk}/stop")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "complete"
    assert stop_requests(meeting) == [meeting.recording.provider_recording_id]
    assert warnings_or_worse(caplog) == []


# -- policy auto --------------------------------------------------------------------------------


def test_auto_starts_once_a_second_consented_person_is_present(
    make_meeting, eager_celery, django_capture_on_commit_callbacks
):
    meeting = make_meeting(policy=RecordingPolicy.AUTO)
    with django_capture_on_commit_callbacks(execute=True):
        meeting.join("doc")
        meeting.grant("doc")
        meeting.join("pat")
    assert not Recording.objects.exists() and egress_calls(meeting.fake) == []
    with django_capture_on_commit_callbacks(execute=True):
        assert meeting.link_consent("pat", "granted").status_code == 201
    recording = Recording.objects.get()
    assert recording.trigger == "auto" and recording.started_by == "system:auto"
    assert recording.status == RecordingStatus.STARTING and recording.provider_recording_id
    assert {entry["identity"] for entry in recording.consent_snapshot} == {"doc", "pat"}
    assert len(egress_calls(meeting.fake)) == 1


def test_auto_starts_when_the_second_person_joins_already_consented(
    make_meeting, eager_celery, django_capture_on_commit_callbacks
):
    meeting = make_meeting(policy=RecordingPolicy.AUTO)
    with django_capture_on_commit_callbacks(execute=True):
        meeting.grant("doc")
        meeting.grant("pat")
        meeting.join("doc")
    assert not Recording.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        meeting.join("pat")
    assert Recording.objects.get().trigger == "auto"
    assert len(egress_calls(meeting.fake)) == 1


def test_auto_does_not_start_for_one_person_alone(make_meeting, eager_celery, django_capture_on_commit_callbacks):
    meeting = make_meeting(policy=RecordingPolicy.AUTO)
    with django_capture_on_commit_callbacks(execute=True):
        meeting.join("doc")
        meeting.grant("doc")
        meeting.join("EG_recorder", kind="EGRESS")
    assert not Recording.objects.exists()
    assert egress_calls(meeting.fake) == []


def test_on_demand_never_starts_by_itself(make_meeting, eager_celery, django_capture_on_commit_callbacks):
    meeting = make_meeting(policy=RecordingPolicy.ON_DEMAND)
    with django_capture_on_commit_callbacks(execute=True):
        meeting.join("doc")
        meeting.join("pat")
        meeting.grant("doc")
        meeting.grant("pat")
    assert not Recording.objects.exists()
    assert egress_calls(meeting.fake) == []


# -- the media server refusing -----------------------------------------------------------------


def test_livekit_failing_on_start_gives_503_and_a_failed_row(make_meeting):
    meeting = make_meeting()
    meeting.join("pat")
    meeting.grant("pat")
    meeting.fake.fail_next("StartRoomCompositeEgress", "unavailable", 503)
    response = meeting.start()
    assert response.status_code == 503
    assert error(response)["code"] == "provider_unavailable"
    recording = Recording.objects.get()
    assert error(response)["details"] == {"recording_id": str(recording.pk)}
    assert recording.status == RecordingStatus.FAILED
    assert recording.error.startswith("start refused") and "503" in recording.error
    assert recording.provider_recording_id == ""
    retried = meeting.start()
    assert retried.status_code == 201, retried.content
    assert Recording.objects.filter(status=RecordingStatus.STARTING).count() == 1


def test_consent_rows_are_untouched_by_starting_and_stopping(recording_meeting):
    meeting = recording_meeting
    before = list(ConsentEvent.objects.order_by("id").values())
    meeting.app_client.post(f"/api/v1/recordings/{meeting.recording.pk}/stop")
    assert list(ConsentEvent.objects.order_by("id").values()) == before
