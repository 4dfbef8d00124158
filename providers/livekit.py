"""LiveKit (Cloud or self-hosted): join tokens and the server API over Twirp.

This module is the only code in Convene that imports `livekit`. It converts LiveKit's units to
ours (seconds and nanoseconds to aware datetimes) and its errors to providers.base exceptions.
The SDK is asyncio-only: each call builds a client inside its own coroutine and closes it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import aiohttp
import jwt
from asgiref.sync import async_to_sync
from django.conf import settings
from google.protobuf import json_format
from livekit import api
from livekit.protocol import egress as lk_egress
from livekit.protocol import models as lk_models
from livekit.protocol.models import ParticipantInfo
from livekit.protocol.webhook import WebhookEvent

from providers.base import (
    BadPayload,
    BadSignature,
    EventKind,
    EventParticipant,
    EventTrack,
    JoinCredentials,
    LiveParticipant,
    LiveRoom,
    NeutralEvent,
    ParticipantSpec,
    Provider,
    ProviderNotFound,
    ProviderRecording,
    ProviderRejected,
    ProviderUnavailable,
    RecordingFile,
    RecordingSpec,
    RecordingState,
    RoomRef,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")

_RETRYABLE_CODES = {"unavailable", "internal", "unknown", "deadline_exceeded", "resource_exhausted", "aborted"}


def client_url(api_url: str) -> str:
    """The URL browsers connect to: LiveKit's API URL with an ws(s) scheme."""
    if api_url.startswith("https://"):
        return "wss://" + api_url.removeprefix("https://")
    if api_url.startswith("http://"):
        return "ws://" + api_url.removeprefix("http://")
    return api_url


def api_url(configured_url: str) -> str:
    """The URL Convene calls for the server API: LiveKit's URL with an http(s) scheme."""
    if configured_url.startswith("wss://"):
        return "https://" + configured_url.removeprefix("wss://")
    if configured_url.startswith("ws://"):
        return "http://" + configured_url.removeprefix("ws://")
    return configured_url


def from_seconds(value: int) -> datetime | None:
    return datetime.fromtimestamp(value, tz=UTC) if value else None


def from_milliseconds(value: int) -> datetime | None:
    return datetime.fromtimestamp(value / 1000, tz=UTC) if value else None


EVENT_KINDS = {
    "room_started": EventKind.ROOM_STARTED,
    "room_finished": EventKind.ROOM_FINISHED,
    "participant_joined": EventKind.PARTICIPANT_JOINED,
    "participant_left": EventKind.PARTICIPANT_LEFT,
    "participant_connection_aborted": EventKind.PARTICIPANT_ABORTED,
    "track_published": EventKind.TRACK_PUBLISHED,
    "track_unpublished": EventKind.TRACK_UNPUBLISHED,
    "egress_started": EventKind.RECORDING_STARTED,
    "egress_updated": EventKind.RECORDING_UPDATED,
    "egress_ended": EventKind.RECORDING_ENDED,
}


def _event_participant(info: lk_models.ParticipantInfo) -> EventParticipant | None:
    if not info.sid and not info.identity:
        return None
    reason = info.disconnect_reason
    return EventParticipant(
        sid=info.sid,
        identity=info.identity,
        display_name=info.name,
        kind=ParticipantInfo.Kind.Name(info.kind).lower(),
        joined_at=from_milliseconds(info.joined_at_ms) or from_seconds(info.joined_at),
        disconnect_reason=lk_models.DisconnectReason.Name(reason) if reason else "",
        attributes=dict(info.attributes),
    )


def _event_track(info: lk_models.TrackInfo) -> EventTrack | None:
    if not info.sid:
        return None
    return EventTrack(
        sid=info.sid,
        kind=lk_models.TrackType.Name(info.type).lower(),
        source=lk_models.TrackSource.Name(info.source).lower(),
    )


