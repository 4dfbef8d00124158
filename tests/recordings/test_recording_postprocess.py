"""Post-processing per-track recordings (recordings/services/postprocess.py) on real .mjr files:
recorded once per module by a real Janus from two real Chromium publishers in a network namespace
(tests/e2e/janus_media.py), then composited with janus-pp-rec and ffmpeg, probed, stored (file or
S3), and the raw files deleted; failures, repeats, a dead worker's run and unreachable storage."""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from datetime import timedelta
from pathlib import Path
from unittest import mock

import pytest
from django.utils import timezone

from core.audit import AuditContext
from outbound.models import WebhookDelivery
from providers.base import ProviderRecording, RecordingState
from providers.janus import JanusProvider
from recordings.models import Recording, RecordingStatus
from recordings.services.postprocess import (
    ProcessingDeferred,
    processing_lease,
    recording_postprocess,
    recordings_postprocess_sweep,
)
from recordings.services.recording import recordings_reconcile
from recordings.services.retention import recording_delete
from tests.e2e.janus_media import record_janus_call
from tests.factories import RoomFactory

pytestmark = pytest.mark.django_db
RECORDED_SECONDS = 4


@pytest.fixture(scope="module")
def recorded_call(tmp_path_factory) -> tuple[Path, str]:
    """The .mjr files of a real two-person Janus call, recorded once for this module."""
    return record_janus_call(tmp_path_factory.mktemp("janus-call"), seconds=RECORDED_SECONDS)


@pytest.fixture
def raw_files(recorded_call, tmp_path) -> tuple[Path, str]:
    """A copy of the recorded call's raw files in a folder of this test's own."""
    folder, prefix = recorded_call
    copy = tmp_path / "janus-recordings" / "rec-1"
    shutil.copytree(folder, copy)
    return copy, prefix


def ending_recording(room, raw_files, *, storage: str, **fields) -> Recording:
    """A Janus recording the provider has finished writing: ending, with its raw files' folder."""
    recording_id = uuid.uuid4()
    folder, prefix = raw_files
    location = f"recordings/{room.pk}/{recording_id}.mp4" if storage == "s3" else f"{room.pk}/{recording_id}.mp4"
    values = {"status": RecordingStatus.ENDING, "started_at": timezone.now() - timedelta(minutes=1), **fields}
    return Recording.objects.create(
        id=recording_id,
        room=room,
        provider="janus",
        provider_recording_id=f"{room.provider_room_name}-{recording_id.hex[:8]}",
        trigger="api",
        started_by="application:test",
        storage=storage,
        location=location,
        source_dir=str(folder),
        source_prefix=prefix,
        **values,
    )


def probe(path: Path) -> dict:
    entries = "format=duration:stream=codec_name,width"
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", entries, "-of", "json", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return json.loads(out.stdout)


def mjr_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.mjr"))


def test_a_finished_janus_recording_becomes_one_composite_and_its_raw_files_go(file_storage, raw_files):
    recording = ending_recording(RoomFactory(), raw_files, storage="file")
    assert len(mjr_files(raw_files[0])) == 4  # two people, audio and video each

    assert recording_postprocess(recording_id=recording.pk) == "complete"

    recording.refresh_from_db()
    assert recording.status == RecordingStatus.COMPLETE
    assert recording.location == f"{recording.room_id}/{recording.pk}.webm"
    stored = file_storage / recording.location
    probed = probe(stored)
    assert sorted(s["codec_name"] for s in probed["streams"]) == ["opus", "vp8"]
    assert [s["width"] for s in probed["streams"] if s["codec_name"] == "vp8"] == [1280]  # side by side
    assert abs(float(probed["format"]["duration"]) - RECORDED_SECONDS) <= 2
    assert recording.duration_seconds == round(float(probed["format"]["duration"]))
    assert recording.size_bytes == stored.stat().st_size
    assert recording.retention_until is not None and recording.ended_at is not None
    assert recording.processing_started_at is None and recording.processing_attempts == 1
    assert mjr_files(raw_files[0]) == [] and recording.sources_deleted_at is not None


