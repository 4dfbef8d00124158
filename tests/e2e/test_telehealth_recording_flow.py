"""End to end through the API and signed webhooks: a clinician and a patient, consent, a
recording to S3 (a real S3-compatible server on loopback), review, audit, retention."""

from __future__ import annotations

import time
import urllib.request
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, User
from django.utils import timezone
from rest_framework.test import APIClient

from config.celery import app as celery_app
from core.models import AuditEvent
from recordings.models import ConsentNotice, Recording, RecordingStatus
from recordings.services.retention import recordings_delete_expired
from tests.fakes.s3 import S3Server
from tests.webhooks.conftest import participant_info, room_info

pytestmark = pytest.mark.django_db


@pytest.fixture
def s3(settings):
    with S3Server() as server:
        server.configure(settings)
        yield server


@pytest.fixture
def eager():
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False


def egress_info(recording: Recording, room, status: str, **extra) -> dict:
    info = {"egressId": recording.provider_recording_id, "roomId": "RM_e2e", "roomName": room.provider_room_name}
    if status:
        info["status"] = status
    return {**info, **extra}


def test_a_consented_call_is_recorded_reviewed_audited_and_deleted_on_schedule(
    app_client, anon_client, webhooks, fake_livekit, s3, eager, django_capture_on_commit_callbacks
):
    ConsentNotice.objects.create(application=app_client.application, version=1, text="This call may be recorded.")
    created = app_client.post(
        "/api/v1/rooms",
        {
            "external_id": "appt-77",
            "recording_policy": "on_demand",
            "participants": [
                {"display_name": "Dr Who", "role": "host", "identity": "clinician"},
                {"display_name": "Pat", "role": "guest", "identity": "patient"},
            ],
        },
        format="json",
    )
    assert created.status_code == 201
    room_id = created.json()["id"]
    secrets_ = {p["identity"]: p["url"].rsplit("/", 1)[1] for p in created.json()["participants"]}
    from rooms.models import Room

    room = Room.objects.get(pk=room_id)
    for identity in ("clinician", "patient"):
        joined = anon_client.post(f"/api/v1/join/{secrets_[identity]}")
        assert joined.status_code == 200 and joined.json()["consent"]["required"] is True
        fake_livekit.add_participant(room.provider_room_name, identity)  # they connect to LiveKit
        webhooks.send(
            "participant_joined",
            room=room_info(room, sid="RM_e2e"),
            participant=participant_info(f"PA_{identity}", identity),
        )
    refused = app_client.post(f"/api/v1/rooms/{room_id}/recordings")
    assert refused.status_code == 409
    assert refused.json()["error"]["details"]["missing"] == ["clinician", "patient"]
    for identity in ("clinician", "patient"):
        consent = anon_client.post(f"/api/v1/join/{secrets_[identity]}/consent", {"decision": "granted"}, format="json")
        assert consent.status_code == 201
    started = app_client.post(f"/api/v1/rooms/{room_id}/recordings")
    assert started.status_code == 201, started.content
    egress_requests = [c for c in fake_livekit.requests if c.method == "StartRoomCompositeEgress"]
    assert len(egress_requests) == 1
    output = egress_requests[0].request.file_outputs[0]
    assert output.s3.bucket == s3.bucket and output.filepath.startswith("recordings/")
    recording = Recording.objects.get()

    # LiveKit's egress writes the file, then reports: started, active, ended with the file.
    s3.client().put_object(Bucket=s3.bucket, Key=output.filepath, Body=b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 990)
    now_ns = time.time_ns()
    webhooks.send("egress_started", egress_info=egress_info(recording, room, "", startedAt=str(now_ns)))
    webhooks.send("egress_updated", egress_info=egress_info(recording, room, "EGRESS_ACTIVE", startedAt=str(now_ns)))
    webhooks.send(
        "egress_ended",
        egress_info=egress_info(
            recording,
            room,
            "EGRESS_COMPLETE",
            startedAt=str(now_ns),
            endedAt=str(now_ns + 95_000_000_000),
            fileResults=[
                {
                    "filename": output.filepath,
                    "duration": str(95_000_000_000),
                    "size": "1000",
                    "location": f"{s3.endpoint}/{s3.bucket}/{output.filepath}",
                }
            ],
        ),
    )
    recording.refresh_from_db()
    assert (recording.status, recording.duration_seconds, recording.size_bytes) == (RecordingStatus.COMPLETE, 95, 1000)

    reviewer = User.objects.create_user("reviewer", is_staff=True)
    reviewer.groups.add(Group.objects.get(name="Recording reviewers"))
    app_client.application.reviewers.add(reviewer)
    staff = APIClient()
    staff.force_login(reviewer)
    playback = staff.post(f"/api/v1/recordings/{recording.pk}/playback")
    assert playback.status_code == 200, playback.content
    with urllib.request.urlopen(playback.json()["url"], timeout=10) as media:
        assert media.read().startswith(b"\x00\x00\x00\x18ftyp")

    steps = set(AuditEvent.objects.values_list("action", flat=True))
    assert {
        "room.create",
        "invitation.create",
        "token.issue",
        "consent.granted",
        "recording.start",
        "recording.playback",
    } <= steps

    recordings_delete_expired(now=timezone.now() + timedelta(days=31))
    recording.refresh_from_db()
    assert recording.deleted_at is not None and recording.deletion_reason == "retention"
    assert not s3.exists(output.filepath)
    assert AuditEvent.objects.filter(action="recording.delete", object_id=str(recording.pk)).count() == 1