EGRESS_STATES = {
    lk_egress.EGRESS_STARTING: RecordingState.STARTING,
    lk_egress.EGRESS_ACTIVE: RecordingState.ACTIVE,
    lk_egress.EGRESS_ENDING: RecordingState.ENDING,
    lk_egress.EGRESS_COMPLETE: RecordingState.COMPLETE,
    lk_egress.EGRESS_FAILED: RecordingState.FAILED,
    lk_egress.EGRESS_ABORTED: RecordingState.ABORTED,
    # The egress stopped at a configured limit (duration or size): the file is complete.
    lk_egress.EGRESS_LIMIT_REACHED: RecordingState.COMPLETE,
}


def from_nanoseconds(value: int) -> datetime | None:
    return datetime.fromtimestamp(value / 1e9, tz=UTC) if value > 0 else None


def _recording_file(info: lk_egress.FileInfo) -> RecordingFile:
    # Durations are nanoseconds; a file that never started can report a negative one: clamp it.
    duration = max(0, round(info.duration / 1e9)) if info.duration else None
    return RecordingFile(
        location=info.filename or info.location,
        size_bytes=info.size if info.size > 0 else None,
        duration_seconds=duration,
    )


def provider_recording(info: lk_egress.EgressInfo) -> ProviderRecording:
    """An EgressInfo in our units. fileResults first, the deprecated `file` as a fallback."""
    files = [_recording_file(f) for f in info.file_results]
    if not files and info.HasField("file"):
        files = [_recording_file(info.file)]
    error = info.error
    if info.status == lk_egress.EGRESS_LIMIT_REACHED:
        error = error or "limit reached"
    return ProviderRecording(
        recording_id=info.egress_id,
        room_name=info.room_name,
        state=EGRESS_STATES.get(info.status, "starting"),
        started_at=from_nanoseconds(info.started_at),
        ended_at=from_nanoseconds(info.ended_at),
        error=error,
        files=tuple(files),
    )


def neutral_event(event: WebhookEvent, body: bytes) -> NeutralEvent:
    """LiveKit's WebhookEvent in our terms; seconds become aware datetimes."""
    room_name, room_sid = event.room.name, event.room.sid
    if event.HasField("egress_info"):
        room_name = room_name or event.egress_info.room_name
        room_sid = room_sid or event.egress_info.room_id
    return NeutralEvent(
        # The id is LiveKit's idempotency key; a body without one is keyed by its own hash.
        provider_event_id=event.id or "sha256:" + hashlib.sha256(body).hexdigest(),
        kind=EVENT_KINDS.get(event.event, f"livekit.{event.event}"),
        occurred_at=from_seconds(event.created_at) or datetime.now(UTC),
        room_name=room_name,
        room_sid=room_sid,
        room_started_at=from_milliseconds(event.room.creation_time_ms) or from_seconds(event.room.creation_time),
        participant=_event_participant(event.participant) if event.HasField("participant") else None,
        track=_event_track(event.track) if event.HasField("track") else None,
        recording=provider_recording(event.egress_info) if event.HasField("egress_info") else None,
    )


def translate_error(exc: BaseException) -> Exception:
    """LiveKit/transport failure -> ProviderUnavailable / ProviderRejected / ProviderNotFound.

    The HTTP status decides: LiveKit's auth middleware answers 401 with a plain body, which
    the SDK reports with code "unknown", so the Twirp code alone would misclassify it.
    """
    if isinstance(exc, api.TwirpError):
        message = f"LiveKit answered {exc.status} {exc.code}"
        if exc.code == "not_found" or exc.status == 404:
            return ProviderNotFound(message, provider_code=exc.code)
        if exc.status == 429 or exc.status >= 500:
            return ProviderUnavailable(message, provider_code=exc.code)
        if 400 <= exc.status < 500:
            return ProviderRejected(message, provider_code=exc.code)
        kind = ProviderUnavailable if exc.code in _RETRYABLE_CODES else ProviderRejected
        return kind(message, provider_code=exc.code)
    if isinstance(exc, aiohttp.ClientError | asyncio.TimeoutError | OSError):
        return ProviderUnavailable(f"LiveKit unreachable: {type(exc).__name__}")
    return exc


