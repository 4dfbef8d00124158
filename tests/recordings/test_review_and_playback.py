"""Reviewing recordings: they are listed, viewed, played, downloaded and deleted only by those allowed,
each look audited first (denials too); no audit row, no action; playback URLs expire within five
minutes and are never stored or logged. Local files are served with ranges; S3 objects through a
presigned URL checked against a real S3-compatible server (moto, on 127.0.0.1)."""

from __future__ import annotations

import logging
import time
import urllib.error
import urllib.request
import uuid
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core import signing
from django.db import OperationalError, connection
from django.utils import timezone
from rest_framework.test import APIClient

from core.models import AuditEvent
from recordings import storage
from recordings.models import Recording, RecordingStatus
from rooms.models import CallSession, ParticipantSession, RecordingPolicy
from tests.factories import RoomFactory
from tests.recordings.conftest import MEDIA, make_staff, stored_recording

pytestmark = pytest.mark.django_db


@pytest.fixture
def room(app_client):
    return RoomFactory(application=app_client.application, recording_policy=RecordingPolicy.ON_DEMAND)


@pytest.fixture
def other_room(other_client):
    return RoomFactory(application=other_client.application, recording_policy=RecordingPolicy.ON_DEMAND)


@pytest.fixture
def recording(room, file_storage) -> Recording:
    return stored_recording(room, storage="file", where=file_storage)


@pytest.fixture
def other_recording(other_room, file_storage) -> Recording:
    return stored_recording(other_room, storage="file", where=file_storage)


@pytest.fixture
def staff_client() -> APIClient:
    """A staff user without the review permission."""
    client = APIClient(enforce_csrf_checks=False)
    client.user = make_staff("nosy-staff", reviewer=False)
    client.force_login(client.user)
    return client


def audits(**filters) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(**filters).order_by("id"))


def ids(response) -> set[str]:
    return {item["id"] for item in response.json()["results"]}


def playback(client, recording):
    return client.post(f"/api/v1/recordings/{recording.pk}/playback")


def download_path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


# -- who sees what: an application only its own -------------------------------------------------


def test_an_application_lists_and_reads_only_its_own_recordings(app_client, recording, other_recording):
    listed = app_client.get("/api/v1/recordings")
    assert listed.status_code == 200 and ids(listed) == {str(recording.pk)}
    assert app_client.get(f"/api/v1/recordings/{recording.pk}").status_code == 200
    assert app_client.get(f"/api/v1/recordings/{other_recording.pk}").status_code == 404


def test_a_reviewer_lists_and_reads_only_their_applications_recordings(reviewer_client, recording, other_recording):
    listed = reviewer_client.get("/api/v1/recordings")
    assert listed.status_code == 200 and ids(listed) == {str(recording.pk)}
    detail = reviewer_client.get(f"/api/v1/recordings/{recording.pk}")
    assert detail.status_code == 200
    assert detail.json()["consent_snapshot"] == [] and detail.json()["status"] == "complete"
    assert reviewer_client.get(f"/api/v1/recordings/{other_recording.pk}").status_code == 404
    assert playback(reviewer_client, other_recording).status_code == 404
    assert reviewer_client.delete(f"/api/v1/recordings/{other_recording.pk}").status_code == 404
    assert (storage.current().path(other_recording.location)).exists()


def test_the_detail_names_the_recorded_session_and_its_participants_as_the_list_does(app_client, room, file_storage):
    now = timezone.now()
    session = CallSession.objects.create(room=room, provider_session_id="RM_1", started_at=now, last_seen_at=now)
    ParticipantSession.objects.create(
        call_session=session, provider_participant_id="PA_pat", identity="pat", joined_at=now
    )
    recording = stored_recording(room, storage="file", where=file_storage, call_session=session)
    detail = app_client.get(f"/api/v1/recordings/{recording.pk}").json()
    [listed] = app_client.get("/api/v1/recordings").json()["results"]
    assert detail["session_id"] == listed["session_id"] == str(session.pk)
    assert [p["identity"] for p in detail["participants"]] == ["pat"]


