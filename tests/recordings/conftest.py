"""Recordings tests drive the event flow with the webhook helpers, against the fake LiveKit server
and, for S3, a real S3-compatible HTTP server (moto's server mode) on 127.0.0.1."""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

import boto3
import pytest
from botocore.config import Config
from django.contrib.auth.models import Group, User
from django.utils import timezone
from rest_framework.test import APIClient

import providers
from access.models import Invitation
from recordings.models import ConsentNotice, Recording, RecordingStatus
from rooms.models import RecordingPolicy, Room
from tests.factories import InvitationFactory, RoomFactory
from tests.fakes.livekit_server import FakeLiveKitServer
from tests.webhooks.conftest import participant_info, room_info, webhooks  # noqa: F401  (fixture re-export)

REVIEWERS_GROUP = "Recording reviewers"
S3_BUCKET = "convene-recordings-test"
S3_REGION = "us-east-1"
S3_KEY_ID, S3_SECRET = "test-access-key", "test-secret-key-0123456789"


# -- the fake LiveKit server: one per session (stopping one costs half a second), fresh per test --


@pytest.fixture(scope="session")
def _livekit_server():
    from django.conf import settings

    with FakeLiveKitServer(api_key=settings.LIVEKIT_API_KEY, api_secret=settings.LIVEKIT_API_SECRET) as server:
        yield server


@pytest.fixture
def fake_livekit(_livekit_server, settings):
    """The shared fake LiveKit server with no state; the provider is configured to use it."""
    _livekit_server.reset()
    settings.LIVEKIT_URL = _livekit_server.url
    providers.get.cache_clear()
    yield _livekit_server
    providers.get.cache_clear()


def egress_calls(fake, method: str = "StartRoomCompositeEgress") -> list:
    return [call for call in fake.requests if call.method == method]


# -- Celery eager, and on-commit callbacks ---------------------------------------------------------


@pytest.fixture
def eager_celery():
    """Tasks run in-process when enqueued (restored afterwards)."""
    from config.celery import app

    before = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, True
    yield app
    app.conf.task_always_eager, app.conf.task_eager_propagates = before


# -- storage ----------------------------------------------------------------------------------------


class _ExpiringMotoServer:
    """moto's server mode (ThreadedMotoServer's WSGI app) on 127.0.0.1, behind a layer that refuses
    expired presigned URLs as S3 does (403 AccessDenied "Request has expired"): moto 5.2.5 never
    checks a presigned URL's expiry itself."""

    def __init__(self):
        from moto.server import ThreadedMotoServer

        self._moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        outer = self

        def entry() -> None:  # ThreadedMotoServer._server_entry with the app wrapped
            from moto.moto_server.threaded_moto_server import MotoRequestHandler
            from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
            from werkzeug.serving import make_server

            app = DomainDispatcherApplication(create_backend_app)
            outer._moto._server = make_server(
                "127.0.0.1", 0, outer._refuse_expired(app), True, request_handler=MotoRequestHandler
            )
            outer._moto._server_ready_event.set()
            outer._moto._server.serve_forever()

        self._moto._server_entry = entry

    @staticmethod
    def _refuse_expired(app):
        def wrapped(environ, start_response):
            query = parse_qs(environ.get("QUERY_STRING", ""))
            expired = False
            if "X-Amz-Expires" in query and "X-Amz-Date" in query:  # SigV4
                signed_at = datetime.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
                expired = datetime.now(UTC) > signed_at + timedelta(seconds=int(query["X-Amz-Expires"][0]))
            elif "Expires" in query and "Signature" in query:  # SigV2 query auth
                expired = time.time() > int(query["Expires"][0])
            if expired:
                start_response("403 Forbidden", [("Content-Type", "application/xml")])
                return [b"<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>"]
            return app(environ, start_response)

        return wrapped

    def start(self) -> str:
        self._moto.start()
        host, port = self._moto.get_host_and_port()
        assert host == "127.0.0.1"
        return f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        self._moto.stop()


@pytest.fixture(scope="session")
def moto_s3_endpoint():
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = _ExpiringMotoServer()
    endpoint = server.start()
    client = _s3_client(endpoint)
    client.create_bucket(Bucket=S3_BUCKET)
    yield endpoint
    server.stop()


def _s3_client(endpoint: str):
    return boto3.client(
        "s3",
        region_name=S3_REGION,
        endpoint_url=endpoint,
        aws_access_key_id=S3_KEY_ID,
        aws_secret_access_key=S3_SECRET,
        config=Config(s3={"addressing_style": "path"}),
    )


@dataclass
class S3Bucket:
    client: object
    bucket: str = S3_BUCKET

    def put(self, key: str, body: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=body)

    def exists(self, key: str) -> bool:
        listed = self.client.list_objects_v2(Bucket=self.bucket, Prefix=key)
        return any(item["Key"] == key for item in listed.get("Contents", []))


