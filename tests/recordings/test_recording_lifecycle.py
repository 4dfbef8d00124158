"""A recording follows LiveKit's egress events, delivered as signed webhooks shaped as the server
sends them (camelCase, int64 as strings, nanosecond times, status names, STARTING omitted,
fileResults and the deprecated `file`), in any order, duplicated; the reconciler repairs what was
never delivered."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from livekit.protocol import egress as lk_egress

from reconciler.services import provider_reconcile, reconcile_all
from recordings.models import Recording, RecordingStatus
from rooms.models import CallSession, RecordingPolicy
from tests.factories import RoomFactory
from tests.recordings.conftest import egress_calls
from tests.webhooks.conftest import event_body, participant_info, process_pending, room_info
from webhooks.models import InboundEvent, InboundEventStatus

pytestmark = pytest.mark.django_db

NS = 1_000_000_000
T0 = (int(time.time()) - 3600) * NS  # the egress started an hour ago
RETENTION_DAYS = 7


def at(ns: int) -> datetime:
    return datetime.fromtimestamp(ns / NS, UTC)


@pytest.fixture
def room(app_client):
    app_client.application.recording_retention_days = RETENTION_DAYS
    app_client.application.save(update_fields=["recording_retention_days"])
    return RoomFactory(application=app_client.application, recording_policy=RecordingPolicy.ON_DEMAND)


def new_recording(room, *, egress_id: str = "EG_ours12345678", status=RecordingStatus.STARTING, **fields):
    return Recording.objects.create(
        room=room,
        provider="livekit",
        provider_recording_id=egress_id,
        status=status,
        trigger="api",
        started_by=f"application:{room.application_id}",
        storage="file",
        location=f"{room.pk}/recording.mp4",
        **fields,
    )


def file_info(*, filename: str, started: int, ended: int, duration: int, size: int) -> dict:
    return {
        "filename": filename,
        "startedAt": str(started),
        "endedAt": str(ended),
        "duration": str(duration),
        "size": str(size),
        "location": f"/recordings/{filename}",
    }


def egress(
    room,
    egress_id: str,
    status: str = "",
    *,
    started: int = 0,
    ended: int = 0,
    error: str = "",
    details: str = "",
    files: list[dict] | None = None,
    legacy_file: dict | None = None,
) -> dict:
    """An EgressInfo in LiveKit's JSON form ("" status = STARTING, which protojson omits)."""
    info: dict = {"egressId": egress_id, "roomId": "RM_session1", "roomName": room.provider_room_name}
    if status:
        info["status"] = status
    if started:
        info["startedAt"] = str(started)
    info["updatedAt"] = str(max(started, ended, T0))
    if ended:
        info["endedAt"] = str(ended)
    if error:
        info["error"] = error
    if details:
        info["details"] = details
    info["roomComposite"] = {"roomName": room.provider_room_name, "layout": "grid"}
    if legacy_file is not None:
        info["file"] = legacy_file
    if files is not None:
        info["fileResults"] = files
    return info


def send_egress(webhooks, room, event: str, info: dict, **fields):
    """egress_* events carry only the room's sid and name."""
    return webhooks.send(
        event, room={"sid": "RM_session1", "name": room.provider_room_name}, egress_info=info, **fields
    )


def inbound() -> list[tuple[str, str]]:
    return list(InboundEvent.objects.order_by("pk").values_list("status", "last_error"))


# -- the body these tests send is the server's --------------------------------------------------


def test_the_egress_bodies_are_shaped_as_livekit_sends_them(room):
    started = json.loads(event_body("egress_started", egress_info=egress(room, "EG_x", started=T0)))
    assert "status" not in started["egressInfo"]  # STARTING is proto3's zero value
    assert started["egressInfo"]["startedAt"] == str(T0) and started["egressInfo"]["egressId"] == "EG_x"
    ended = json.loads(
        event_body(
            "egress_ended",
            egress_info=egress(
                room,
                "EG_x",
                "EGRESS_COMPLETE",
                started=T0,
                ended=T0 + 60 * NS,
                files=[file_info(filename="a.mp4", started=T0, ended=T0 + 60 * NS, duration=60 * NS, size=1234)],
            ),
        )
    )
    assert ended["egressInfo"]["status"] == "EGRESS_COMPLETE"
    assert ended["egressInfo"]["fileResults"][0]["size"] == "1234"


# -- in order -------------------------------------------------------------------------------------