def test_the_list_can_be_filtered_by_room_and_status(app_client, room, recording, file_storage):
    second_room = RoomFactory(application=room.application)
    failed = stored_recording(second_room, storage="file", where=file_storage, status=RecordingStatus.FAILED)
    assert ids(app_client.get("/api/v1/recordings", {"room": str(second_room.pk)})) == {str(failed.pk)}
    assert ids(app_client.get("/api/v1/recordings", {"status": "complete"})) == {str(recording.pk)}


# -- every look is audited, once, with who/what/outcome/ip --------------------------------------


def test_each_look_writes_exactly_one_audit_row(reviewer_client, reviewer, recording):
    actor = ("user", str(reviewer.pk))
    looks = [
        ("recording.list", lambda: reviewer_client.get("/api/v1/recordings"), "-"),
        ("recording.view", lambda: reviewer_client.get(f"/api/v1/recordings/{recording.pk}"), str(recording.pk)),
        ("recording.playback", lambda: playback(reviewer_client, recording), str(recording.pk)),
    ]
    for action, look, object_id in looks:
        last = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
        assert look().status_code == 200
        [row] = audits(id__gt=last)
        assert (row.action, row.actor_type, row.actor_id) == (action, *actor)
        assert (row.object_type, row.object_id, row.outcome, row.ip) == ("recording", object_id, "allowed", "127.0.0.1")
        assert row.request_id


def test_a_download_and_a_delete_each_write_exactly_one_audit_row(reviewer_client, reviewer, recording):
    url = playback(reviewer_client, recording).json()["url"]
    before = AuditEvent.objects.count()
    assert APIClient().get(download_path(url)).status_code == 200
    [row] = audits(action="recording.download")
    assert AuditEvent.objects.count() == before + 1
    assert (row.actor_type, row.actor_id, row.object_id, row.outcome, row.ip) == (
        "user",
        str(reviewer.pk),
        str(recording.pk),
        "allowed",
        "127.0.0.1",
    )
    assert reviewer_client.delete(f"/api/v1/recordings/{recording.pk}").status_code == 200
    [row] = audits(action="recording.delete")
    assert AuditEvent.objects.count() == before + 2
    assert (row.actor_type, row.actor_id, row.object_id, row.outcome) == (
        "user",
        str(reviewer.pk),
        str(recording.pk),
        "allowed",
    )


def test_an_application_reading_metadata_is_audited_as_the_application(app_client, recording):
    app_client.get(f"/api/v1/recordings/{recording.pk}")
    [row] = audits(action="recording.view")
    assert (row.actor_type, row.actor_id, row.outcome) == ("application", str(app_client.application.pk), "allowed")


# -- only reviewers touch media, delete, or read the audit log; refusals are audited --------------

DENIED_CALLS = {
    "playback": ("post", "/api/v1/recordings/{id}/playback", "recording.playback"),
    "delete": ("delete", "/api/v1/recordings/{id}", "recording.delete"),
    "audit log": ("get", "/api/v1/audit-events", "audit.list"),
}


@pytest.mark.parametrize("call", DENIED_CALLS.values(), ids=DENIED_CALLS.keys())
@pytest.mark.parametrize("who", ["staff without the permission", "application key"])
def test_a_non_reviewer_is_refused_and_the_refusal_is_audited(request, who, call, recording):
    client = request.getfixturevalue("staff_client" if who.startswith("staff") else "app_client")
    method, path, action = call
    response = getattr(client, method)(path.format(id=recording.pk))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "not_a_reviewer"
    assert "url" not in response.json()
    [row] = audits(outcome="denied")
    assert row.action == action and row.ip == "127.0.0.1"
    if who.startswith("staff"):
        assert (row.actor_type, row.actor_id) == ("user", str(client.user.pk))
    else:
        assert (row.actor_type, row.actor_id) == ("application", str(client.application.pk))
    assert not audits(outcome="allowed")
    recording.refresh_from_db()
    assert recording.deleted_at is None and storage.current().path(recording.location).exists()


