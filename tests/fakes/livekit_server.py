"""Test fake of LiveKit's server API: Twirp RoomService and Egress on 127.0.0.1.

It answers as livekit-server does; checked against livekit/livekit `pkg/service/`
(auth.go, roomservice.go, egress.go, errors.go, localstore.go, roomallocator.go)
and livekit/protocol (`auth/verifier.go`, `utils/xtwirp/errors.go`,
`livekit/*.twirp.go`). Quirks that callers must cope with, reproduced on purpose:

- An unusable token (bad signature, expired, unknown key, no "Bearer ") is
  refused by the auth middleware before Twirp: HTTP 401 with a plain-text body,
  so clients see no Twirp code (livekit-api reports code "unknown").
- A missing token or missing grant is Twirp `unauthenticated` (401) with
  "permissions denied"; the server never answers `permission_denied`.
- psrpc errors (not found, ...) reach clients as "twirp error unknown: <msg>"
  because xtwirp re-wraps them; Twirp-native errors keep their message.
- JSON responses use proto field names and emit zero values (twirp defaults).
- Egress starts in STARTING. StopEgress aborts a STARTING egress and moves an
  ACTIVE one to ENDING, as the egress service does; tests move it on with
  set_egress_status() (ACTIVE once recording, COMPLETE once uploaded).

The browser's signalling endpoint (GET /rtc and /rtc/v1, a WebSocket; /validate)
is modelled only as far as the handshake: the access_token query parameter is
verified as the server does (401 with a plain-text reason when unusable; a join
needs roomJoin and a room), the connection is recorded in `signal_connections`
and held open without a JoinResponse, so a client never gets further.

Not modelled: media, nodes, psrpc timeouts (answered at once), stream-key
redaction in egress requests, webhooks (see livekit_webhooks.py), and methods
Convene does not call (answered `unimplemented`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import jwt
from google.protobuf import json_format, message_factory
from google.protobuf.message import DecodeError, Message
from livekit.protocol import egress as egress_pb
from livekit.protocol import models
from livekit.protocol import room as room_pb

from .livekit_webhooks import new_guid, protojson_dumps

M = TypeVar("M", bound=Message)
Claims = dict[str, Any]  # a verified JWT payload: {"iss", "exp", "video": {"roomCreate": true}, ...}
Grant = dict[str, Any]  # its "video" part, with camelCase keys as in the token
Handler = Callable[[Any, Grant], Message]

DEFAULT_SECRET = "fake-livekit-secret-0123456789abcdef"  # >= 32 bytes for PyJWT
# twirp's ServerHTTPStatusFromErrorCode
TWIRP_STATUS = {
    **dict.fromkeys(("invalid_argument", "malformed", "out_of_range"), 400),
    "unauthenticated": 401,
    "permission_denied": 403,
    **dict.fromkeys(("not_found", "bad_route"), 404),
    **dict.fromkeys(("canceled", "deadline_exceeded"), 408),
    **dict.fromkeys(("already_exists", "aborted"), 409),
    "failed_precondition": 412,
    "resource_exhausted": 429,
    **dict.fromkeys(("unknown", "internal", "dataloss"), 500),
    "unimplemented": 501,
    "unavailable": 503,
}
# Server defaults (pkg/config/config.go).
EMPTY_TIMEOUT, DEPARTURE_TIMEOUT = 300, 20
MAX_NAME_LENGTH, MAX_METADATA_SIZE = 256, 512 * 1024
CODECS = [
    *("audio/PCMU", "audio/PCMA", "audio/opus", "audio/red"),
    *("video/VP8", "video/H264", "video/VP9", "video/AV1", "video/H265", "video/rtx"),
]
SERVICES = {
    "RoomService": room_pb.DESCRIPTOR.services_by_name["RoomService"],
    "Egress": egress_pb.DESCRIPTOR.services_by_name["Egress"],
}
ES = egress_pb.EgressStatus
# Go's jwt/v5 wording, which the middleware appends to "invalid authorization token: "
JWT_ERRORS = {
    jwt.ExpiredSignatureError: "token has invalid claims: token is expired",
    jwt.ImmatureSignatureError: "token has invalid claims: token is not valid yet",
    jwt.MissingRequiredClaimError: "token has invalid claims: token is missing required claim: exp claim is required",
    jwt.InvalidSignatureError: "token signature is invalid: signature is invalid",
    jwt.InvalidAlgorithmError: "token is unverifiable: signing method is invalid",
}


class TwirpError(Exception):
    """A Twirp error: JSON `{"code", "msg"[, "meta"]}` with the code's HTTP status."""

    def __init__(self, code: str, msg: str, meta: dict[str, str] | None = None, status: int = 0) -> None:
        super().__init__(f"{code}: {msg}")
        self.code, self.msg, self.meta = code, msg, meta or {}
        self.status = status or TWIRP_STATUS.get(code, 500)