@pytest.fixture
def s3_storage(settings, moto_s3_endpoint, monkeypatch) -> S3Bucket:
    """Convene stores recordings in a bucket of the moto server on 127.0.0.1."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    settings.RECORDING_STORAGE = "s3"
    settings.RECORDING_S3_ENDPOINT = moto_s3_endpoint
    settings.RECORDING_S3_FORCE_PATH_STYLE = True
    settings.RECORDING_S3_BUCKET = S3_BUCKET
    settings.RECORDING_S3_REGION = S3_REGION
    settings.RECORDING_S3_ACCESS_KEY_ID = S3_KEY_ID
    settings.RECORDING_S3_SECRET_ACCESS_KEY = S3_SECRET
    settings.RECORDING_S3_PREFIX = "recordings/"
    return S3Bucket(_s3_client(moto_s3_endpoint))


@pytest.fixture
def file_storage(settings, tmp_path):
    """Convene (and the recorder) store recordings under tmp_path."""
    settings.RECORDING_STORAGE = "file"
    settings.RECORDING_FILE_DIR = str(tmp_path)
    settings.RECORDING_EGRESS_FILE_DIR = str(tmp_path)
    return tmp_path


MEDIA = bytes(range(256)) * 4  # 1 KiB of distinguishable bytes


def stored_recording(room: Room, *, storage: str, where, body: bytes | None = MEDIA, **fields) -> Recording:
    """A finished recording whose media is in `where` (an S3Bucket or a directory)."""
    recording_id = uuid.uuid4()
    location = f"recordings/{room.pk}/{recording_id}.mp4" if storage == "s3" else f"{room.pk}/{recording_id}.mp4"
    values = {
        "status": RecordingStatus.COMPLETE,
        "started_at": timezone.now() - timedelta(hours=1),
        "ended_at": timezone.now() - timedelta(minutes=30),
        "retention_until": timezone.now() + timedelta(days=30),
        **fields,
    }
    recording = Recording.objects.create(
        id=recording_id,
        room=room,
        provider="livekit",
        provider_recording_id=f"EG_{recording_id.hex[:12]}",
        trigger="api",
        started_by=f"application:{room.application_id}",
        storage=storage,
        location=location,
        **values,
    )
    if body is not None:
        if storage == "s3":
            where.put(location, body)
        else:
            path = where / location
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(body)
    return recording


# -- reviewers --------------------------------------------------------------------------------------


def make_staff(username: str, *, reviewer: bool, applications=()) -> User:
    user = User.objects.create_user(username, password=None, is_staff=True)  # force_login: no slow hashing
    if reviewer:
        user.groups.add(Group.objects.get(name=REVIEWERS_GROUP))
    for application in applications:
        application.reviewers.add(user)
    return user


@pytest.fixture
def reviewer(app_client) -> User:
    """A staff user in the "Recording reviewers" group, listed on application A."""
    return make_staff("reviewer-a", reviewer=True, applications=[app_client.application])


@pytest.fixture
def reviewer_client(reviewer) -> APIClient:
    client = APIClient(enforce_csrf_checks=False)
    client.force_login(reviewer)
    client.user = reviewer
    return client


# -- a call in a room: people joining through webhooks, consents through the API ------------------


@dataclass
class Meeting:
    app_client: object
    anon_client: object
    webhooks: object
    fake: object | None
    room: Room
    links: dict[str, Invitation] = field(default_factory=dict)
    sids: dict[str, str] = field(default_factory=dict)
    session_sid: str = "RM_session1"

    def link(self, identity: str, role: str = "guest") -> Invitation:
        if identity not in self.links:
            self.links[identity] = InvitationFactory(room=self.room, identity=identity, role=role)
        return self.links[identity]

    def join(self, identity: str, *, kind: str = "", sid: str | None = None) -> str:
        """participant_joined as the server sends it (the fake also gets the participant, which
        creates its room so that egress can start there)."""
        if not kind:
            self.link(identity)
        sid = sid or f"PA_{identity}{len(self.sids)}"
        self.sids[identity] = sid
        if self.fake is not None:
            self.fake.add_participant(self.room.provider_room_name, identity)
        self.webhooks.send(
            "participant_joined",
            room=room_info(self.room, sid=self.session_sid),
            participant=participant_info(sid, identity, name=identity.title(), kind=kind),
        )
        return sid

    def grant(self, identity: str, **extra):
        response = self.app_client.post(
            f"/api/v1/rooms/{self.room.pk}/consents",
            {"identity": identity, "decision": "granted", **extra},
            format="json",
        )
        assert response.status_code == 201, response.content
        return response.json()

    def link_consent(self, identity: str, decision: str, **extra):
        return self.anon_client.post(
            f"/api/v1/join/{self.link(identity).secret}/consent", {"decision": decision, **extra}, format="json"
        )

    def start(self):
        return self.app_client.post(f"/api/v1/rooms/{self.room.pk}/recordings")


@pytest.fixture
def notice(app_client) -> ConsentNotice:
    return ConsentNotice.objects.create(application=app_client.application, version=1, text="We record this call.")


@pytest.fixture
def make_meeting(app_client, anon_client, request):
    """make_meeting(policy=..., notice=True, fake=True) -> Meeting in a room of application A."""

    def make(*, policy: str = RecordingPolicy.ON_DEMAND, notice: bool = True, fake: bool = True) -> Meeting:
        if notice and not ConsentNotice.objects.filter(application=app_client.application).exists():
            ConsentNotice.objects.create(application=app_client.application, version=1, text="We record this call.")
        room = RoomFactory(application=app_client.application, recording_policy=policy)
        server = request.getfixturevalue("fake_livekit") if fake else None
        return Meeting(app_client, anon_client, request.getfixturevalue("webhooks"), server, room)

    return make