def test_a_reviewer_not_listed_on_the_application_gets_nothing(recording, other_client):
    outsider = make_staff("outsider", reviewer=True, applications=[other_client.application])
    client = APIClient()
    client.force_login(outsider)
    assert client.get("/api/v1/recordings").json()["results"] == []
    assert playback(client, recording).status_code == 404


def test_a_list_is_audited_under_each_application_the_caller_may_see(
    reviewer_client, reviewer, app_client, other_client, recording
):
    other_client.application.reviewers.add(reviewer)
    assert reviewer_client.get("/api/v1/recordings").status_code == 200
    rows = audits(action="recording.list")
    assert {row.application_id for row in rows} == {app_client.application.pk, other_client.application.pk}
    app_client.get("/api/v1/recordings")
    assert audits(action="recording.list", actor_type="application")[0].application == app_client.application
    [own_row] = [
        row
        for row in reviewer_client.get("/api/v1/audit-events", {"action": "recording.list"}).json()["results"]
        if row["actor_type"] == "user"
    ][:1]
    assert own_row["actor_id"] == str(reviewer.pk)


def test_a_refusal_is_audited_under_the_application_of_the_recording_it_aimed_at(
    staff_client, reviewer_client, recording
):
    assert playback(staff_client, recording).status_code == 403
    [row] = audits(outcome="denied")
    assert row.application == recording.room.application
    shown = reviewer_client.get("/api/v1/audit-events", {"object_id": str(recording.pk)}).json()["results"]
    assert [(r["action"], r["outcome"], r["actor_id"]) for r in shown] == [
        ("recording.playback", "denied", str(staff_client.user.pk))
    ]


def test_a_superuser_sees_only_the_applications_they_are_listed_on(app_client, recording, django_user_model):
    root = django_user_model.objects.create_superuser("root", password=None)
    client = APIClient()
    client.force_login(root)
    assert client.get("/api/v1/recordings").json()["results"] == []
    assert client.get(f"/api/v1/recordings/{recording.pk}").status_code == 404
    assert playback(client, recording).status_code == 404
    app_client.application.reviewers.add(root)
    assert ids(client.get("/api/v1/recordings")) == {str(recording.pk)}
    assert playback(client, recording).status_code == 200


# -- no audit row, no action ----------------------------------------------------------------------


def _refuse(*args, **kwargs):
    raise OperationalError("audit table unavailable")


def _break_the_audit_insert(monkeypatch):
    """The lowest layer: audit_record's INSERT fails as a database would."""
    monkeypatch.setattr("core.services.insert_row", _refuse)


@pytest.fixture(params=["audit INSERT", "core.services.audit_record"])
def broken_audit(request, monkeypatch):
    if request.param == "audit INSERT":
        _break_the_audit_insert(monkeypatch)
    else:
        monkeypatch.setattr("core.services.audit_record", _refuse)
    return request.param


def test_playback_without_an_audit_row_is_refused_and_gives_no_url(reviewer_client, recording, broken_audit):
    response = playback(reviewer_client, recording)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "audit_unavailable"
    assert "url" not in response.json() and "token=" not in response.content.decode()


def test_viewing_or_listing_without_an_audit_row_is_refused(reviewer_client, recording, broken_audit):
    detail = reviewer_client.get(f"/api/v1/recordings/{recording.pk}")
    assert detail.status_code == 503 and detail.json()["error"]["code"] == "audit_unavailable"
    listed = reviewer_client.get("/api/v1/recordings")
    assert listed.status_code == 503 and "results" not in listed.json()


def test_a_download_without_an_audit_row_sends_no_bytes(reviewer_client, recording, monkeypatch):
    url = playback(reviewer_client, recording).json()["url"]
    _break_the_audit_insert(monkeypatch)
    response = APIClient().get(download_path(url))
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "audit_unavailable"


