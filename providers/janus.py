"""Janus (self-hosted SFU) over its HTTP API: one VideoRoom per Convene room, signed join tokens
plus the room's `allowed` list, recording on the live room, events from the sample event handler.

This module and janus_events.py (event parsing) are the only code in Convene that talks to Janus.
Janus's errors become providers.base exceptions here; every call has a deadline. The room secret
is derived from the admin key and never leaves the server.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import logging
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.conf import settings

from providers.base import (
    BadSignature,
    Capabilities,
    JoinCredentials,
    LiveParticipant,
    LiveRoom,
    NeutralEvent,
    ParticipantKind,
    ParticipantSpec,
    Provider,
    ProviderNotFound,
    ProviderRecording,
    ProviderRejected,
    ProviderStateConflict,
    ProviderUnavailable,
    RecordingSpec,
    RecordingState,
    RoomRef,
)
from providers.ice import ice_servers_for
from providers.janus_events import parse_events, participant_from_token, participant_tag

logger = logging.getLogger(__name__)

PLUGIN = "janus.plugin.videoroom"
REALM = "janus"
DEFAULT_PUBLISHERS = 100  # Janus's own default is 3; Convene's max_participants 0 means "no limit"
SERVER_TOKEN_SECONDS = 120
# VideoRoom error codes: no such room / room exists / no such participant.
NO_SUCH_ROOM, ROOM_EXISTS, NO_SUCH_FEED = 426, 427, 428


def sign_token(secret: str, data: str) -> str:
    """Janus's signed token (token_auth_secret): `data:base64(hmac_sha1(secret, data))`."""
    signature = base64.b64encode(hmac.new(secret.encode(), data.encode(), hashlib.sha1).digest()).decode()
    return f"{data}:{signature}"


def token_expiry(token: str) -> int:
    try:
        return int(token.split(",", 1)[0])
    except ValueError:
        return 0


