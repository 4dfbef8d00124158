"""Call and participant sessions built from events, in order and out of order."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from rooms.models import CallSession, LeftSource, ParticipantSession, RoomStatus, TrackPublication
from tests.factories import InvitationFactory, RoomFactory
from tests.webhooks.conftest import participant_info, room_info

pytestmark = pytest.mark.django_db
T0 = 1_790_000_000


def at(seconds: int) -> datetime:
    return datetime.fromtimestamp(T0 + seconds, UTC)


def test_a_whole_call_in_order_gives_one_session_with_durations(webhooks):
    room = RoomFactory()
    link = InvitationFactory(room=room, identity="pat", role="guest")
    webhooks.send("room_started", room=room_info(room, creation_time=T0), at=T0)
    webhooks.send(
        "participant_joined",
        room=room_info(room),
        participant=participant_info("PA_1", "pat", name="Pat", joined_at=T0 + 5),
        at=T0 + 5,
    )
    room.refresh_from_db()
    assert room.status == RoomStatus.LIVE
    webhooks.send(
        "participant_left",
        room=room_info(room),
        participant=participant_info("PA_1", "pat", joined_at=T0 + 5, reason="CLIENT_INITIATED"),
        at=T0 + 65,
    )
    webhooks.send("room_finished", room=room_info(room), at=T0 + 90)
    session = CallSession.objects.get()
    assert (session.started_at, session.ended_at, session.duration_seconds) == (at(0), at(90), 90)
    participant = ParticipantSession.objects.get()
    assert participant.invitation == link and participant.role == "guest" and participant.display_name == "Pat"
    assert (participant.joined_at, participant.left_at, participant.duration_seconds) == (at(5), at(65), 60)
    assert participant.disconnect_reason == "CLIENT_INITIATED"
    room.refresh_from_db()
    assert room.status == RoomStatus.OPEN


def test_left_before_joined_ends_in_the_same_state(webhooks):
    room = RoomFactory()
    webhooks.send(
        "participant_left",
        room=room_info(room),
        participant=participant_info("PA_1", "pat", joined_at=T0 + 5, reason="CLIENT_INITIATED"),
        at=T0 + 65,
    )
    webhooks.send(
        "participant_joined",
        room=room_info(room),
        participant=participant_info("PA_1", "pat", joined_at=T0 + 5),
        at=T0 + 5,
    )
    participant = ParticipantSession.objects.get()
    assert (participant.joined_at, participant.left_at, participant.left_source) == (at(5), at(65), LeftSource.EVENT)


def test_a_connection_first_seen_without_its_identity_takes_it_from_a_later_event(webhooks):
    """Janus's configured/published events carry no token, so no identity: applied before the
    joined event, they must not leave the connection nameless (a removal finds people by identity)."""
    invitation = InvitationFactory(room=RoomFactory(), identity="pat", role="guest")
    room = invitation.room
    webhooks.send("participant_left", room=room_info(room), participant=participant_info("PA_1", ""), at=T0 + 65)
    webhooks.send("participant_joined", room=room_info(room), participant=participant_info("PA_1", "pat"), at=T0 + 5)
    participant = ParticipantSession.objects.get()
    assert (participant.identity, participant.invitation_id, participant.role) == ("pat", invitation.pk, "guest")


def test_room_finished_before_the_last_participant_left_leaves_nothing_live(webhooks):
    room = RoomFactory()
    webhooks.send(
        "participant_joined",
        room=room_info(room),
        participant=participant_info("PA_1", "a", joined_at=T0 + 1),
        at=T0 + 1,
    )
    webhooks.send("room_finished", room=room_info(room), at=T0 + 100)
    participant = ParticipantSession.objects.get()
    assert participant.left_at == at(100) and participant.left_source == LeftSource.SESSION_ENDED
    webhooks.send(
        "participant_left",
        room=room_info(room),
        participant=participant_info("PA_1", "a", joined_at=T0 + 1, reason="ROOM_DELETED"),
        at=T0 + 99,
    )
    participant.refresh_from_db()
    assert participant.left_at == at(99) and participant.disconnect_reason == "ROOM_DELETED"
    room.refresh_from_db()
    assert room.status == RoomStatus.OPEN
    assert not CallSession.objects.filter(ended_at__isnull=True).exists()


def test_a_late_join_after_the_room_finished_does_not_reopen_anything(webhooks):
    room = RoomFactory()
    webhooks.send("room_finished", room=room_info(room), at=T0 + 100)
    webhooks.send(
        "participant_joined",
        room=room_info(room),
        participant=participant_info("PA_1", "a", joined_at=T0 + 1),
        at=T0 + 1,
    )
    assert ParticipantSession.objects.get().left_at == at(100)
    room.refresh_from_db()
    assert room.status != RoomStatus.LIVE


@pytest.mark.parametrize("joined_first", [True, False])
def test_a_quick_reconnect_gives_two_connections_whatever_the_order(webhooks, joined_first):
    room = RoomFactory()
    old_joined = dict(
        event="participant_joined",
        room=room_info(room),
        participant=participant_info("PA_old", "pat", joined_at=T0),
        at=T0,
    )
    new_joined = dict(
        event="participant_joined",
        room=room_info(room),
        participant=participant_info("PA_new", "pat", joined_at=T0 + 30),
        at=T0 + 30,
    )
    old_left = dict(
        event="participant_left",
        room=room_info(room),
        participant=participant_info("PA_old", "pat", joined_at=T0, reason="DUPLICATE_IDENTITY"),
        at=T0 + 31,
    )
    order = [old_joined, new_joined, old_left] if joined_first else [old_joined, old_left, new_joined]
    for event in order:
        webhooks.send(event.pop("event"), **event)
    old = ParticipantSession.objects.get(provider_participant_id="PA_old")
    new = ParticipantSession.objects.get(provider_participant_id="PA_new")
    assert old.left_at == at(31) and old.disconnect_reason == "DUPLICATE_IDENTITY"
    assert new.joined_at == at(30) and new.left_at is None
    room.refresh_from_db()
    assert room.status == RoomStatus.LIVE


def test_connection_aborted_counts_as_a_connection_that_never_joined(webhooks):
    room = RoomFactory()
    webhooks.send(
        "participant_connection_aborted",
        room=room_info(room),
        participant=participant_info("PA_1", "pat", joined_at=T0),
        at=T0 + 10,
    )
    participant = ParticipantSession.objects.get()
    assert participant.connection_aborted is True
    assert participant.duration_seconds == 0


def test_published_tracks_are_recorded_per_participant_with_kind_and_source(webhooks):
    room = RoomFactory()
    webhooks.send(
        "track_published",
        room=room_info(room),
        participant={"sid": "PA_1", "identity": "pat"},
        track={"sid": "TR_cam", "type": "VIDEO", "source": "CAMERA"},
        at=T0 + 3,
    )
    webhooks.send(
        "track_unpublished",
        room=room_info(room),
        participant={"sid": "PA_1", "identity": "pat"},
        track={"sid": "TR_cam", "type": "VIDEO", "source": "CAMERA"},
        at=T0 + 50,
    )
    track = TrackPublication.objects.get()
    assert (track.kind, track.source, track.published_at, track.unpublished_at) == ("video", "camera", at(3), at(50))
    assert track.participant_session.identity == "pat"


def test_a_closed_room_is_never_moved_back(webhooks):
    room = RoomFactory(status=RoomStatus.CLOSED)
    webhooks.send("participant_joined", room=room_info(room), participant=participant_info("PA_1", "a"), at=T0)
    room.refresh_from_db()
    assert room.status == RoomStatus.CLOSED