def test_a_delete_without_an_audit_row_deletes_nothing_and_says_audit_unavailable(
    reviewer_client, recording, broken_audit
):
    response = reviewer_client.delete(f"/api/v1/recordings/{recording.pk}")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "audit_unavailable"
    recording.refresh_from_db()
    assert recording.deleted_at is None
    assert storage.current().path(recording.location).read_bytes() == MEDIA


# -- local files: a signed, expiring Convene URL with ranges --------------------------------------


def test_playback_of_a_local_file_returns_a_convene_download_url_valid_at_most_five_minutes(
    reviewer_client, recording, settings
):
    before = timezone.now()
    response = playback(reviewer_client, recording)
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert body["url"].startswith(f"{settings.CONVENE_PUBLIC_URL}/api/v1/recordings/{recording.pk}/download?token=")
    expires_at = datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
    assert before < expires_at <= timezone.now() + timedelta(minutes=5)


def test_the_download_url_serves_the_file_and_byte_ranges(reviewer_client, recording):
    path = download_path(playback(reviewer_client, recording).json()["url"])
    anyone = APIClient()
    whole = anyone.get(path)
    assert whole.status_code == 200
    assert b"".join(whole.streaming_content) == MEDIA
    assert whole["Accept-Ranges"] == "bytes"
    first = anyone.get(path, HTTP_RANGE="bytes=0-9")
    assert first.status_code == 206
    assert first["Content-Range"] == f"bytes 0-9/{len(MEDIA)}"
    assert b"".join(first.streaming_content) == MEDIA[:10]
    middle = anyone.get(path, HTTP_RANGE="bytes=100-")
    assert middle.status_code == 206 and b"".join(middle.streaming_content) == MEDIA[100:]
    suffix = anyone.get(path, HTTP_RANGE="bytes=-16")
    assert suffix.status_code == 206
    assert suffix["Content-Range"] == f"bytes {len(MEDIA) - 16}-{len(MEDIA) - 1}/{len(MEDIA)}"
    assert b"".join(suffix.streaming_content) == MEDIA[-16:]
    beyond = anyone.get(path, HTTP_RANGE=f"bytes={len(MEDIA)}-{len(MEDIA) + 10}")
    assert beyond.status_code == 416
    assert beyond["Content-Range"] == f"bytes */{len(MEDIA)}"


def test_an_expired_download_link_is_refused(reviewer_client, recording, monkeypatch):
    with monkeypatch.context() as patched:  # the link was made six minutes ago
        six_minutes_ago = int(time.time()) - 360
        patched.setattr(signing.TimestampSigner, "timestamp", lambda self: signing.b62_encode(six_minutes_ago))
        url = playback(reviewer_client, recording).json()["url"]
    before = AuditEvent.objects.count()
    response = APIClient().get(download_path(url))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "link_expired"
    assert AuditEvent.objects.count() == before  # nothing was downloaded


def test_a_download_link_of_another_recording_is_refused(reviewer_client, recording, room, file_storage):
    second = stored_recording(room, storage="file", where=file_storage, body=b"second recording")
    url = playback(reviewer_client, recording).json()["url"]
    token = parse_qs(urlsplit(url).query)["token"][0]
    response = APIClient().get(f"/api/v1/recordings/{second.pk}/download", {"token": token})
    assert response.status_code == 403


def test_a_tampered_or_missing_token_is_refused(reviewer_client, recording):
    url = playback(reviewer_client, recording).json()["url"]
    token = parse_qs(urlsplit(url).query)["token"][0]
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert APIClient().get(f"/api/v1/recordings/{recording.pk}/download", {"token": forged}).status_code == 403
    assert APIClient().get(f"/api/v1/recordings/{recording.pk}/download").status_code == 403


def test_a_deleted_recording_has_no_playback(reviewer_client, recording):
    assert reviewer_client.delete(f"/api/v1/recordings/{recording.pk}").status_code == 200
    response = playback(reviewer_client, recording)
    assert response.status_code == 403 and "url" not in response.json()


# -- never stored, never logged -------------------------------------------------------------------