@pytest.mark.parametrize("result_field", ["fileResults", "file"])
def test_started_updated_ended_in_order_completes_with_file_details_and_retention(webhooks, room, result_field):
    recording = new_recording(room, status=RecordingStatus.REQUESTED)
    send_egress(webhooks, room, "egress_started", egress(room, "EG_ours12345678", started=T0))
    recording.refresh_from_db()
    assert recording.status == RecordingStatus.STARTING and recording.started_at == at(T0)
    send_egress(webhooks, room, "egress_updated", egress(room, "EG_ours12345678", "EGRESS_ACTIVE", started=T0))
    recording.refresh_from_db()
    assert recording.status == RecordingStatus.ACTIVE
    send_egress(webhooks, room, "egress_updated", egress(room, "EG_ours12345678", "EGRESS_ENDING", started=T0))
    recording.refresh_from_db()
    assert recording.status == RecordingStatus.ENDING
    end = T0 + 754 * NS
    result = file_info(filename=f"{room.pk}/final.mp4", started=T0, ended=end, duration=754 * NS, size=98_765_432)
    files = {"files": [result]} if result_field == "fileResults" else {"legacy_file": result}
    send_egress(
        webhooks,
        room,
        "egress_ended",
        egress(room, "EG_ours12345678", "EGRESS_COMPLETE", started=T0, ended=end, **files),
    )
    recording.refresh_from_db()
    assert recording.status == RecordingStatus.COMPLETE
    assert (recording.started_at, recording.ended_at) == (at(T0), at(end))
    assert (recording.duration_seconds, recording.size_bytes) == (754, 98_765_432)
    assert recording.location == f"{room.pk}/final.mp4"
    assert recording.retention_until == at(end) + timedelta(days=RETENTION_DAYS)
    assert recording.error == ""
    assert [status for status, _ in inbound()] == [InboundEventStatus.DONE] * 4


# -- out of order, duplicated -------------------------------------------------------------------


def test_ended_before_started_stays_complete_and_still_gets_its_start_time(webhooks, room):
    recording = new_recording(room)
    end = T0 + 300 * NS
    send_egress(
        webhooks,
        room,
        "egress_ended",
        egress(
            room,
            "EG_ours12345678",
            "EGRESS_COMPLETE",
            ended=end,
            files=[file_info(filename="x.mp4", started=T0, ended=end, duration=300 * NS, size=10)],
        ),
    )
    send_egress(webhooks, room, "egress_started", egress(room, "EG_ours12345678", started=T0))
    send_egress(webhooks, room, "egress_updated", egress(room, "EG_ours12345678", "EGRESS_ACTIVE", started=T0))
    recording.refresh_from_db()
    assert recording.status == RecordingStatus.COMPLETE
    assert recording.started_at == at(T0) and recording.ended_at == at(end)
    assert recording.retention_until == at(end) + timedelta(days=RETENTION_DAYS)


def test_an_active_update_after_ending_does_not_go_backwards(webhooks, room):
    recording = new_recording(room)
    send_egress(webhooks, room, "egress_updated", egress(room, "EG_ours12345678", "EGRESS_ENDING", started=T0))
    send_egress(webhooks, room, "egress_updated", egress(room, "EG_ours12345678", "EGRESS_ACTIVE", started=T0))
    send_egress(webhooks, room, "egress_started", egress(room, "EG_ours12345678", started=T0))
    recording.refresh_from_db()
    assert recording.status == RecordingStatus.ENDING


def test_egress_ended_after_room_finished_still_completes_the_recording(webhooks, room):
    created = int(time.time()) - 3600
    webhooks.send("room_started", room=room_info(room, creation_time=created), at=created)
    webhooks.send(
        "participant_joined",
        room=room_info(room, creation_time=created),
        participant=participant_info("PA_pat", "pat", joined_at=created + 5),
        at=created + 5,
    )
    session = CallSession.objects.get()
    recording = new_recording(room, call_session=session)
    send_egress(webhooks, room, "egress_updated", egress(room, "EG_ours12345678", "EGRESS_ACTIVE", started=T0))
    webhooks.send("room_finished", room=room_info(room, creation_time=created), at=created + 900)
    end = T0 + 900 * NS
    send_egress(
        webhooks,
        room,
        "egress_ended",
        egress(
            room,
            "EG_ours12345678",
            "EGRESS_COMPLETE",
            started=T0,
            ended=end,
            files=[file_info(filename="x.mp4", started=T0, ended=end, duration=900 * NS, size=5)],
        ),
    )
    recording.refresh_from_db()
    session.refresh_from_db()
    assert session.ended_at is not None
    assert recording.status == RecordingStatus.COMPLETE and recording.ended_at == at(end)
    assert recording.call_session_id == session.pk
    assert recording.duration_seconds == 900