class LiveKitProvider(Provider):
    name = "livekit"

    def __init__(
        self,
        *,
        url: str,
        api_key: str,
        api_secret: str,
        client_url_override: str = "",
        timeout_seconds: float = 5.0,
        webhook_keys: Mapping[str, str] | None = None,
    ):
        self.url = api_url(url)
        self.client_url = client_url_override or client_url(url)
        self.api_key = api_key
        self.api_secret = api_secret
        self.timeout_seconds = timeout_seconds
        # Every key/secret pair whose webhooks we accept: more than one while rotating keys.
        self.webhook_keys = dict(webhook_keys or {api_key: api_secret})

    @classmethod
    def from_settings(cls) -> LiveKitProvider:
        return cls(
            url=settings.LIVEKIT_URL,
            api_key=settings.LIVEKIT_API_KEY,
            api_secret=settings.LIVEKIT_API_SECRET,
            client_url_override=settings.LIVEKIT_CLIENT_URL,
            timeout_seconds=settings.LIVEKIT_TIMEOUT_SECONDS,
            webhook_keys=settings.LIVEKIT_WEBHOOK_KEYS,
        )

    def join_credentials(self, *, room: RoomRef, participant: ParticipantSpec, ttl: timedelta) -> JoinCredentials:
        grants = participant.grants
        video = api.VideoGrants(
            room_join=True,
            room=room.name,
            can_publish=grants.can_publish,
            can_subscribe=grants.can_subscribe,
            can_publish_data=grants.can_publish_data,
            can_publish_sources=list(grants.publish_sources) if grants.can_publish else None,
            hidden=grants.hidden,
            can_update_own_metadata=False,
        )
        room_config = api.RoomConfiguration(
            empty_timeout=room.empty_timeout_seconds,
            departure_timeout=room.departure_timeout_seconds,
            max_participants=room.max_participants,
            metadata=json.dumps({"convene_room_id": room.convene_room_id}),
        )
        # exp is computed by the SDK from the same clock; ours is rounded down to whole seconds
        # the way the JWT's is, so the two agree.
        issued = datetime.now(UTC).replace(microsecond=0)
        token = (
            api.AccessToken(self.api_key, self.api_secret)
            .with_identity(participant.identity)
            .with_name(participant.display_name)
            .with_metadata(participant.metadata)
            .with_attributes(participant.attributes)
            .with_ttl(ttl)
            .with_grants(video)
            .with_room_config(room_config)
            .to_jwt()
        )
        return JoinCredentials(provider=self.name, server_url=self.client_url, token=token, expires_at=issued + ttl)

    def close_room(self, *, room: RoomRef) -> None:
        try:
            self._call(lambda lk: lk.room.delete_room(api.DeleteRoomRequest(room=room.name)))
        except ProviderNotFound:
            logger.info("livekit room already gone room=%s", room.convene_room_id)

    def remove_participant(self, *, room: RoomRef, identity: str) -> None:
        self._call(
            lambda lk: lk.room.remove_participant(api.RoomParticipantIdentity(room=room.name, identity=identity))
        )

    def list_live_rooms(self) -> list[LiveRoom]:
        response = self._call(lambda lk: lk.room.list_rooms(api.ListRoomsRequest()))
        return [
            LiveRoom(
                name=r.name,
                sid=r.sid,
                created_at=from_seconds(r.creation_time),
                num_participants=r.num_participants,
                metadata=r.metadata,
            )
            for r in response.rooms
        ]

    def list_participants(self, *, room: RoomRef) -> list[LiveParticipant]:
        try:
            response = self._call(lambda lk: lk.room.list_participants(api.ListParticipantsRequest(room=room.name)))
        except ProviderNotFound:
            return []
        return [
            LiveParticipant(
                sid=p.sid,
                identity=p.identity,
                display_name=p.name,
                kind=ParticipantInfo.Kind.Name(p.kind).lower(),
                joined_at=from_seconds(p.joined_at),
                metadata=p.metadata,
            )
            for p in response.participants
        ]

    def start_recording(self, *, room: RoomRef, spec: RecordingSpec) -> ProviderRecording:
        output = lk_egress.EncodedFileOutput(file_type=lk_egress.MP4, filepath=spec.location)
        if spec.s3 is not None:
            output.s3.CopyFrom(
                lk_egress.S3Upload(
                    access_key=spec.s3.access_key_id,
                    secret=spec.s3.secret_access_key,
                    region=spec.s3.region,
                    endpoint=spec.s3.endpoint,
                    bucket=spec.s3.bucket,
                    force_path_style=spec.s3.force_path_style,
                )
            )
        request = lk_egress.RoomCompositeEgressRequest(room_name=room.name, layout="grid", file_outputs=[output])
        info = self._call(lambda lk: lk.egress.start_room_composite_egress(request))
        return provider_recording(info)

    def stop_recording(self, *, recording_id: str) -> ProviderRecording:
        info = self._call(lambda lk: lk.egress.stop_egress(lk_egress.StopEgressRequest(egress_id=recording_id)))
        return provider_recording(info)

    def list_recordings(self, *, room: RoomRef | None = None, recording_id: str = "") -> list[ProviderRecording]:
        request = lk_egress.ListEgressRequest(room_name=room.name if room else "", egress_id=recording_id)
        response = self._call(lambda lk: lk.egress.list_egress(request))
        return [provider_recording(info) for info in response.items]

    def verify_webhook(self, *, body: bytes, headers: Mapping[str, str]) -> None:
        """LiveKit signs webhooks with a JWT (HS256, iss = API key, ~5 min validity) whose
        `sha256` claim is base64(sha256(raw body)). A proxy may have added "Bearer "."""
        token = (headers.get("Authorization") or "").strip().removeprefix("Bearer ").strip()
        if not token:
            raise BadSignature("no Authorization header")
        try:
            issuer = jwt.decode(token, options={"verify_signature": False}).get("iss")
        except jwt.PyJWTError:
            raise BadSignature("malformed token") from None
        secret = self.webhook_keys.get(issuer) if isinstance(issuer, str) else None
        if secret is None:
            raise BadSignature("unknown issuer")
        try:
            claims = jwt.decode(
                token,
                secret,
                algorithms=["HS256"],
                issuer=issuer,
                leeway=60,
                options={"require": ["exp", "sha256"], "verify_aud": False},
            )
        except jwt.PyJWTError as exc:
            raise BadSignature(type(exc).__name__) from None
        expected = base64.b64encode(hashlib.sha256(body).digest()).decode()
        if not isinstance(claims["sha256"], str) or not hmac.compare_digest(claims["sha256"], expected):
            raise BadSignature("body hash mismatch")

    def parse_webhook(self, *, body: bytes) -> list[NeutralEvent]:
        try:
            event = json_format.Parse(body, WebhookEvent(), ignore_unknown_fields=True)
        except (json_format.ParseError, UnicodeDecodeError, ValueError, TypeError) as exc:
            raise BadPayload(f"not a LiveKit webhook event: {type(exc).__name__}") from None
        if not event.event:
            raise BadPayload("no event name")
        return [neutral_event(event, body)]

    def _call(self, operation: Callable[[api.LiveKitAPI], Awaitable[T]]) -> T:
        """Run one server-API call synchronously with a fresh client, translating failures.

        Failover is off: a self-hosted server has one address, and retries are the caller's.
        The deadline is enforced here with wait_for: livekit-api passes `timeout=None` on each
        request, which aiohttp reads as "no timeout", so the session's own timeout never applies.
        """

        async def run() -> T:
            timeout = aiohttp.ClientTimeout(total=self.timeout_seconds)
            async with api.LiveKitAPI(self.url, self.api_key, self.api_secret, timeout=timeout, failover=False) as lk:
                return await asyncio.wait_for(operation(lk), timeout=self.timeout_seconds)

        try:
            return async_to_sync(run)()
        except Exception as exc:
            translated = translate_error(exc)
            if translated is exc:
                raise
            raise translated from exc