def rows_containing(needle: str) -> list[str]:
    """Every table whose rows' text contains `needle` (PostgreSQL: a row cast to text)."""
    found = []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
        )
        for (table,) in cursor.fetchall():
            cursor.execute(f'SELECT count(*) FROM "{table}" AS t WHERE t::text LIKE %s', [f"%{needle}%"])
            if cursor.fetchone()[0]:
                found.append(table)
    return found


def logged_text(caplog) -> str:
    return "\n".join(
        f"{record.getMessage()} {record.args!r} {getattr(record, 'exc_text', '') or ''}" for record in caplog.records
    )


def test_a_local_playback_url_is_never_logged_nor_stored(reviewer_client, recording, caplog):
    caplog.set_level(logging.DEBUG)
    url = playback(reviewer_client, recording).json()["url"]
    token = parse_qs(urlsplit(url).query)["token"][0]
    APIClient().get(download_path(url), HTTP_RANGE="bytes=0-9")
    APIClient().get(f"/api/v1/recordings/{recording.pk}/download", {"token": token + "x"})  # a refused one too
    text = logged_text(caplog)
    assert token not in text and token.rsplit(":", 1)[-1] not in text
    assert rows_containing(token.rsplit(":", 1)[-1]) == []


# -- S3 storage against moto's server -------------------------------------------------------------


@pytest.fixture
def s3_recording(room, s3_storage) -> Recording:
    return stored_recording(room, storage="s3", where=s3_storage)


def fetch(url: str) -> tuple[int, bytes]:
    assert urlsplit(url).hostname == "127.0.0.1"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_an_s3_playback_url_is_presigned_sigv4_and_valid_at_most_five_minutes(reviewer_client, s3_recording):
    response = playback(reviewer_client, s3_recording)
    assert response.status_code == 200
    url = response.json()["url"]
    query = parse_qs(urlsplit(url).query)
    assert urlsplit(url).path.endswith(s3_recording.location)
    assert "X-Amz-Expires" in query, f"not a SigV4 presigned URL: {sorted(query)}"
    assert 0 < int(query["X-Amz-Expires"][0]) <= 300
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]


def test_an_s3_playback_url_fetches_the_object_from_the_bucket(reviewer_client, s3_recording, caplog):
    caplog.set_level(logging.DEBUG)
    url = playback(reviewer_client, s3_recording).json()["url"]
    text = logged_text(caplog)  # what Convene logged while making the URL (not the test's S3 server)
    assert url not in text
    status, body = fetch(url)
    assert (status, body) == (200, MEDIA)
    query = parse_qs(urlsplit(url).query)
    signature = (query.get("X-Amz-Signature") or query.get("Signature"))[0]
    assert rows_containing(signature) == []
    assert signature not in text


def test_an_s3_playback_url_is_refused_once_expired(reviewer_client, s3_recording, settings):
    settings.RECORDING_PLAYBACK_TTL_SECONDS = 1
    url = playback(reviewer_client, s3_recording).json()["url"]
    time.sleep(2.1)
    status, body = fetch(url)
    assert status == 403, body


def test_the_playback_ttl_is_capped_at_five_minutes_whatever_the_setting(settings):
    settings.RECORDING_PLAYBACK_TTL_SECONDS = 3600
    assert storage.playback_ttl() == timedelta(minutes=5)


def test_an_unfinished_recording_has_no_playback_and_the_refusal_is_audited(reviewer_client, room, file_storage):
    active = stored_recording(room, storage="file", where=file_storage, status=RecordingStatus.ACTIVE, body=None)
    response = playback(reviewer_client, active)
    assert response.status_code == 403 and response.json()["error"]["code"] == "no_media"
    [row] = audits(outcome="denied")
    assert (row.action, row.object_id) == ("recording.playback", str(active.pk))


def test_an_unknown_recording_is_404(reviewer_client, recording):
    assert reviewer_client.get(f"/api/v1/recordings/{uuid.uuid4()}").status_code == 404
