"""Where recordings live: an S3-compatible bucket or a directory shared with the media server's
recorder. Each backend tells the provider where to write, makes short-lived playback URLs, and
deletes (an object that is already gone counts as deleted).

Playback URLs are returned to the caller only: never stored, never logged.
"""

from __future__ import annotations

import os
import shutil
from datetime import timedelta
from pathlib import Path
from typing import Protocol

from django.conf import settings
from django.core import signing
from django.urls import reverse

from providers.base import RecordingSpec, S3Target
from recordings.models import StorageKind

MAX_PLAYBACK_TTL = timedelta(minutes=5)
DOWNLOAD_SALT = "convene.recordings.download"


def playback_ttl() -> timedelta:
    return min(timedelta(seconds=settings.RECORDING_PLAYBACK_TTL_SECONDS), MAX_PLAYBACK_TTL)


class Storage(Protocol):
    kind: str

    def location_for(self, recording) -> str: ...

    def recording_spec(self, location: str) -> RecordingSpec: ...

    def playback_url(self, recording, *, reviewer_id: str) -> str: ...

    def delete(self, location: str) -> None: ...

    def store(self, location: str, source: Path) -> None:
        """Put a file Convene made (a post-processed composite) at `location`, replacing any
        earlier copy: storing the same recording twice is harmless."""


# What recorders write: LiveKit's composite egress (MP4), Convene's post-processed composite (WebM).
CONTENT_TYPES = {".mp4": "video/mp4", ".webm": "video/webm"}


def content_type(location: str) -> str:
    return CONTENT_TYPES.get(Path(location).suffix.lower(), "application/octet-stream")


def _object_name(recording) -> str:
    return f"{recording.room_id}/{recording.pk}.mp4"


class S3Storage:
    kind = StorageKind.S3

    def __init__(self, target: S3Target, prefix: str = ""):
        self.target, self.prefix = target, prefix

    def _client(self):
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            region_name=self.target.region or None,
            endpoint_url=self.target.endpoint or None,
            aws_access_key_id=self.target.access_key_id,
            aws_secret_access_key=self.target.secret_access_key,
            config=Config(
                signature_version="s3v4",
                s3={"addressing_style": "path" if self.target.force_path_style else "auto"},
                connect_timeout=5,
                read_timeout=10,
                retries={"max_attempts": 2},
            ),
        )

    def location_for(self, recording) -> str:
        return f"{self.prefix}{_object_name(recording)}"

    def recording_spec(self, location: str) -> RecordingSpec:
        return RecordingSpec(location=location, s3=self.target)

    def playback_url(self, recording, *, reviewer_id: str) -> str:
        return self._client().generate_presigned_url(
            "get_object",
            Params={"Bucket": self.target.bucket, "Key": recording.location},
            ExpiresIn=int(playback_ttl().total_seconds()),
        )

    def delete(self, location: str) -> None:
        # DeleteObject succeeds for a key that does not exist: already gone counts as done.
        self._client().delete_object(Bucket=self.target.bucket, Key=location)

    def store(self, location: str, source: Path) -> None:
        self._client().upload_file(
            str(source), self.target.bucket, location, ExtraArgs={"ContentType": content_type(location)}
        )


class FileStorage:
    """Self-hosted recorders writing to storage Convene can read: the recorder sees the directory
    as RECORDING_EGRESS_FILE_DIR, Convene as RECORDING_FILE_DIR."""

    kind = StorageKind.FILE

    def __init__(self, root: Path, recorder_root: str):
        self.root, self.recorder_root = root, recorder_root.rstrip("/")

    def location_for(self, recording) -> str:
        return _object_name(recording)

    def recording_spec(self, location: str) -> RecordingSpec:
        return RecordingSpec(location=f"{self.recorder_root}/{location}")

    def path(self, location: str) -> Path:
        """The file for a stored location, refusing anything outside the root."""
        relative = location.removeprefix(self.recorder_root).lstrip("/")
        candidate = (self.root / relative).resolve()
        if not candidate.is_relative_to(self.root.resolve()):
            raise ValueError("recording location outside the storage root")
        return candidate

    def playback_url(self, recording, *, reviewer_id: str) -> str:
        token = signing.TimestampSigner(salt=DOWNLOAD_SALT).sign_object({"r": str(recording.pk), "u": reviewer_id})
        path = reverse("recording-download", kwargs={"recording_id": recording.pk})
        return f"{settings.CONVENE_PUBLIC_URL}{path}?token={token}"

    def delete(self, location: str) -> None:
        self.path(location).unlink(missing_ok=True)

    def store(self, location: str, source: Path) -> None:
        target = self.path(location)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".partial")
        shutil.copyfile(source, partial)
        os.replace(partial, target)  # readers see the whole file or none of it


def download_token_check(token: str, recording_id: str) -> str:
    """The reviewer id a download token was made for; raises signing.BadSignature if it is forged,
    expired (older than the playback TTL) or for another recording."""
    data = signing.TimestampSigner(salt=DOWNLOAD_SALT).unsign_object(token, max_age=playback_ttl())
    if data.get("r") != str(recording_id):
        raise signing.BadSignature("token for another recording")
    return data["u"]


def current() -> Storage:
    if settings.RECORDING_STORAGE == "s3":
        target = S3Target(
            bucket=settings.RECORDING_S3_BUCKET,
            region=settings.RECORDING_S3_REGION,
            endpoint=settings.RECORDING_S3_ENDPOINT,
            access_key_id=settings.RECORDING_S3_ACCESS_KEY_ID,
            secret_access_key=settings.RECORDING_S3_SECRET_ACCESS_KEY,
            force_path_style=settings.RECORDING_S3_FORCE_PATH_STYLE,
        )
        return S3Storage(target, settings.RECORDING_S3_PREFIX)
    return FileStorage(Path(settings.RECORDING_FILE_DIR), settings.RECORDING_EGRESS_FILE_DIR)


def for_recording(recording) -> Storage:
    """The backend a recording was written to (which may not be today's setting)."""
    backend = current()
    if backend.kind != recording.storage:
        raise ValueError(f"recording stored in {recording.storage!r} but storage is now {backend.kind!r}")
    return backend
