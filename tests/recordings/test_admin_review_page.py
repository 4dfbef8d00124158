"""The admin review page: player, participants, consent ledger, audit trail; reviewers only."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User
from django.utils import timezone

from core.models import AuditEvent
from recordings.models import Recording, RecordingStatus
from tests.factories import ApplicationFactory, RoomFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def recording(settings, tmp_path):
    settings.RECORDING_STORAGE = "file"
    settings.RECORDING_FILE_DIR = str(tmp_path)
    settings.RECORDING_EGRESS_FILE_DIR = str(tmp_path)
    room = RoomFactory(application=ApplicationFactory())
    recording = Recording.objects.create(
        room=room,
        provider="livekit",
        trigger="api",
        started_by="t",
        storage="file",
        status=RecordingStatus.COMPLETE,
        ended_at=timezone.now(),
        location=f"{room.pk}/rec.mp4",
        consent_snapshot=[{"identity": "pat", "consent_event_id": 1, "notice_version": 1, "granted_at": "x"}],
    )
    (tmp_path / str(room.pk)).mkdir()
    (tmp_path / str(room.pk) / "rec.mp4").write_bytes(b"\x00" * 100)
    return recording


def staff(username: str, *, reviewer: bool) -> User:
    user = User.objects.create_user(username, password="x", is_staff=True)
    if reviewer:
        user.groups.add(Group.objects.get(name="Recording reviewers"))
    return user


def test_a_reviewer_sees_the_player_and_both_looks_are_audited(client, recording):
    user = staff("rev", reviewer=True)
    recording.room.application.reviewers.add(user)
    client.force_login(user)
    response = client.get(f"/admin/recordings/recording/{recording.pk}/review/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "<video" in page and f"/api/v1/recordings/{recording.pk}/download?token=" in page
    assert "pat" in page
    actions = list(AuditEvent.objects.filter(object_id=str(recording.pk)).values_list("action", "outcome"))
    assert ("recording.view", "allowed") in actions and ("recording.playback", "allowed") in actions


def test_a_reviewer_of_another_application_cannot_open_it(client, recording):
    user = staff("rev", reviewer=True)
    user.reviewed_applications.add(ApplicationFactory())
    client.force_login(user)
    assert client.get(f"/admin/recordings/recording/{recording.pk}/review/").status_code == 403


def test_staff_without_the_review_permission_are_refused_and_the_refusal_is_audited(client, recording):
    client.force_login(staff("nosy", reviewer=False))
    assert client.get(f"/admin/recordings/recording/{recording.pk}/review/").status_code == 403
    assert AuditEvent.objects.filter(action="recording.view", outcome="denied").count() == 1
    assert client.get("/admin/recordings/recording/").status_code == 403
