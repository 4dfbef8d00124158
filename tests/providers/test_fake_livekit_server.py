"""The LiveKit fakes behave like the real server, as seen through LiveKit's own SDK.

The API fake is driven only through livekit-api's client (or raw HTTP where the
SDK cannot send what we need, such as an under-privileged token), and webhooks are
checked with livekit-api's own WebhookReceiver. No Django needed.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import jwt
import pytest
from livekit import api
from livekit.protocol import egress as egress_pb
from livekit.protocol import models

from tests.fakes.livekit_server import FakeLiveKitServer
from tests.fakes.livekit_webhooks import sign_webhook, webhook_body, webhook_headers

T = TypeVar("T")
ES = egress_pb.EgressStatus
FILE_OUTPUT = api.EncodedFileOutput(filepath="recordings/{room_name}.mp4")


@pytest.fixture(scope="module")
def server() -> Iterator[FakeLiveKitServer]:
    with FakeLiveKitServer() as fake:
        yield fake


@pytest.fixture
def fake(server: FakeLiveKitServer) -> FakeLiveKitServer:
    server.reset()
    return server


def run_api(fake: FakeLiveKitServer, call: Callable[[api.LiveKitAPI], Awaitable[T]], secret: str | None = None) -> T:
    """Run one SDK call; the client must be created inside the running loop."""

    async def main() -> T:
        lkapi = api.LiveKitAPI(fake.url, fake.api_key, secret or fake.api_secret)
        try:
            return await call(lkapi)
        finally:
            await lkapi.aclose()

    return asyncio.run(main())


def api_error(fake: FakeLiveKitServer, call: Callable, **kw: Any) -> api.TwirpError:
    with pytest.raises(api.TwirpError) as info:
        run_api(fake, call, **kw)
    return info.value


def raw_post(
    fake: FakeLiveKitServer, path: str, body: bytes, token: str | None, content_type: str = "application/protobuf"
) -> tuple[int, str, bytes]:
    """POST without the SDK; returns (status, content type, body)."""
    headers = {"Content-Type": content_type}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(f"{fake.url}/twirp/{path}", body, headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as resp:
            return resp.status, resp.headers["Content-Type"], resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers["Content-Type"], err.read()


def token(fake: FakeLiveKitServer, grants: api.VideoGrants, secret: str | None = None) -> str:
    return api.AccessToken(fake.api_key, secret or fake.api_secret).with_grants(grants).to_jwt()


# -- rooms ------------------------------------------------------------------------


def test_create_list_delete_room(fake: FakeLiveKitServer) -> None:
    room = run_api(fake, lambda lk: lk.room.create_room(api.CreateRoomRequest(name="a")))
    assert room.name == "a"
    assert room.sid.startswith("RM_")
    assert len(room.sid) == 15
    assert abs(room.creation_time - time.time()) < 5  # seconds, not ms
    assert (room.empty_timeout, room.departure_timeout) == (300, 20)  # defaults

    listed = run_api(fake, lambda lk: lk.room.list_rooms(api.ListRoomsRequest()))
    assert [r.sid for r in listed.rooms] == [room.sid]

    run_api(fake, lambda lk: lk.room.delete_room(api.DeleteRoomRequest(room="a")))
    listed = run_api(fake, lambda lk: lk.room.list_rooms(api.ListRoomsRequest()))
    assert list(listed.rooms) == []


def test_create_room_again_keeps_sid_and_applies_non_zero_fields(fake: FakeLiveKitServer) -> None:
    first = api.CreateRoomRequest(name="a", empty_timeout=60, metadata="m1")
    again = api.CreateRoomRequest(name="a", max_participants=5)
    one = run_api(fake, lambda lk: lk.room.create_room(first))
    two = run_api(fake, lambda lk: lk.room.create_room(again))
    assert two.sid == one.sid
    assert (two.empty_timeout, two.max_participants, two.metadata) == (60, 5, "m1")


def test_concurrent_creates_make_one_room(fake: FakeLiveKitServer) -> None:
    async def create_many(lk: api.LiveKitAPI) -> list[models.Room]:
        request = api.CreateRoomRequest(name="a")
        return await asyncio.gather(*(lk.room.create_room(request) for _ in range(20)))

    rooms = run_api(fake, create_many)
    assert len({room.sid for room in rooms}) == 1
    assert len(fake.requests) == 20


def test_list_rooms_filters_by_name(fake: FakeLiveKitServer) -> None:
    fake.add_participant("a", "alice")
    fake.add_participant("b", "bob")
    request = api.ListRoomsRequest(names=["b"])
    listed = run_api(fake, lambda lk: lk.room.list_rooms(request))
    assert [(r.name, r.num_participants) for r in listed.rooms] == [("b", 1)]


def test_delete_unknown_room_is_not_found(fake: FakeLiveKitServer) -> None:
    request = api.DeleteRoomRequest(room="nope")
    err = api_error(fake, lambda lk: lk.room.delete_room(request))
    assert (err.code, err.status) == ("not_found", 404)
    assert err.message == "twirp error unknown: requested room does not exist"


def test_update_room_metadata(fake: FakeLiveKitServer) -> None:
    fake.add_participant("a", "alice")
    request = api.UpdateRoomMetadataRequest(room="a", metadata='{"topic": "x"}')
    room = run_api(fake, lambda lk: lk.room.update_room_metadata(request))
    assert room.metadata == '{"topic": "x"}'
    missing = api.UpdateRoomMetadataRequest(room="b", metadata="m")
    err = api_error(fake, lambda lk: lk.room.update_room_metadata(missing))
    assert err.code == "not_found"


# -- participants -----------------------------------------------------------------


def test_list_get_and_remove_participants(fake: FakeLiveKitServer) -> None:
    alice = fake.add_participant("a", "alice", name="Alice")
    fake.add_participant("a", "rec", kind=models.ParticipantInfo.Kind.EGRESS)
    assert alice.sid.startswith("PA_")

    listed = run_api(fake, lambda lk: lk.room.list_participants(api.ListParticipantsRequest(room="a")))
    assert {p.identity for p in listed.participants} == {"alice", "rec"}
    who = api.RoomParticipantIdentity(room="a", identity="alice")
    got = run_api(fake, lambda lk: lk.room.get_participant(who))
    assert (got.sid, got.name, got.state) == (alice.sid, "Alice", got.State.ACTIVE)

    run_api(fake, lambda lk: lk.room.remove_participant(who))
    listed = run_api(fake, lambda lk: lk.room.list_participants(api.ListParticipantsRequest(room="a")))
    assert [p.identity for p in listed.participants] == ["rec"]


def test_remove_unknown_participant_is_not_found(fake: FakeLiveKitServer) -> None:
    fake.add_participant("a", "alice")
    who = api.RoomParticipantIdentity(room="a", identity="ghost")
    err = api_error(fake, lambda lk: lk.room.remove_participant(who))
    assert (err.code, err.status) == ("not_found", 404)
    assert err.message.endswith("participant does not exist")


def test_list_participants_of_unknown_room_is_empty(fake: FakeLiveKitServer) -> None:
    request = api.ListParticipantsRequest(room="nope")
    listed = run_api(fake, lambda lk: lk.room.list_participants(request))
    assert list(listed.participants) == []


def test_update_participant_merges_like_the_server(fake: FakeLiveKitServer) -> None:
    fake.add_participant("a", "alice", name="Alice", metadata="m0")
    set_attrs = api.UpdateParticipantRequest(room="a", identity="alice", attributes={"role": "host", "x": "1"})
    run_api(fake, lambda lk: lk.room.update_participant(set_attrs))
    update = api.UpdateParticipantRequest(room="a", identity="alice", metadata="m1", attributes={"x": ""})
    got = run_api(fake, lambda lk: lk.room.update_participant(update))
    assert (got.name, got.metadata, dict(got.attributes)) == ("Alice", "m1", {"role": "host"})


def test_mute_published_track(fake: FakeLiveKitServer) -> None:
    fake.add_participant("a", "alice")
    track = fake.publish_track("a", "alice", name="mic")
    mute = api.MuteRoomTrackRequest(room="a", identity="alice", track_sid=track.sid, muted=True)
    muted = run_api(fake, lambda lk: lk.room.mute_published_track(mute))
    assert (muted.track.sid, muted.track.muted) == (track.sid, True)
    unmute = api.MuteRoomTrackRequest(room="a", identity="alice", track_sid=track.sid)
    err = api_error(fake, lambda lk: lk.room.mute_published_track(unmute))
    assert (err.code, err.status) == ("failed_precondition", 412)  # remote unmute off


def test_drop_participant_and_end_room(fake: FakeLiveKitServer) -> None:
    fake.add_participant("a", "alice")
    fake.add_participant("a", "bob")
    fake.drop_participant("a", "alice")
    assert list(fake.participants["a"]) == ["bob"]
    fake.end_room("a")
    listed = run_api(fake, lambda lk: lk.room.list_rooms(api.ListRoomsRequest()))
    assert list(listed.rooms) == []


# -- authentication and authorization ---------------------------------------------


def test_wrong_secret_is_refused_before_twirp(fake: FakeLiveKitServer) -> None:
    # The middleware answers 401 in plain text, so the SDK has no Twirp code.
    err = api_error(fake, lambda lk: lk.room.list_rooms(api.ListRoomsRequest()), secret="x" * 40)
    assert (err.status, err.code) == (401, "unknown")

    bad = token(fake, api.VideoGrants(room_list=True), secret="y" * 40)
    body = api.ListRoomsRequest().SerializeToString()
    status, ctype, text = raw_post(fake, "livekit.RoomService/ListRooms", body, bad)
    assert (status, ctype) == (401, "text/plain; charset=utf-8")
    assert text == b"invalid authorization token: token signature is invalid: signature is invalid"
    assert fake.requests == []  # never reached the service


def test_expired_token_and_unknown_key_are_refused(fake: FakeLiveKitServer) -> None:
    now = int(time.time())
    expired = jwt.encode(
        {"iss": fake.api_key, "nbf": now - 600, "exp": now - 120, "video": {"roomList": True}}, fake.api_secret
    )
    other_key = api.AccessToken("otherkey", fake.api_secret).with_grants(api.VideoGrants(room_list=True))
    body = api.ListRoomsRequest().SerializeToString()
    path = "livekit.RoomService/ListRooms"
    assert raw_post(fake, path, body, expired)[::2] == (
        401,
        b"invalid authorization token: token has invalid claims: token is expired",
    )
    assert raw_post(fake, path, body, other_key.to_jwt())[::2] == (401, b"invalid API key")


def test_missing_grant_is_unauthenticated_not_permission_denied(fake: FakeLiveKitServer) -> None:
    # auth.go wraps every grant failure in twirp.Unauthenticated ("permissions denied").
    body = api.CreateRoomRequest(name="a").SerializeToString()
    path = "livekit.RoomService/CreateRoom"
    for grants in (api.VideoGrants(room_list=True), None):
        jwt_ = token(fake, grants) if grants else None
        status, ctype, text = raw_post(fake, path, body, jwt_)
        assert (status, ctype) == (401, "application/json")
        assert json.loads(text) == {"code": "unauthenticated", "msg": "permissions denied"}
    assert fake.rooms == {}


def test_room_admin_must_match_the_room(fake: FakeLiveKitServer) -> None:
    fake.add_participant("a", "alice")
    body = api.ListParticipantsRequest(room="a").SerializeToString()
    path = "livekit.RoomService/ListParticipants"
    other_room = token(fake, api.VideoGrants(room_admin=True, room="b"))
    right_room = token(fake, api.VideoGrants(room_admin=True, room="a"))
    assert raw_post(fake, path, body, other_room)[0] == 401
    status, _, text = raw_post(fake, path, body, right_room)
    assert status == 200
    assert api.ListParticipantsResponse.FromString(text).participants[0].identity == "alice"


def test_egress_needs_room_record(fake: FakeLiveKitServer) -> None:
    body = api.ListEgressRequest().SerializeToString()
    admin = token(fake, api.VideoGrants(room_create=True, room_admin=True, room="a"))
    status, _, text = raw_post(fake, "livekit.Egress/ListEgress", body, admin)
    assert (status, json.loads(text)["code"]) == (401, "unauthenticated")


def test_requests_are_recorded_with_verified_claims(fake: FakeLiveKitServer) -> None:
    run_api(fake, lambda lk: lk.room.create_room(api.CreateRoomRequest(name="a")))
    [call] = fake.requests
    assert (call.method, call.request.name) == ("CreateRoom", "a")
    assert call.claims["iss"] == fake.api_key
    assert call.claims["video"]["roomCreate"] is True
    assert "roomAdmin" not in call.claims["video"]


# -- transport --------------------------------------------------------------------


def test_json_requests_get_twirp_json_answers(fake: FakeLiveKitServer) -> None:
    create = token(fake, api.VideoGrants(room_create=True))
    body = json.dumps({"name": "a", "emptyTimeout": 30}).encode()
    status, ctype, text = raw_post(fake, "livekit.RoomService/CreateRoom", body, create, "application/json")
    assert (status, ctype) == (200, "application/json")
    room = json.loads(text)
    # twirp's Go defaults: proto field names, zero values emitted, int64 as strings
    assert room["empty_timeout"] == 30
    assert room["max_participants"] == 0
    assert isinstance(room["creation_time"], str)


def test_routing_and_decoding_errors(fake: FakeLiveKitServer) -> None:
    jwt_ = token(fake, api.VideoGrants(room_create=True))
    status, _, text = raw_post(fake, "livekit.RoomService/Nope", b"", jwt_)
    assert (status, json.loads(text)["code"]) == (404, "bad_route")
    status, _, text = raw_post(fake, "livekit.RoomService/CreateRoom", b"", jwt_, "text/xml")
    assert (status, json.loads(text)["code"]) == (404, "bad_route")
    status, _, text = raw_post(fake, "livekit.RoomService/CreateRoom", b"\xff\xff", jwt_)
    assert (status, json.loads(text)) == (
        400,
        {"code": "malformed", "msg": "the protobuf request could not be decoded"},
    )


def test_injected_failure_then_recovery(fake: FakeLiveKitServer) -> None:
    fake.fail_next("ListRooms")
    err = api_error(fake, lambda lk: lk.room.list_rooms(api.ListRoomsRequest()))
    assert (err.code, err.status) == ("unavailable", 503)
    listed = run_api(fake, lambda lk: lk.room.list_rooms(api.ListRoomsRequest()))
    assert list(listed.rooms) == []
    assert [c.method for c in fake.requests] == ["ListRooms", "ListRooms"]


def test_delay_slows_answers(fake: FakeLiveKitServer) -> None:
    fake.set_delay(0.3)
    started = time.monotonic()
    run_api(fake, lambda lk: lk.room.list_rooms(api.ListRoomsRequest()))
    assert time.monotonic() - started >= 0.3


# -- egress -----------------------------------------------------------------------


def start_egress(fake: FakeLiveKitServer, room: str) -> egress_pb.EgressInfo:
    request = api.RoomCompositeEgressRequest(room_name=room, file_outputs=[FILE_OUTPUT])
    return run_api(fake, lambda lk: lk.egress.start_room_composite_egress(request))


def test_egress_start_list_stop(fake: FakeLiveKitServer) -> None:
    fake.add_participant("a", "alice")
    info = start_egress(fake, "a")
    assert info.egress_id.startswith("EG_")
    assert info.room_name == "a"
    assert info.room_id == fake.rooms["a"].sid
    assert info.status == ES.EGRESS_STARTING
    assert abs(info.started_at / 1e9 - time.time()) < 5  # nanoseconds

    fake.set_egress_status(info.egress_id, ES.EGRESS_ACTIVE)
    active = api.ListEgressRequest(room_name="a", active=True)
    listed = run_api(fake, lambda lk: lk.egress.list_egress(active))
    assert [e.egress_id for e in listed.items] == [info.egress_id]

    stop = api.StopEgressRequest(egress_id=info.egress_id)
    stopped = run_api(fake, lambda lk: lk.egress.stop_egress(stop))
    assert stopped.status == ES.EGRESS_ENDING

    fake.set_egress_status(info.egress_id, ES.EGRESS_COMPLETE)
    listed = run_api(fake, lambda lk: lk.egress.list_egress(active))
    assert list(listed.items) == []
    err = api_error(fake, lambda lk: lk.egress.stop_egress(stop))
    assert (err.code, err.status) == ("failed_precondition", 412)
    assert err.message == "egress with status EGRESS_COMPLETE cannot be stopped"


def test_stopping_a_starting_egress_aborts_it(fake: FakeLiveKitServer) -> None:
    fake.add_participant("a", "alice")
    info = start_egress(fake, "a")
    stop = api.StopEgressRequest(egress_id=info.egress_id)
    stopped = run_api(fake, lambda lk: lk.egress.stop_egress(stop))
    assert stopped.status == ES.EGRESS_ABORTED
    assert stopped.ended_at >= stopped.started_at


def test_egress_not_found_cases(fake: FakeLiveKitServer) -> None:
    err = api_error(
        fake,
        lambda lk: lk.egress.start_room_composite_egress(
            api.RoomCompositeEgressRequest(room_name="nope", file_outputs=[FILE_OUTPUT])
        ),
    )
    assert err.code == "not_found"
    stop = api.StopEgressRequest(egress_id="EG_missing")
    assert api_error(fake, lambda lk: lk.egress.stop_egress(stop)).code == "not_found"
    by_id = api.ListEgressRequest(egress_id="EG_missing")
    assert api_error(fake, lambda lk: lk.egress.list_egress(by_id)).code == "not_found"


def test_list_egress_filters(fake: FakeLiveKitServer) -> None:
    fake.add_participant("a", "alice")
    fake.add_participant("b", "bob")
    in_a, in_b = start_egress(fake, "a"), start_egress(fake, "b")
    fake.set_egress_status(in_b.egress_id, ES.EGRESS_FAILED, error="boom")

    def ids(**kw: Any) -> list[str]:
        request = api.ListEgressRequest(**kw)
        listed = run_api(fake, lambda lk: lk.egress.list_egress(request))
        return sorted(e.egress_id for e in listed.items)

    assert ids() == sorted([in_a.egress_id, in_b.egress_id])
    assert ids(room_name="b") == [in_b.egress_id]
    assert ids(active=True) == [in_a.egress_id]
    assert ids(egress_id=in_b.egress_id, active=True) == [in_b.egress_id]  # id wins


def test_ending_a_room_ends_its_egress(fake: FakeLiveKitServer) -> None:
    fake.add_participant("a", "alice")
    info = start_egress(fake, "a")
    fake.set_egress_status(info.egress_id, ES.EGRESS_ACTIVE)
    fake.end_room("a")
    assert fake.egresses[info.egress_id].status == ES.EGRESS_COMPLETE


# -- webhooks ---------------------------------------------------------------------


def receiver(fake: FakeLiveKitServer, secret: str | None = None) -> api.WebhookReceiver:
    return api.WebhookReceiver(api.TokenVerifier(fake.api_key, secret or fake.api_secret))


def test_signed_webhook_verifies_with_livekit_receiver(fake: FakeLiveKitServer) -> None:
    room = models.Room(sid="RM_abc", name="a", creation_time=1692985556)
    body = webhook_body("room_started", room=room)
    header = sign_webhook(body, fake.api_key, fake.api_secret)
    event = receiver(fake).receive(body.decode(), header)
    assert (event.event, event.room.sid) == ("room_started", "RM_abc")
    assert event.id.startswith("EV_")


def test_tampered_or_wrongly_signed_webhook_is_rejected(fake: FakeLiveKitServer) -> None:
    body = webhook_body("room_finished", room={"sid": "RM_abc", "name": "a"})
    header = sign_webhook(body, fake.api_key, fake.api_secret)
    tampered = body.replace(b"RM_abc", b"RM_xyz")
    with pytest.raises(Exception, match="hash mismatch"):
        receiver(fake).receive(tampered.decode(), header)
    with pytest.raises(jwt.InvalidSignatureError):
        receiver(fake, secret="z" * 40).receive(body.decode(), header)
    stale = sign_webhook(body, fake.api_key, fake.api_secret, now=datetime.now(UTC) - timedelta(hours=1))
    with pytest.raises(jwt.ExpiredSignatureError):
        receiver(fake).receive(body.decode(), stale)


def test_webhook_token_has_exactly_the_servers_claims(fake: FakeLiveKitServer) -> None:
    body = b'{"event":"room_started"}'
    now = datetime(2026, 1, 2, 3, 4, 5, 600000, tzinfo=UTC)
    header = sign_webhook(body, fake.api_key, fake.api_secret, now=now)
    assert not header.startswith("Bearer ")
    assert jwt.get_unverified_header(header) == {"alg": "HS256", "typ": "JWT"}
    payload = json.loads(base64.urlsafe_b64decode(header.split(".")[1] + "=="))
    issued = int(now.timestamp())
    digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
    assert list(payload.items()) == [
        ("iss", fake.api_key),
        ("exp", issued + 300),
        ("nbf", issued),
        ("iat", issued),
        ("sha256", digest),
    ]


def test_webhook_body_is_protojson(fake: FakeLiveKitServer) -> None:
    info = egress_pb.EgressInfo(egress_id="EG_1", room_name="a", status=ES.EGRESS_STARTING, started_at=10**18)
    body = webhook_body("egress_started", egress_info=info, created_at=1692985556)
    data = json.loads(body)
    # declaration order, lowerCamelCase, int64 as strings, zero status omitted
    assert list(data) == ["event", "egressInfo", "id", "createdAt"]
    assert data["egressInfo"] == {"egressId": "EG_1", "roomName": "a", "startedAt": "1000000000000000000"}
    assert data["createdAt"] == "1692985556"
    assert b" " not in body  # compact, as Go writes it

    headers = webhook_headers(body, fake.api_key, fake.api_secret)
    assert headers["Content-Type"] == "application/webhook+json"
    assert headers["User-Agent"] == "LiveKit"