def test_the_composite_is_stored_in_s3_when_recordings_go_to_a_bucket(s3_storage, raw_files):
    recording = ending_recording(RoomFactory(), raw_files, storage="s3")
    assert recording_postprocess(recording_id=recording.pk) == "complete"
    recording.refresh_from_db()
    assert recording.location == f"recordings/{recording.room_id}/{recording.pk}.webm"
    assert s3_storage.exists(recording.location)
    head = s3_storage.client.head_object(Bucket=s3_storage.bucket, Key=recording.location)
    assert head["ContentType"] == "video/webm" and head["ContentLength"] == recording.size_bytes
    assert mjr_files(raw_files[0]) == []


def test_running_it_again_changes_nothing(file_storage, raw_files):
    recording = ending_recording(RoomFactory(), raw_files, storage="file")
    assert recording_postprocess(recording_id=recording.pk) == "complete"
    before = Recording.objects.get(pk=recording.pk)
    assert recording_postprocess(recording_id=recording.pk) == "not_pending"
    after = Recording.objects.get(pk=recording.pk)
    assert (after.status, after.updated_at, after.processing_attempts) == (
        before.status,
        before.updated_at,
        before.processing_attempts,
    )


def test_a_tool_failure_fails_the_recording_with_the_tools_error_and_keeps_the_raw_files(file_storage, raw_files):
    folder, _ = raw_files
    broken = next(p for p in mjr_files(folder) if p.name.endswith("video-1.mjr"))
    broken.write_bytes(b"not a Janus recording")
    recording = ending_recording(RoomFactory(), raw_files, storage="file")

    assert recording_postprocess(recording_id=recording.pk) == "failed"

    recording.refresh_from_db()
    assert recording.status == RecordingStatus.FAILED
    assert recording.error.startswith("post-processing: janus-pp-rec: exited with status 1")
    assert "Invalid header" in recording.error and len(recording.error) < 2000
    assert recording.retention_until is not None and recording.processing_started_at is None
    assert len(mjr_files(folder)) == 4 and recording.sources_deleted_at is None  # nothing lost


def test_deleting_a_failed_janus_recording_deletes_its_raw_files(file_storage, raw_files):
    recording = ending_recording(RoomFactory(), raw_files, storage="file", status=RecordingStatus.FAILED)
    recording_delete(recording=recording, reason="test", audit=AuditContext.system("test"))
    assert mjr_files(raw_files[0]) == []
    assert Recording.objects.get(pk=recording.pk).sources_deleted_at is not None


def test_a_run_a_dead_worker_left_behind_is_taken_up_by_the_sweep(file_storage, raw_files, eager_celery):
    long_ago = timezone.now() - processing_lease() - timedelta(minutes=1)
    recording = ending_recording(RoomFactory(), raw_files, storage="file", processing_started_at=long_ago)
    Recording.objects.filter(pk=recording.pk).update(updated_at=long_ago)
    fresh = ending_recording(RoomFactory(), raw_files, storage="file", processing_started_at=timezone.now())
    Recording.objects.filter(pk=fresh.pk).update(updated_at=long_ago)

    assert recordings_postprocess_sweep() == 1  # the one whose lease ran out, not the running one

    assert Recording.objects.get(pk=recording.pk).status == RecordingStatus.COMPLETE
    assert Recording.objects.get(pk=fresh.pk).status == RecordingStatus.ENDING
    assert recording_postprocess(recording_id=fresh.pk) == "not_pending"  # its lease holds


def test_storage_that_cannot_be_reached_leaves_it_pending_with_its_raw_files(s3_storage, settings, raw_files):
    settings.RECORDING_S3_ENDPOINT = "http://127.0.0.1:9"  # nothing listens there
    recording = ending_recording(RoomFactory(), raw_files, storage="s3")
    with pytest.raises(ProcessingDeferred):
        recording_postprocess(recording_id=recording.pk)
    recording.refresh_from_db()
    assert recording.status == RecordingStatus.ENDING and recording.processing_started_at is None
    assert len(mjr_files(raw_files[0])) == 4