class PlainUnauthorizedError(Exception):
    """Refusal by APIKeyAuthMiddleware: 401 with the error text as a plain body."""


def psrpc_error(code: str, msg: str) -> TwirpError:
    """An error the server raises as a psrpc error; xtwirp.ToError prefixes it."""
    return TwirpError(code, f"twirp error unknown: {msg}")


def is_final(status: int) -> bool:
    """Egress has ended; the server's own test (redisstore.go) is `< COMPLETE`."""
    return status >= ES.EGRESS_COMPLETE


@dataclass
class RecordedCall:
    method: str  # e.g. "CreateRoom"
    request: Message
    claims: Claims | None  # None when no token was sent


@dataclass
class SignalConnection:
    path: str  # "/rtc" or "/rtc/v1"
    claims: Claims  # the verified access token
    query: dict[str, str]  # the other query parameters (sdk, version, protocol, ...)


class FakeLiveKitServer:
    """In-process LiveKit API server: a context manager, or start()/stop()."""

    def __init__(
        self,
        api_key: str = "devkey",
        api_secret: str = DEFAULT_SECRET,
        *,
        remote_unmute: bool = False,  # room.enable_remote_unmute, off by default
    ) -> None:
        self.api_key, self.api_secret = api_key, api_secret
        self.remote_unmute = remote_unmute
        self.url = ""
        self._lock = threading.RLock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.reset()

    # -- lifecycle ----------------------------------------------------------------

    def start(self) -> FakeLiveKitServer:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def __enter__(self) -> FakeLiveKitServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- test controls ------------------------------------------------------------

    def reset(self) -> None:
        with self._lock:
            self.rooms: dict[str, models.Room] = {}
            self.participants: dict[str, dict[str, models.ParticipantInfo]] = {}
            self.egresses: dict[str, egress_pb.EgressInfo] = {}
            self.requests: list[RecordedCall] = []
            self.signal_connections: list[SignalConnection] = []
            self._failures: dict[str, list[TwirpError]] = {}
            self.delay = 0.0

    def add_participant(
        self,
        room: str,
        identity: str,
        name: str = "",
        kind: int = models.ParticipantInfo.Kind.STANDARD,
        metadata: str = "",
    ) -> models.ParticipantInfo:
        """Simulate a join: creates a missing room, replaces a same identity."""
        now = time.time()
        info = models.ParticipantInfo(
            sid=new_guid("PA_"),
            identity=identity,
            name=name,
            metadata=metadata,
            kind=kind,
            state=models.ParticipantInfo.State.ACTIVE,
            joined_at=int(now),
            joined_at_ms=int(now * 1000),
            permission=models.ParticipantPermission(can_subscribe=True, can_publish=True, can_publish_data=True),
        )
        with self._lock:
            self._get_or_create_room(room_pb.CreateRoomRequest(name=room))
            self.participants.setdefault(room, {})[identity] = info
            return _copy(info)

    def publish_track(
        self, room: str, identity: str, name: str = "", track_type: int = models.TrackType.AUDIO
    ) -> models.TrackInfo:
        """Give a participant a published track."""
        with self._lock:
            participant = self._participant(room, identity)
            track = participant.tracks.add(sid=new_guid("TR_"), name=name, type=track_type)
            participant.is_publisher = True
            return _copy(track)

    def drop_participant(self, room: str, identity: str) -> None:
        """Simulate a client disconnecting."""
        with self._lock:
            self.participants.get(room, {}).pop(identity, None)

    def end_room(self, name: str) -> None:
        """Simulate the room closing on its own; its egresses end with it."""
        with self._lock:
            self._close_room(name)

    def set_egress_status(self, egress_id: str, status: int, error: str = "") -> None:
        """Move an egress as the egress service would (ACTIVE, COMPLETE, ...)."""
        with self._lock:
            info = self.egresses[egress_id]
            info.status, info.updated_at, info.error = status, time.time_ns(), error
            if is_final(status):
                info.ended_at = info.updated_at

    def fail_next(self, method: str, code: str = "unavailable", status: int = 503, times: int = 1) -> None:
        """Answer the next `times` calls of `method` ("CreateRoom") with an error."""
        failure = TwirpError(code, f"injected {code} failure", status=status)
        with self._lock:
            self._failures.setdefault(method, []).extend([failure] * times)

    def set_delay(self, seconds: float) -> None:
        """Sleep this long before answering each request."""
        self.delay = seconds

    # -- request pipeline (called from handler threads) ---------------------------

    def authenticate(self, header: str | None) -> Claims | None:
        """APIKeyAuthMiddleware with auth.APIKeyTokenVerifier; None if no header."""
        if not header:
            return None  # passes the middleware; the grant check refuses later
        if not header.startswith("Bearer "):
            msg = "invalid authorization header. Must start with Bearer "
            raise PlainUnauthorizedError(msg)
        token = header.removeprefix("Bearer ")
        try:
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise PlainUnauthorizedError("invalid authorization token") from None
        if unverified.get("iss") != self.api_key:
            raise PlainUnauthorizedError("invalid API key")
        # Go's jwt/v5 options: HS256 only, 60 s leeway, exp required; iat and aud
        # are not checked.
        options = {"require": ["exp"], "verify_iat": False, "verify_aud": False}
        try:
            claims = jwt.decode(
                token, self.api_secret, algorithms=["HS256"], issuer=self.api_key, leeway=60, options=options
            )
        except jwt.PyJWTError as exc:
            reason = next((m for t, m in JWT_ERRORS.items() if isinstance(exc, t)), exc)
            msg = f"invalid authorization token: {reason}"
            raise PlainUnauthorizedError(msg) from None
        if not isinstance(claims.get("video", {}), dict):  # Go cannot decode it into VideoGrant
            raise PlainUnauthorizedError("invalid authorization token: token is malformed")
        return claims

    def route(self, service: str, method: str) -> tuple[type[Message], Handler | None]:
        """Request class and handler (None: not modelled); KeyError: no such method."""
        descriptor = SERVICES[service].methods_by_name[method]
        snake = re.sub(r"(?<!^)(?=[A-Z])", "_", method).lower()
        handler = getattr(self, f"_{snake}", None)
        return message_factory.GetMessageClass(descriptor.input_type), handler

    def dispatch(self, handler: Handler, method: str, request: Message, claims: Claims | None) -> Message:
        with self._lock:
            self.requests.append(RecordedCall(method, _copy(request), claims))
            failures = self._failures.get(method)
            if failures:
                raise failures.pop(0)
            # a copy, so that later state changes do not leak into the response
            return _copy(handler(request, (claims or {}).get("video") or {}))

    # -- RoomService --------------------------------------------------------------

    def _create_room(self, req: room_pb.CreateRoomRequest, video: Grant) -> Message:
        _require(video.get("roomCreate"))
        if len(req.name) > MAX_NAME_LENGTH:
            msg = f"room name length exceeds limits: max length {MAX_NAME_LENGTH}"
            raise psrpc_error("invalid_argument", msg)
        _check_metadata(req.metadata)
        return self._room_proto(self._get_or_create_room(req))

    def _list_rooms(self, req: room_pb.ListRoomsRequest, video: Grant) -> Message:
        _require(video.get("roomList"))
        rooms = [r for n, r in self.rooms.items() if not req.names or n in req.names]
        return room_pb.ListRoomsResponse(rooms=[self._room_proto(r) for r in rooms])

    def _delete_room(self, req: room_pb.DeleteRoomRequest, video: Grant) -> Message:
        _require(video.get("roomCreate"))
        self._room(req.room)  # RoomExists, else ErrRoomNotFound
        self._close_room(req.room)
        return room_pb.DeleteRoomResponse()

    def _list_participants(self, req: room_pb.ListParticipantsRequest, video: Grant) -> Message:
        _require_admin(video, req.room)
        # The store answers an empty list for an unknown room, not an error.
        members = self.participants.get(req.room, {}).values()
        return room_pb.ListParticipantsResponse(participants=list(members))

    def _get_participant(self, req: room_pb.RoomParticipantIdentity, video: Grant) -> Message:
        _require_admin(video, req.room)
        return self._participant(req.room, req.identity)

    def _remove_participant(self, req: room_pb.RoomParticipantIdentity, video: Grant) -> Message:
        _require_admin(video, req.room)
        self._participant(req.room, req.identity)
        del self.participants[req.room][req.identity]
        return room_pb.RemoveParticipantResponse()

    def _update_participant(self, req: room_pb.UpdateParticipantRequest, video: Grant) -> Message:
        if len(req.name) > MAX_NAME_LENGTH:  # limits come before the grant check
            raise _invalid_argument("name length exceeds limits", MAX_NAME_LENGTH)
        _check_metadata(req.metadata)
        _require_admin(video, req.room)
        participant = self._participant(req.room, req.identity)
        # ParticipantImpl.UpdateMetadata: an empty name or metadata keeps the old
        # value; an empty attribute value deletes the key.
        participant.name = req.name or participant.name
        participant.metadata = req.metadata or participant.metadata
        for key, value in req.attributes.items():
            if value:
                participant.attributes[key] = value
            else:
                participant.attributes.pop(key, None)
        if req.HasField("permission"):
            participant.permission.CopyFrom(req.permission)
        return participant

    def _update_room_metadata(self, req: room_pb.UpdateRoomMetadataRequest, video: Grant) -> Message:
        _check_metadata(req.metadata)
        _require_admin(video, req.room)
        room = self._room(req.room)
        room.metadata = req.metadata
        return self._room_proto(room)

    def _mute_published_track(self, req: room_pb.MuteRoomTrackRequest, video: Grant) -> Message:
        _require_admin(video, req.room)
        if req.identity not in self.participants.get(req.room, {}):
            # No store check for this call: psrpc finds no node for the participant.
            raise psrpc_error("unavailable", "no response from servers")
        if not req.muted and not self.remote_unmute:
            raise psrpc_error("failed_precondition", "remote unmute not enabled")
        for track in self.participants[req.room][req.identity].tracks:
            if track.sid == req.track_sid:
                track.muted = req.muted
                return room_pb.MuteRoomTrackResponse(track=track)
        return room_pb.MuteRoomTrackResponse()  # unknown track: no error, no track

    # -- Egress -------------------------------------------------------------------

    def _start_room_composite_egress(self, req: egress_pb.RoomCompositeEgressRequest, video: Grant) -> Message:
        _require(video.get("roomRecord"))
        room = self._room(req.room_name)  # the launcher loads the room for its sid
        # egress pipeline.go: the web source unless audio-only without layout/url
        sdk = req.audio_only and not req.layout and not req.custom_base_url
        source = egress_pb.EgressSourceType.EGRESS_SOURCE_TYPE_SDK if sdk else 0
        now = time.time_ns()
        info = egress_pb.EgressInfo(
            egress_id=new_guid("EG_"),
            room_id=room.sid,
            room_name=req.room_name,
            status=ES.EGRESS_STARTING,
            source_type=source,
            started_at=now,
            updated_at=now,
            room_composite=req,
        )
        self.egresses[info.egress_id] = info
        return info

    def _stop_egress(self, req: egress_pb.StopEgressRequest, video: Grant) -> Message:
        _require(video.get("roomRecord"))
        info = self.egresses.get(req.egress_id)
        if info is None:
            raise psrpc_error("not_found", "egress does not exist")
        if is_final(info.status):  # no egress handler is left to answer
            msg = f"egress with status {ES.Name(info.status)} cannot be stopped"
            raise TwirpError("failed_precondition", msg)
        _stop_pipeline(info, "StopEgress API")
        return info

    def _list_egress(self, req: egress_pb.ListEgressRequest, video: Grant) -> Message:
        _require(video.get("roomRecord"))
        if req.egress_id:  # ioservice.go: an id wins over the other filters
            if req.egress_id not in self.egresses:
                raise psrpc_error("not_found", "egress does not exist")
            return egress_pb.ListEgressResponse(items=[self.egresses[req.egress_id]])
        items = [
            info
            for info in self.egresses.values()
            if req.room_name in ("", info.room_name) and not (req.active and is_final(info.status))
        ]
        return egress_pb.ListEgressResponse(items=items)

    # -- state helpers (the caller holds the lock) --------------------------------

    def _get_or_create_room(self, req: room_pb.CreateRoomRequest) -> models.Room:
        """roomallocator.go: create with defaults, then apply non-zero fields."""
        room = self.rooms.get(req.name)
        if room is None:
            now = time.time()
            room = self.rooms[req.name] = models.Room(
                sid=new_guid("RM_"),
                name=req.name,
                creation_time=int(now),
                creation_time_ms=int(now * 1000),
                turn_password=secrets.token_urlsafe(24),
                empty_timeout=EMPTY_TIMEOUT,
                departure_timeout=DEPARTURE_TIMEOUT,
                enabled_codecs=[models.Codec(mime=mime) for mime in CODECS],
            )
        for field in ("empty_timeout", "departure_timeout", "max_participants"):
            setattr(room, field, getattr(req, field) or getattr(room, field))
        room.metadata = req.metadata or room.metadata
        return room

    def _room_proto(self, room: models.Room) -> models.Room:
        out = _copy(room)
        members = self.participants.get(room.name, {}).values()
        out.num_participants = len(members)
        out.num_publishers = sum(1 for p in members if p.is_publisher)
        out.active_recording = any(
            e.room_name == room.name and e.status == ES.EGRESS_ACTIVE for e in self.egresses.values()
        )
        return out

    def _room(self, name: str) -> models.Room:
        if name not in self.rooms:
            raise psrpc_error("not_found", "requested room does not exist")
        return self.rooms[name]

    def _participant(self, room: str, identity: str) -> models.ParticipantInfo:
        if identity not in self.participants.get(room, {}):
            raise psrpc_error("not_found", "participant does not exist")
        return self.participants[room][identity]

    def _close_room(self, name: str) -> None:
        self.rooms.pop(name, None)
        self.participants.pop(name, None)
        for info in self.egresses.values():
            if info.room_name == name and not is_final(info.status):
                _stop_pipeline(info, "Source closed")
                if info.status == ES.EGRESS_ENDING:  # the recording gets finished
                    info.status, info.ended_at = ES.EGRESS_COMPLETE, info.updated_at


