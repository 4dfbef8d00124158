"""The LiveKit provider against a fake LiveKit server speaking the real Twirp wire protocol.

Nothing of ours is mocked: the provider builds real SDK requests, the fake checks the Bearer
JWT grants the way the server does, and errors come back as Twirp errors.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from livekit.protocol import egress as egress_pb

import providers
from providers.base import ProviderNotFound, ProviderRejected, ProviderUnavailable, RoomRef
from providers.livekit import LiveKitProvider, api_url, client_url

ROOM = RoomRef(name="cv_test_room", convene_room_id="00000000-0000-0000-0000-000000000001")


@pytest.fixture
def provider(fake_livekit):
    return providers.get("livekit")


def test_close_room_deletes_the_room_with_a_room_create_grant(provider, fake_livekit):
    fake_livekit.add_participant(ROOM.name, "alice")
    provider.close_room(room=ROOM)
    call = fake_livekit.requests[-1]
    assert call.method == "DeleteRoom"
    assert call.claims["video"]["roomCreate"] is True
    assert not call.claims["video"].get("roomJoin")
    assert provider.list_live_rooms() == []


def test_closing_a_room_the_server_does_not_have_is_not_an_error(provider, fake_livekit):
    provider.close_room(room=ROOM)
    assert fake_livekit.requests[-1].method == "DeleteRoom"


def test_list_live_rooms_converts_creation_time_to_an_aware_datetime(provider, fake_livekit):
    fake_livekit.add_participant(ROOM.name, "alice")
    rooms = provider.list_live_rooms()
    assert [r.name for r in rooms] == [ROOM.name]
    assert rooms[0].sid.startswith("RM_")
    assert rooms[0].created_at is not None and rooms[0].created_at.tzinfo is not None


def test_list_participants_reports_kind_and_join_time(provider, fake_livekit):
    fake_livekit.add_participant(ROOM.name, "alice", name="Alice")
    participants = provider.list_participants(room=ROOM)
    assert [(p.identity, p.display_name, p.kind) for p in participants] == [("alice", "Alice", "standard")]
    assert participants[0].sid.startswith("PA_")
    call = fake_livekit.requests[-1]
    assert call.claims["video"]["roomAdmin"] is True and call.claims["video"]["room"] == ROOM.name


def test_list_participants_of_a_missing_room_is_empty(provider):
    assert provider.list_participants(room=ROOM) == []


def test_a_participant_kind_newer_than_our_protocol_copy_is_listed_as_unknown(provider, fake_livekit):
    fake_livekit.add_participant(ROOM.name, "visitor", kind=42)
    assert [p.kind for p in provider.list_participants(room=ROOM)] == ["unknown"]


def _egress(egress_id: str, **fields) -> egress_pb.EgressInfo:
    return egress_pb.EgressInfo(egress_id=egress_id, room_name=ROOM.name, status=egress_pb.EGRESS_ACTIVE, **fields)


def test_an_egress_convene_could_not_store_is_left_out_of_the_listing(provider, fake_livekit):
    for info in (_egress("EG_ours"), _egress("E" * 101)):
        fake_livekit.egresses[info.egress_id] = info
    assert [r.recording_id for r in provider.list_recordings(room=ROOM)] == ["EG_ours"]


def test_an_answer_with_an_egress_convene_could_not_store_is_a_rejection(provider, fake_livekit):
    fake_livekit.egresses["EG_long"] = _egress("EG_long", file_results=[egress_pb.FileInfo(filename="f" * 501)])
    with pytest.raises(ProviderRejected):
        provider.stop_recording(recording_id="EG_long")


def test_remove_participant_disconnects_them(provider, fake_livekit):
    fake_livekit.add_participant(ROOM.name, "alice")
    provider.remove_participant(room=ROOM, identity="alice")
    assert provider.list_participants(room=ROOM) == []


def test_removing_someone_not_connected_is_not_found(provider, fake_livekit):
    fake_livekit.add_participant(ROOM.name, "alice")
    with pytest.raises(ProviderNotFound):
        provider.remove_participant(room=ROOM, identity="bob")


def test_a_503_from_livekit_is_unavailable_and_retryable(provider, fake_livekit):
    fake_livekit.fail_next("ListRooms", code="unavailable", status=503)
    with pytest.raises(ProviderUnavailable):
        provider.list_live_rooms()
    assert provider.list_live_rooms() == []  # one failure only: no retry loop inside the provider


def test_a_permission_error_is_rejected_not_retryable(fake_livekit, settings):
    wrong = LiveKitProvider(url=fake_livekit.url, api_key=settings.LIVEKIT_API_KEY, api_secret="w" * 40)
    with pytest.raises(ProviderRejected) as raised:
        wrong.list_live_rooms()
    assert "w" * 40 not in str(raised.value)


def test_an_unreachable_server_is_unavailable():
    unreachable = LiveKitProvider(url="http://127.0.0.1:9", api_key="k", api_secret="s" * 40, timeout_seconds=2)
    with pytest.raises(ProviderUnavailable):
        unreachable.list_live_rooms()


def test_a_server_slower_than_the_timeout_is_unavailable(fake_livekit, settings):
    fake_livekit.set_delay(1.5)
    slow = LiveKitProvider(
        url=fake_livekit.url,
        api_key=settings.LIVEKIT_API_KEY,
        api_secret=settings.LIVEKIT_API_SECRET,
        timeout_seconds=0.5,
    )
    with pytest.raises(ProviderUnavailable):
        slow.list_live_rooms()


@pytest.mark.parametrize(
    ("configured", "api", "client"),
    [
        ("https://project.livekit.cloud", "https://project.livekit.cloud", "wss://project.livekit.cloud"),
        ("wss://project.livekit.cloud", "https://project.livekit.cloud", "wss://project.livekit.cloud"),
        ("http://localhost:7880", "http://localhost:7880", "ws://localhost:7880"),
        ("ws://localhost:7880", "http://localhost:7880", "ws://localhost:7880"),
    ],
)
def test_urls_are_derived_for_the_api_and_for_browsers(configured, api, client):
    assert api_url(configured) == api
    assert client_url(configured) == client


def test_join_credentials_expire_after_the_ttl(settings):
    provider = LiveKitProvider(url="https://x.livekit.cloud", api_key="k", api_secret="s" * 40)
    from providers.base import ParticipantSpec, RoleGrants

    spec = ParticipantSpec(
        identity="a", display_name="A", role="guest", grants=RoleGrants(True, True, True, ("camera",), False)
    )
    credentials = provider.join_credentials(room=ROOM, participant=spec, ttl=timedelta(minutes=3))
    assert credentials.server_url == "wss://x.livekit.cloud"
    from livekit import api as lk

    claims = lk.TokenVerifier("k", "s" * 40).verify(credentials.token)
    assert claims.identity == "a"
    assert abs((credentials.expires_at - credentials.expires_at.replace(microsecond=0)).total_seconds()) == 0
