"""Retention: expired recordings are deleted (the stored object, a tombstone row, an audit row
by the system), never under legal hold, idempotently, also when the object is already gone; a
reviewer's delete does the same on demand."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from core.models import AuditEvent
from recordings.models import Recording, RecordingStatus
from recordings.services.retention import recordings_delete_expired
from recordings.tasks import delete_expired_recordings
from rooms.models import RecordingPolicy
from tests.factories import RoomFactory
from tests.recordings.conftest import S3Bucket, stored_recording

pytestmark = pytest.mark.django_db

PAST = timedelta(days=1)


@pytest.fixture
def room(app_client):
    return RoomFactory(application=app_client.application, recording_policy=RecordingPolicy.ON_DEMAND)


class Store:
    """One storage backend as Convene is configured to use it, seen from the outside."""

    def __init__(self, kind: str, where):
        self.kind, self.where = kind, where

    def recording(self, room, **fields) -> Recording:
        return stored_recording(room, storage=self.kind, where=self.where, **fields)

    def holds(self, recording: Recording) -> bool:
        if isinstance(self.where, S3Bucket):
            return self.where.exists(recording.location)
        return (self.where / recording.location).exists()


@pytest.fixture(params=["s3", "file"])
def store(request) -> Store:
    fixture = "s3_storage" if request.param == "s3" else "file_storage"
    return Store(request.param, request.getfixturevalue(fixture))


def expired(store: Store, room, **fields) -> Recording:
    return store.recording(room, retention_until=timezone.now() - PAST, **fields)


def deletion_audits(recording: Recording) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action="recording.delete", object_id=str(recording.pk)))


def test_expired_recordings_are_deleted_leaving_a_tombstone_and_an_audit_row(store, room):
    gone = expired(store, room)
    kept = store.recording(room, retention_until=timezone.now() + PAST)
    assert store.holds(gone) and store.holds(kept)
    assert recordings_delete_expired() == {"deleted": 1, "failed": 0}
    assert not store.holds(gone)
    gone.refresh_from_db()
    assert gone.deleted_at is not None and gone.deletion_reason == "retention"
    assert gone.status == RecordingStatus.COMPLETE and gone.location  # the row stays, as a tombstone
    [audit] = deletion_audits(gone)
    assert (audit.actor_type, audit.actor_id, audit.outcome) == ("system", "retention", "allowed")
    assert audit.application_id == room.application_id and audit.details == {"reason": "retention"}
    assert audit.created_at <= gone.deleted_at
    kept.refresh_from_db()
    assert kept.deleted_at is None and store.holds(kept) and not deletion_audits(kept)


def test_a_recording_on_legal_hold_is_never_deleted_by_retention(store, room):
    held = expired(store, room, legal_hold=True)
    assert recordings_delete_expired() == {"deleted": 0, "failed": 0}
    held.refresh_from_db()
    assert held.deleted_at is None and store.holds(held) and not deletion_audits(held)


def test_an_unfinished_recording_is_not_deleted_by_retention(store, room):
    running = expired(store, room, status=RecordingStatus.ACTIVE)
    assert recordings_delete_expired() == {"deleted": 0, "failed": 0}
    running.refresh_from_db()
    assert running.deleted_at is None and store.holds(running)


def test_running_retention_twice_deletes_once(store, room):
    gone = expired(store, room)
    assert recordings_delete_expired() == {"deleted": 1, "failed": 0}
    gone.refresh_from_db()
    first = gone.deleted_at
    assert recordings_delete_expired() == {"deleted": 0, "failed": 0}
    gone.refresh_from_db()
    assert gone.deleted_at == first
    assert len(deletion_audits(gone)) == 1


def test_an_object_already_gone_counts_as_deleted(store, room):
    never_uploaded = expired(store, room, body=None)
    assert not store.holds(never_uploaded)
    assert recordings_delete_expired() == {"deleted": 1, "failed": 0}
    never_uploaded.refresh_from_db()
    assert never_uploaded.deleted_at is not None and never_uploaded.deletion_reason == "retention"
    assert len(deletion_audits(never_uploaded)) == 1


def test_one_recording_that_cannot_be_deleted_does_not_stop_the_others(s3_storage, file_storage, room, settings):
    """A recording written to local files while storage is now S3 cannot be reached: it is left
    for a later run, with no audit row claiming a deletion."""
    stuck = stored_recording(room, storage="file", where=file_storage, retention_until=timezone.now() - PAST)
    settings.RECORDING_STORAGE = "s3"
    gone = stored_recording(room, storage="s3", where=s3_storage, retention_until=timezone.now() - PAST)
    assert recordings_delete_expired() == {"deleted": 1, "failed": 1}
    stuck.refresh_from_db()
    gone.refresh_from_db()
    assert gone.deleted_at is not None and not s3_storage.exists(gone.location)
    assert stuck.deleted_at is None and (file_storage / stuck.location).exists()
    assert not deletion_audits(stuck)


def test_the_celery_task_runs_retention(store, room, eager_celery):
    gone = expired(store, room)
    result = delete_expired_recordings.delay().get(timeout=10)
    assert result == {"deleted": 1, "failed": 0}
    gone.refresh_from_db()
    assert gone.deleted_at is not None and not store.holds(gone)


# -- on demand, by a reviewer -----------------------------------------------------------------------


def test_a_reviewer_deletes_a_recording_the_same_way(store, room, reviewer_client, reviewer):
    recording = store.recording(room)  # retention not reached yet
    response = reviewer_client.delete(f"/api/v1/recordings/{recording.pk}")
    assert response.status_code == 200, response.content
    assert response.json()["deleted_at"] is not None
    assert not store.holds(recording)
    recording.refresh_from_db()
    assert recording.deleted_at is not None and recording.deletion_reason == "deleted_by_reviewer"
    [audit] = deletion_audits(recording)
    assert (audit.actor_type, audit.actor_id, audit.outcome, audit.ip) == (
        "user",
        str(reviewer.pk),
        "allowed",
        "127.0.0.1",
    )


def test_a_reviewer_cannot_delete_a_recording_on_legal_hold(store, room, reviewer_client):
    held = store.recording(room, legal_hold=True)
    response = reviewer_client.delete(f"/api/v1/recordings/{held.pk}")
    assert response.status_code == 409 and response.json()["error"]["code"] == "legal_hold"
    held.refresh_from_db()
    assert held.deleted_at is None and store.holds(held)


def test_a_reviewer_cannot_delete_a_recording_still_running(file_storage, room, reviewer_client):
    running = stored_recording(room, storage="file", where=file_storage, status=RecordingStatus.ACTIVE)
    response = reviewer_client.delete(f"/api/v1/recordings/{running.pk}")
    assert response.status_code == 409 and response.json()["error"]["code"] == "recording_active"
    running.refresh_from_db()
    assert running.deleted_at is None and (file_storage / running.location).exists()


def test_a_recording_deleted_by_a_reviewer_is_not_deleted_again_by_retention(file_storage, room, reviewer_client):
    recording = stored_recording(room, storage="file", where=file_storage, retention_until=timezone.now() - PAST)
    assert reviewer_client.delete(f"/api/v1/recordings/{recording.pk}").status_code == 200
    assert recordings_delete_expired() == {"deleted": 0, "failed": 0}
    assert len(deletion_audits(recording)) == 1