def _stop_pipeline(info: egress_pb.EgressInfo, reason: str) -> None:
    """egress controller.go SendEOS: STARTING aborts at once, ACTIVE goes ENDING.

    ENDING -> COMPLETE comes later, once the file is uploaded: tests drive it with
    set_egress_status(), so a stopped ACTIVE egress stays ENDING until they do.
    """
    now = time.time_ns()
    info.details = f"End reason: {reason}"
    if info.status == ES.EGRESS_STARTING:
        info.status = ES.EGRESS_ABORTED
        info.error, info.error_code = "Stop called before pipeline could start", 412
        info.updated_at = info.ended_at = now
    elif info.status == ES.EGRESS_ACTIVE:
        info.status, info.updated_at = ES.EGRESS_ENDING, now


def _require(granted: object) -> None:
    """auth.go Ensure*Permission, wrapped by twirpAuthError."""
    if not granted:
        raise TwirpError("unauthenticated", "permissions denied")


def _require_admin(video: Grant, room: str) -> None:
    _require(video.get("roomAdmin") and video.get("room", "") == room)


def _invalid_argument(argument: str, limit: int) -> TwirpError:
    # twirp.InvalidArgumentError(argument, validationMsg)
    return TwirpError("invalid_argument", f"{argument} {limit}", {"argument": argument})