def test_a_duplicate_delivery_changes_nothing(webhooks, room):
    recording = new_recording(room)
    started = event_body(
        "egress_started",
        room={"sid": "RM_session1", "name": room.provider_room_name},
        egress_info=egress(room, "EG_ours12345678", started=T0),
    )
    end = T0 + 60 * NS
    ended = event_body(
        "egress_ended",
        room={"sid": "RM_session1", "name": room.provider_room_name},
        egress_info=egress(
            room,
            "EG_ours12345678",
            "EGRESS_COMPLETE",
            started=T0,
            ended=end,
            files=[file_info(filename="x.mp4", started=T0, ended=end, duration=60 * NS, size=77)],
        ),
    )
    for body in (started, ended):
        assert webhooks.post(body).status_code == 200
        process_pending()
    recording.refresh_from_db()
    before = Recording.objects.values().get(pk=recording.pk)
    for body in (ended, started, ended):
        assert webhooks.post(body).status_code == 200
        process_pending()
    assert InboundEvent.objects.count() == 2
    assert Recording.objects.values().get(pk=recording.pk) == before
    assert before["status"] == RecordingStatus.COMPLETE


def test_a_negative_file_duration_is_clamped_to_zero(webhooks, room):
    recording = new_recording(room)
    send_egress(
        webhooks,
        room,
        "egress_ended",
        egress(
            room,
            "EG_ours12345678",
            "EGRESS_COMPLETE",
            started=T0,
            ended=T0 + NS,
            files=[file_info(filename="x.mp4", started=0, ended=0, duration=-1_500_000_000, size=0)],
        ),
    )
    recording.refresh_from_db()
    assert recording.duration_seconds == 0
    assert recording.status == RecordingStatus.COMPLETE


# -- unhappy endings ----------------------------------------------------------------------------


def test_a_failed_egress_fails_the_recording_with_its_error(webhooks, room):
    recording = new_recording(room)
    send_egress(
        webhooks,
        room,
        "egress_ended",
        egress(
            room,
            "EG_ours12345678",
            "EGRESS_FAILED",
            started=T0,
            ended=T0 + 5 * NS,
            error="pipeline failure: upload refused",
            details="End reason: Failure",
        ),
    )
    recording.refresh_from_db()
    assert recording.status == RecordingStatus.FAILED
    assert recording.error == "pipeline failure: upload refused"
    assert recording.ended_at == at(T0 + 5 * NS)


def test_a_failed_egress_that_uploaded_part_of_a_file_still_gets_a_retention_date(webhooks, room):
    """The partial file is a recording of the call too: without a retention date, retention never
    deletes it."""
    recording = new_recording(room)
    end = T0 + 120 * NS
    send_egress(
        webhooks,
        room,
        "egress_ended",
        egress(
            room,
            "EG_ours12345678",
            "EGRESS_FAILED",
            started=T0,
            ended=end,
            error="pipeline frozen",
            files=[file_info(filename="partial.mp4", started=T0, ended=end, duration=120 * NS, size=4_000_000)],
        ),
    )
    recording.refresh_from_db()
    assert recording.status == RecordingStatus.FAILED and recording.size_bytes == 4_000_000
    assert recording.location == "partial.mp4"
    assert recording.retention_until == at(end) + timedelta(days=RETENTION_DAYS)


def test_an_aborted_egress_aborts_the_recording(webhooks, room):
    recording = new_recording(room)
    send_egress(
        webhooks,
        room,
        "egress_ended",
        egress(room, "EG_ours12345678", "EGRESS_ABORTED", ended=T0 + NS, error="Start signal not received"),
    )
    recording.refresh_from_db()
    assert recording.status == RecordingStatus.ABORTED
    assert recording.error == "Start signal not received"
    # Every final recording is scheduled for deletion (an aborted egress may have written a part).
    assert recording.retention_until == recording.ended_at + timedelta(days=room.application.recording_retention_days)


def test_a_limit_reached_egress_is_a_complete_recording_noting_the_limit(webhooks, room):
    recording = new_recording(room)
    end = T0 + 3600 * NS
    send_egress(
        webhooks,
        room,
        "egress_ended",
        egress(
            room,
            "EG_ours12345678",
            "EGRESS_LIMIT_REACHED",
            started=T0,
            ended=end,
            files=[file_info(filename="x.mp4", started=T0, ended=end, duration=3600 * NS, size=2**31 + 5)],
        ),
    )
    recording.refresh_from_db()
    assert recording.status == RecordingStatus.COMPLETE
    assert recording.error == "limit reached"
    assert recording.size_bytes == 2**31 + 5
    assert recording.retention_until == at(end) + timedelta(days=RETENTION_DAYS)


