"""LiveKit (Cloud or self-hosted): join tokens and the server API over Twirp.

This module and livekit_convert.py (its message and unit conversions) are the only code in
Convene that imports `livekit`. LiveKit's errors become providers.base exceptions here.
The SDK is asyncio-only: each call builds a client inside its own coroutine and closes it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import aiohttp
import jwt
from asgiref.sync import async_to_sync
from django.conf import settings
from google.protobuf import json_format
from livekit import api
from livekit.protocol import egress as lk_egress
from livekit.protocol.webhook import WebhookEvent

from providers.base import (
    BadPayload,
    BadSignature,
    Capabilities,
    JoinCredentials,
    LiveParticipant,
    LiveRoom,
    NeutralEvent,
    ParticipantSpec,
    Provider,
    ProviderNotFound,
    ProviderRecording,
    ProviderRejected,
    ProviderStateConflict,
    ProviderUnavailable,
    RecordingSpec,
    RoomRef,
)
from providers.ice import ice_servers_for, turn_configured
from providers.livekit_convert import from_seconds, neutral_event, participant_kind, provider_recording

logger = logging.getLogger(__name__)

T = TypeVar("T")

# LiveKit signs each webhook with a token valid 5 minutes; allow clock skew, refuse longer ones.
WEBHOOK_TOKEN_MAX_VALIDITY = 5 * 60 + 120

_RETRYABLE_CODES = {"unavailable", "internal", "unknown", "deadline_exceeded", "resource_exhausted", "aborted"}


def _rescheme(url: str, schemes: Mapping[str, str]) -> str:
    """`url` with its scheme replaced by the one `schemes` maps it to; unchanged if not listed."""
    for old, new in schemes.items():
        if url.startswith(old):
            return new + url.removeprefix(old)
    return url


def client_url(api_url: str) -> str:
    """The URL browsers connect to: LiveKit's API URL with an ws(s) scheme."""
    return _rescheme(api_url, {"https://": "wss://", "http://": "ws://"})


def api_url(configured_url: str) -> str:
    """The URL Convene calls for the server API: LiveKit's URL with an http(s) scheme."""
    return _rescheme(configured_url, {"wss://": "https://", "ws://": "http://"})


def _answered_recording(info: lk_egress.EgressInfo) -> ProviderRecording:
    """The egress LiveKit answered with; one Convene cannot store (an id or location beyond the
    limits in livekit_convert) is a refusal, not a crash."""
    try:
        return provider_recording(info)
    except BadPayload as exc:
        raise ProviderRejected(f"unusable egress in LiveKit's answer: {exc}") from None


def translate_error(exc: BaseException) -> Exception:
    """LiveKit/transport failure -> ProviderUnavailable / ProviderRejected / ProviderNotFound.

    The HTTP status decides: LiveKit's auth middleware answers 401 with a plain body, which
    the SDK reports with code "unknown", so the Twirp code alone would misclassify it.
    """
    if isinstance(exc, api.TwirpError):
        message = f"LiveKit answered {exc.status} {exc.code}"
        if exc.code == "not_found" or exc.status == 404:
            return ProviderNotFound(message, provider_code=exc.code)
        if exc.code == "failed_precondition":  # e.g. StopEgress on an egress that already ended
            return ProviderStateConflict(message, provider_code=exc.code)
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
    capabilities = Capabilities(
        needs_room_creation=False, composite_recording=True, per_track_recording=False, publish_permissions=True
    )

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
        # LiveKit hands out its own TURN servers; ours are added only when an operator configured them.
        ice_servers = tuple(ice_servers_for(identity=participant.identity)) if turn_configured() else None
        return JoinCredentials(
            provider=self.name,
            server_url=self.client_url,
            token=token,
            expires_at=issued + ttl,
            ice_servers=ice_servers,
        )

    def close_room(self, *, room: RoomRef) -> None:
        try:
            self._call(lambda lk: lk.room.delete_room(api.DeleteRoomRequest(room=room.name)))
        except ProviderNotFound:
            logger.info("livekit room already gone room=%s", room.convene_room_id)

    def remove_participant(self, *, room: RoomRef, identity: str, connection_ids: Sequence[str] = ()) -> None:
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
                kind=participant_kind(p.kind),
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
        return _answered_recording(info)

    def stop_recording(self, *, recording_id: str) -> ProviderRecording:
        info = self._call(lambda lk: lk.egress.stop_egress(lk_egress.StopEgressRequest(egress_id=recording_id)))
        return _answered_recording(info)

    def list_recordings(self, *, room: RoomRef | None = None, recording_id: str = "") -> list[ProviderRecording]:
        request = lk_egress.ListEgressRequest(room_name=room.name if room else "", egress_id=recording_id)
        response = self._call(lambda lk: lk.egress.list_egress(request))
        recordings = []
        for info in response.items:
            try:
                recordings.append(provider_recording(info))
            except BadPayload as exc:  # not one Convene started: ours passed the same check
                logger.warning("livekit egress skipped: %s", exc)
        return recordings

    def verify_webhook(self, *, body: bytes, headers: Mapping[str, str], remote_addr: str = "") -> None:
        """LiveKit signs webhooks with a JWT (HS256, iss = API key, ~5 min validity) whose
        `sha256` claim is base64(sha256(raw body)). A proxy may have added "Bearer "."""
        token = (headers.get("Authorization") or "").strip().removeprefix("Bearer ").strip()
        if not token:
            raise BadSignature("no Authorization header")
        if len(self.webhook_keys) == 1:  # the usual case: no need to read the issuer first
            [(issuer, secret)] = self.webhook_keys.items()
        else:
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
        if not isinstance(claims["exp"], int | float) or claims["exp"] > time.time() + WEBHOOK_TOKEN_MAX_VALIDITY:
            # LiveKit's tokens live 5 minutes; a longer one is a signed body replayable for its lifetime.
            raise BadSignature("token valid for too long")
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