def _check_metadata(metadata: str) -> None:
    if len(metadata.encode()) > MAX_METADATA_SIZE:
        raise _invalid_argument("metadata size exceeds limits", MAX_METADATA_SIZE)


def _copy(message: M) -> M:
    out = type(message)()
    out.CopyFrom(message)
    return out


SIGNAL_PATHS = ("/rtc", "/rtc/v1")
WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC11B83"  # RFC 6455


def _make_handler(fake: FakeLiveKitServer) -> type[BaseHTTPRequestHandler]:
    return type("Handler", (_TwirpHandler,), {"fake": fake})


class _TwirpHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    fake: FakeLiveKitServer

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        time.sleep(self.fake.delay)
        try:
            content_type, payload = self._handle(body)
        except PlainUnauthorizedError as exc:
            # written with http.Error-style text; Go sniffs it as text/plain
            self._send(401, "text/plain; charset=utf-8", str(exc).encode())
        except TwirpError as exc:
            error = {"code": exc.code, "msg": exc.msg}
            if exc.meta:
                error["meta"] = exc.meta
            self._send(exc.status, "application/json", _go_json(error))
        else:
            self._send(200, content_type, payload)

    def do_GET(self) -> None:
        path = self._url_path.rstrip("/")
        if path in SIGNAL_PATHS or path in {f"{p}/validate" for p in SIGNAL_PATHS}:
            self._signal(path)
        else:
            self.do_POST()  # Twirp answers bad_route to anything but POST

    def _signal(self, path: str) -> None:
        """rtcservice.go: verify access_token, then upgrade (or, for /validate, answer "success")."""
        query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
        try:
            claims = self.fake.authenticate("Bearer " + query.pop("access_token", ""))
        except PlainUnauthorizedError as exc:
            self._send(401, "text/plain; charset=utf-8", str(exc).encode())
            return
        video = (claims or {}).get("video", {})
        if not video.get("roomJoin") or not video.get("room"):
            self._send(401, "text/plain; charset=utf-8", b"permissions denied")
            return
        if path.endswith("/validate"):
            self._send(200, "text/plain; charset=utf-8", b"success")
            return
        key = self.headers.get("Sec-WebSocket-Key", "")
        if self.headers.get("Upgrade", "").lower() != "websocket" or not key:
            self._send(400, "text/plain; charset=utf-8", b"websocket upgrade required")
            return
        accept = base64.b64encode(hashlib.sha1((key + WEBSOCKET_GUID).encode()).digest()).decode()
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.end_headers()
        self.wfile.flush()
        with self.fake._lock:
            self.fake.signal_connections.append(SignalConnection(path=path, claims=claims, query=query))
        self._hold_websocket()

    def _hold_websocket(self) -> None:
        """Read (and drop) the client's frames until it closes, or for at most 30 s."""
        self.connection.settimeout(30)
        try:
            while self.rfile.read(1):
                pass
        except OSError:
            pass
        self.close_connection = True

    def _handle(self, body: bytes) -> tuple[str, bytes]:
        claims = self.fake.authenticate(self.headers.get("Authorization"))
        service, method = self._parse_route()
        try:
            req_class, handler = self.fake.route(service, method)
        except KeyError:
            raise self._bad_route(f'no handler for path "{self._url_path}"') from None
        header = self.headers.get("Content-Type", "")
        content_type = header.split(";")[0].strip().lower()
        if content_type not in ("application/json", "application/protobuf"):
            raise self._bad_route(f'unexpected Content-Type: "{header}"')
        is_json = content_type == "application/json"
        request = _decode(req_class, body, is_json)
        if handler is None:
            msg = f"{service}.{method} is not modelled by the fake"
            raise TwirpError("unimplemented", msg)
        response = self.fake.dispatch(handler, method, request, claims)
        if is_json:
            text = protojson_dumps(response, use_proto_names=True, emit_unpopulated=True)
            return content_type, text.encode()
        return content_type, response.SerializeToString()

    def _parse_route(self) -> tuple[str, str]:
        if self.command != "POST":
            msg = f'unsupported method "{self.command}" (only POST is allowed)'
            raise self._bad_route(msg)
        prefix, _, rest = self._url_path.partition("/livekit.")
        service, _, method = rest.partition("/")
        if prefix != "/twirp" or service not in SERVICES or "/" in method:
            raise self._bad_route(f'no handler for path "{self._url_path}"')
        return service, method

    @property
    def _url_path(self) -> str:
        return urlsplit(self.path).path

    def _bad_route(self, msg: str) -> TwirpError:
        route = f"{self.command} {self._url_path}"
        return TwirpError("bad_route", msg, {"twirp_invalid_route": route})

    def _send(self, status: int, content_type: str, payload: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        try:
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test): nothing to answer any more

    def log_message(self, *args: object) -> None:
        pass  # keep test output clean


def _go_json(value: object) -> bytes:
    """encoding/json output: compact UTF-8 with <, > and & escaped (HTML-safe)."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(char, escape)
    return text.encode()


def _decode(req_class: type[Message], body: bytes, is_json: bool) -> Message:
    request = req_class()
    try:
        if is_json:  # twirp: protojson.UnmarshalOptions{DiscardUnknown: true}
            json_format.Parse(body, request, ignore_unknown_fields=True)
        else:
            request.ParseFromString(body)
    except (json_format.ParseError, DecodeError, ValueError):
        kind = "json" if is_json else "protobuf"
        msg = f"the {kind} request could not be decoded"
        raise TwirpError("malformed", msg) from None
    return request