class JanusProvider(Provider):
    name = "janus"
    capabilities = Capabilities(
        needs_room_creation=True, composite_recording=False, per_track_recording=True, publish_permissions=False
    )

    def __init__(
        self,
        *,
        url: str,
        admin_key: str,
        token_secret: str,
        api_secret: str = "",
        client_url: str = "",
        webhook_user: str = "",
        webhook_password: str = "",
        webhook_networks: tuple[str, ...] = ("127.0.0.1", "::1"),
        recording_dir: str = "",
        timeout_seconds: float = 5.0,
    ):
        self.url = url.rstrip("/")
        self.client_url = client_url or self.url
        self.admin_key = admin_key
        self.token_secret = token_secret
        self.api_secret = api_secret
        self.webhook_user = webhook_user
        self.webhook_password = webhook_password
        self.webhook_networks = tuple(ipaddress.ip_network(n, strict=False) for n in webhook_networks)
        self.recording_dir = recording_dir
        self.timeout_seconds = timeout_seconds

    @classmethod
    def from_settings(cls) -> JanusProvider:
        if not settings.JANUS_URL:
            raise LookupError("the Janus provider is not configured (set JANUS_URL)")
        return cls(
            url=settings.JANUS_URL,
            client_url=settings.JANUS_CLIENT_URL,
            admin_key=settings.JANUS_ADMIN_KEY,
            token_secret=settings.JANUS_TOKEN_SECRET,
            api_secret=settings.JANUS_API_SECRET,
            webhook_user=settings.JANUS_WEBHOOK_USER,
            webhook_password=settings.JANUS_WEBHOOK_PASSWORD,
            webhook_networks=tuple(settings.JANUS_WEBHOOK_ALLOW_IPS),
            recording_dir=settings.JANUS_RECORDING_DIR,
            timeout_seconds=settings.JANUS_TIMEOUT_SECONDS,
        )

    # Rooms

    def new_room_name(self) -> str:
        """VideoRoom ids are numbers: a random one below 2**53, so browsers hold it exactly."""
        return str(secrets.randbelow(2**53 - 2) + 1)

    def room_secret(self, room_name: str) -> str:
        return hmac.new(self.admin_key.encode(), f"convene-janus-room:{room_name}".encode(), "sha256").hexdigest()

    def create_room(self, *, room: RoomRef) -> None:
        body = {
            "request": "create",
            "room": _room_id(room.name),
            "admin_key": self.admin_key,
            "secret": self.room_secret(room.name),
            "description": "convene",
            "is_private": True,
            "publishers": room.max_participants or DEFAULT_PUBLISHERS,
            "allowed": [],
            "audiocodec": "opus",
            "videocodec": "vp8",
            "record": False,
            "rec_dir": str(Path(self.recording_dir) / room.name),
            "permanent": False,
        }
        try:
            self._videoroom(body)
        except ProviderStateConflict:
            logger.info("janus room already exists room=%s", room.convene_room_id)

    def close_room(self, *, room: RoomRef) -> None:
        try:
            self._videoroom({"request": "destroy", "room": _room_id(room.name), "secret": self.room_secret(room.name)})
        except ProviderNotFound:
            logger.info("janus room already gone room=%s", room.convene_room_id)

    # Participants

    def join_credentials(self, *, room: RoomRef, participant: ParticipantSpec, ttl: timedelta) -> JoinCredentials:
        issued = datetime.now(UTC).replace(microsecond=0)
        expires_at = issued + ttl
        tag = participant_tag(participant.identity, participant.role)
        data = f"{int(expires_at.timestamp())},{REALM},{PLUGIN},{tag}"
        token = sign_token(self.token_secret, data)
        self._allow(room, add=[token])
        return JoinCredentials(
            provider=self.name,
            server_url=self.client_url,
            token=token,
            expires_at=expires_at,
            ice_servers=tuple(ice_servers_for(identity=participant.identity)),
        )

    def _allow(self, room: RoomRef, *, add: list[str] = (), remove: list[str] = ()) -> list[str]:
        """Change the room's allowed tokens, creating the room first if Janus does not have it
        (lazily: it was never created, or Janus restarted). Expired tokens are dropped on the way."""
        action, tokens = ("add", list(add)) if add else ("remove", list(remove) or ["-"])
        body = {"request": "allowed", "room": _room_id(room.name), "secret": self.room_secret(room.name)}
        try:
            allowed = self._videoroom({**body, "action": action, "allowed": tokens}).get("allowed", [])
        except ProviderNotFound:
            self.create_room(room=room)
            allowed = self._videoroom({**body, "action": action, "allowed": tokens}).get("allowed", [])
        expired = [t for t in allowed if token_expiry(t) < time.time()]
        if expired:
            allowed = self._videoroom({**body, "action": "remove", "allowed": expired}).get("allowed", [])
        return allowed

    def remove_participant(self, *, room: RoomRef, identity: str, connection_ids: Sequence[str] = ()) -> None:
        """Take the identity's tokens out of the room's allowed list (it cannot join again with
        them) and kick its connections. Janus knows connections by number and listparticipants
        does not say which token each joined with: the numbers are `connection_ids`, from the
        `joined` events Convene recorded (open ParticipantSession rows)."""
        allowed = self._allow(room, remove=["-"])
        theirs = [t for t in allowed if participant_from_token(t)[0] == identity]
        if theirs:
            self._allow(room, remove=theirs)
        kicked = 0
        for participant_id in connection_ids:
            try:
                self.disconnect(room=room, participant_sid=participant_id, identity=identity)
                kicked += 1
            except ProviderNotFound:
                continue
        if not kicked and not theirs:
            raise ProviderNotFound("not connected")

    def disconnect(self, *, room: RoomRef, participant_sid: str, identity: str) -> None:
        body = {"request": "kick", "room": _room_id(room.name), "secret": self.room_secret(room.name)}
        self._videoroom({**body, "id": int(participant_sid)})

    def list_live_rooms(self) -> list[LiveRoom]:
        """Convene's VideoRooms with someone in them. A VideoRoom lives from its Convene room's
        creation to its close, so an empty one is not a live call: the reconciler ends the call
        session of a room everyone has left (the room's number is its only session id)."""
        rooms = self._videoroom({"request": "list", "admin_key": self.admin_key}).get("list", [])
        return [
            LiveRoom(name=str(r["room"]), sid=str(r["room"]), created_at=None, num_participants=r["num_participants"])
            for r in rooms
            if r.get("description") == "convene" and r.get("num_participants")
        ]

    def list_participants(self, *, room: RoomRef) -> list[LiveParticipant]:
        try:
            answer = self._videoroom({"request": "listparticipants", "room": _room_id(room.name)})
        except ProviderNotFound:
            return []
        return [
            LiveParticipant(
                sid=str(p["id"]),
                identity="",  # Janus does not know it: Convene has it from the joined event
                display_name=str(p.get("display", "")),
                kind=ParticipantKind.STANDARD,
                joined_at=None,
            )
            for p in answer.get("participants", [])
        ]

    # Recording: Janus writes one .mjr file per stream into the room's folder for this recording.

    def start_recording(self, *, room: RoomRef, spec: RecordingSpec) -> ProviderRecording:
        started_at = datetime.now(UTC)
        recording_id = f"{room.name}-{int(started_at.timestamp() * 1000)}"
        folder = Path(self.recording_dir) / recording_id
        secret = self.room_secret(room.name)
        base = {"room": _room_id(room.name), "secret": secret}
        self._videoroom({**base, "request": "edit", "new_rec_dir": str(folder)})
        self._videoroom({**base, "request": "enable_recording", "record": True})
        return self._recording(recording_id, RecordingState.ACTIVE, started_at=started_at)

    def stop_recording(self, *, recording_id: str) -> ProviderRecording:
        room_name = recording_id.split("-", 1)[0]
        base = {"room": _room_id(room_name), "secret": self.room_secret(room_name)}
        self._videoroom({**base, "request": "enable_recording", "record": False})
        return self._recording(recording_id, RecordingState.ENDING, ended_at=datetime.now(UTC))

    def list_recordings(self, *, room: RoomRef | None = None, recording_id: str = "") -> list[ProviderRecording]:
        """Janus keeps no recording objects: a recording is active while its room records into
        its folder, and ending (awaiting post-processing) once it does not."""
        if not recording_id:
            return []
        room_name = recording_id.split("-", 1)[0]
        rooms = self._videoroom({"request": "list", "admin_key": self.admin_key}).get("list", [])
        recording = any(str(r["room"]) == room_name and r.get("record") for r in rooms)
        return [self._recording(recording_id, RecordingState.ACTIVE if recording else RecordingState.ENDING)]

    def _recording(self, recording_id: str, state: str, **times) -> ProviderRecording:
        room_name = recording_id.split("-", 1)[0]
        return ProviderRecording(
            recording_id=recording_id,
            room_name=room_name,
            state=state,
            source_dir=str(Path(self.recording_dir) / recording_id),
            source_prefix=f"videoroom-{room_name}-",
            **times,
        )

    # Events

    def verify_webhook(self, *, body: bytes, headers: Mapping[str, str], remote_addr: str = "") -> None:
        """Janus cannot sign its events: they must come from the configured network with the
        event handler's HTTP basic auth credentials (constant-time compare)."""
        try:
            address = ipaddress.ip_address(remote_addr)
        except ValueError:
            raise BadSignature("no client address") from None
        if not any(address in network for network in self.webhook_networks):
            raise BadSignature("not from the configured network")
        expected = "Basic " + base64.b64encode(f"{self.webhook_user}:{self.webhook_password}".encode()).decode()
        given = headers.get("Authorization") or ""
        if not self.webhook_password or not hmac.compare_digest(given.encode(), expected.encode()):
            raise BadSignature("wrong basic auth credentials")

    def parse_webhook(self, *, body: bytes) -> list[NeutralEvent]:
        return parse_events(body)

    # The HTTP API

    def _videoroom(self, body: dict) -> dict:
        """One VideoRoom request in its own Janus session (create, attach, message, destroy),
        all within one deadline. Returns the plugin's answer; its error codes become exceptions."""
        deadline = time.monotonic() + self.timeout_seconds
        session = self._call("", {"janus": "create"}, deadline)["data"]["id"]
        try:
            handle = self._call(f"/{session}", {"janus": "attach", "plugin": PLUGIN}, deadline)["data"]["id"]
            answer = self._call(f"/{session}/{handle}", {"janus": "message", "body": body}, deadline)
        finally:
            try:
                self._call(f"/{session}", {"janus": "destroy"}, time.monotonic() + self.timeout_seconds)
            except ProviderUnavailable:
                pass  # the session times out on its own
        data = answer.get("plugindata", {}).get("data", {})
        if "error_code" in data:
            raise _plugin_error(data["error_code"], str(data.get("error", "")))
        return data

    def _call(self, path: str, body: dict, deadline: float) -> dict:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ProviderUnavailable("Janus did not answer in time")
        auth = {"apisecret": self.api_secret} if self.api_secret else {"token": self._server_token()}
        payload = json.dumps({**body, **auth, "transaction": secrets.token_hex(8)}).encode()
        request = urllib.request.Request(  # noqa: S310 (the configured http(s) URL)
            self.url + path, data=payload, method="POST", headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=remaining) as response:  # noqa: S310 (configured URL)
                answer = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            kind = ProviderUnavailable if exc.code >= 500 or exc.code == 429 else ProviderRejected
            raise kind(f"Janus answered HTTP {exc.code}", provider_code=str(exc.code)) from None
        except (OSError, ValueError) as exc:  # URLError, timeouts, refused connections, bad JSON
            raise ProviderUnavailable(f"Janus unreachable: {type(exc).__name__}") from None
        if answer.get("janus") == "error":
            code = answer.get("error", {}).get("code", 0)
            raise ProviderRejected(f"Janus answered error {code}", provider_code=str(code))
        return answer

    def _server_token(self) -> str:
        """Convene's own short-lived token when Janus has no api_secret (token auth only)."""
        return sign_token(self.token_secret, f"{int(time.time()) + SERVER_TOKEN_SECONDS},{REALM},{PLUGIN}")


def _room_id(name: str) -> int:
    try:
        return int(name)
    except ValueError:
        raise ProviderRejected("not a Janus room name") from None


def _plugin_error(code: int, message: str) -> Exception:
    text = f"Janus VideoRoom error {code}: {message}"[:300]
    if code in (NO_SUCH_ROOM, NO_SUCH_FEED):
        return ProviderNotFound(text, provider_code=str(code))
    if code == ROOM_EXISTS:
        return ProviderStateConflict(text, provider_code=str(code))
    return ProviderRejected(text, provider_code=str(code))