@pytest.mark.parametrize("known_id", ["EG_ours12345678", ""])
def test_a_failed_egress_with_an_empty_id_fails_the_rooms_active_recording(webhooks, room, known_id):
    recording = new_recording(room, egress_id=known_id)
    other_room = RoomFactory(application=room.application)
    bystander = new_recording(other_room, egress_id="EG_elsewhere123")
    send_egress(webhooks, room, "egress_ended", egress(room, "", "EGRESS_FAILED", error="could not start"))
    recording.refresh_from_db()
    bystander.refresh_from_db()
    assert recording.status == RecordingStatus.FAILED and recording.error == "could not start"
    assert recording.provider_recording_id == known_id
    assert bystander.status == RecordingStatus.STARTING


def test_an_egress_convene_did_not_start_is_ignored(webhooks, room):
    ours = new_recording(room)
    before = Recording.objects.values().get(pk=ours.pk)
    send_egress(webhooks, room, "egress_ended", egress(room, "EG_theirs123456", "EGRESS_COMPLETE", ended=T0 + NS))
    assert inbound() == [(InboundEventStatus.IGNORED, "recording not started by Convene")]
    assert Recording.objects.values().get(pk=ours.pk) == before
    assert Recording.objects.count() == 1


def test_an_egress_in_a_room_without_recordings_is_ignored(webhooks, room):
    send_egress(webhooks, room, "egress_started", egress(room, "EG_theirs123456", started=T0))
    assert inbound() == [(InboundEventStatus.IGNORED, "recording not started by Convene")]
    assert not Recording.objects.exists()


def test_egress_started_before_the_start_call_answered_attaches_the_egress_id(webhooks, room):
    recording = new_recording(room, egress_id="", status=RecordingStatus.REQUESTED)
    send_egress(webhooks, room, "egress_started", egress(room, "EG_early1234567", started=T0))
    recording.refresh_from_db()
    assert recording.provider_recording_id == "EG_early1234567"
    assert recording.status == RecordingStatus.STARTING
    send_egress(webhooks, room, "egress_updated", egress(room, "EG_early1234567", "EGRESS_ACTIVE", started=T0))
    recording.refresh_from_db()
    assert recording.status == RecordingStatus.ACTIVE


# -- the reconciler -----------------------------------------------------------------------------


@pytest.fixture
def started_recording(make_meeting, room):
    meeting = make_meeting()
    meeting.join("pat")
    meeting.grant("pat")
    assert meeting.start().status_code == 201
    return meeting, Recording.objects.get()


def test_the_reconciler_finishes_a_recording_whose_end_was_never_delivered(started_recording):
    meeting, recording = started_recording
    meeting.fake.set_egress_status(recording.provider_recording_id, lk_egress.EGRESS_ACTIVE)
    meeting.fake.set_egress_status(recording.provider_recording_id, lk_egress.EGRESS_COMPLETE)
    ended_ns = meeting.fake.egresses[recording.provider_recording_id].ended_at
    totals = provider_reconcile(provider_name="livekit")
    assert totals["recordings_changed"] == 1
    recording.refresh_from_db()
    assert recording.status == RecordingStatus.COMPLETE
    assert abs(recording.ended_at - at(ended_ns)) <= timedelta(microseconds=1)  # float rounding of ns
    days = recording.room.application.recording_retention_days
    assert recording.retention_until == recording.ended_at + timedelta(days=days)
    before = Recording.objects.values().get(pk=recording.pk)
    assert provider_reconcile(provider_name="livekit")["recordings_changed"] == 0
    assert Recording.objects.values().get(pk=recording.pk) == before
    assert len(egress_calls(meeting.fake, "ListEgress")) == 1  # a finished one is not asked about again


def test_the_reconciler_leaves_a_recording_that_is_still_going(started_recording):
    meeting, recording = started_recording
    meeting.fake.set_egress_status(recording.provider_recording_id, lk_egress.EGRESS_ACTIVE)
    provider_reconcile(provider_name="livekit")
    recording.refresh_from_db()
    assert recording.status == RecordingStatus.ACTIVE


def test_the_reconciler_fails_a_recording_the_media_server_no_longer_knows(fake_livekit, room):
    recording = new_recording(room, egress_id="EG_forgotten123", status=RecordingStatus.ACTIVE)
    provider_reconcile(provider_name="livekit")
    recording.refresh_from_db()
    assert recording.status == RecordingStatus.FAILED
    assert recording.error


def test_a_recording_the_media_server_forgot_does_not_block_reconciling_sessions(fake_livekit, webhooks, room):
    """Repairing calls after missed events must not stop at one recording LiveKit no longer knows."""
    new_recording(room, egress_id="EG_forgotten123", status=RecordingStatus.ACTIVE)
    other = RoomFactory(application=room.application)
    webhooks.send("room_started", room=room_info(other, sid="RM_other"))
    session = CallSession.objects.get(room=other)
    results = reconcile_all()
    assert isinstance(results["livekit"], dict), results
    session.refresh_from_db()
    assert session.ended_at is not None  # the fake has no such live room: the call is over