def test_missing_raw_files_are_waited_for_then_fail_the_recording(file_storage, tmp_path):
    recording = ending_recording(RoomFactory(), (tmp_path / "empty", "videoroom-1-"), storage="file")
    for _ in range(2):  # a shared folder may show the files a little late
        with pytest.raises(ProcessingDeferred):
            recording_postprocess(recording_id=recording.pk)
    assert recording_postprocess(recording_id=recording.pk) == "failed"
    assert "no videoroom-1-*.mjr files" in Recording.objects.get(pk=recording.pk).error


def test_a_janus_recording_that_stopped_recording_is_handed_to_post_processing(
    file_storage, raw_files, settings, django_capture_on_commit_callbacks
):
    settings.JANUS_URL = "http://127.0.0.1:9/janus"  # never called: list_recordings is mocked below
    recording = ending_recording(RoomFactory(), raw_files, storage="file", status=RecordingStatus.ACTIVE)
    ended = ProviderRecording(
        recording_id=recording.provider_recording_id,
        room_name=recording.room.provider_room_name,
        state=RecordingState.ENDING,
        source_dir=recording.source_dir,
        source_prefix=recording.source_prefix,
    )
    with mock.patch.object(JanusProvider, "list_recordings", autospec=True, return_value=[ended]) as asked:
        with django_capture_on_commit_callbacks() as callbacks:
            assert recordings_reconcile(provider_name="janus") == 1
        assert Recording.objects.get(pk=recording.pk).status == RecordingStatus.ENDING
        assert len(callbacks) == 1  # the post-processing task, enqueued once the row says ending
        with django_capture_on_commit_callbacks() as again:
            assert recordings_reconcile(provider_name="janus") == 0  # post-processing's now, not the provider's
    assert again == [] and asked.call_count == 1


def test_a_recording_whose_runs_keep_dying_is_given_up_with_its_raw_files_kept(file_storage, raw_files):
    recording = ending_recording(RoomFactory(), raw_files, storage="file", processing_attempts=8)
    assert recording_postprocess(recording_id=recording.pk) == "failed"
    recording.refresh_from_db()
    assert recording.status == RecordingStatus.FAILED and "gave up after 8 attempts" in recording.error
    assert len(mjr_files(raw_files[0])) == 4


def test_the_broker_hands_a_post_processing_task_to_another_worker_only_after_it_could_have_finished(settings):
    from recordings.tasks import postprocess_recording

    longest_countdown = 300
    assert postprocess_recording.time_limit > settings.RECORDING_PROCESS_TIMEOUT_SECONDS
    assert settings.CELERY_VISIBILITY_TIMEOUT > postprocess_recording.time_limit + longest_countdown
    assert processing_lease().total_seconds() > postprocess_recording.time_limit


def test_a_post_processed_janus_recording_is_reported_ready_to_the_applications_endpoints(
    file_storage, raw_files, app_client, settings
):
    settings.CONVENE_WEBHOOK_ALLOW_PRIVATE_URLS = True
    endpoint = app_client.post(
        "/api/v1/webhook-endpoints", {"url": "http://127.0.0.1:9/hook", "events": ["recording.ready"]}, format="json"
    )
    assert endpoint.status_code == 201, endpoint.content
    recording = ending_recording(RoomFactory(application=app_client.application), raw_files, storage="file")

    assert recording_postprocess(recording_id=recording.pk) == "complete"

    recording.refresh_from_db()
    (delivery,) = WebhookDelivery.objects.filter(event_type="recording.ready")
    payload = json.loads(delivery.payload)
    assert payload["type"] == "recording.ready" and payload["data"]["id"] == str(recording.pk)
    assert payload["data"]["status"] == "complete" and payload["data"]["duration_seconds"] == recording.duration_seconds
