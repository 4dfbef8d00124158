"""Signed events with extreme or unknown values are processed to a final state, and never move a
record to an absurd time."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from recordings.selectors import consent_missing
from rooms.models import CallSession, ParticipantSession, TrackPublication
from tests.factories import InvitationFactory, RoomFactory
from tests.webhooks.conftest import participant_info, process_pending, room_info
from webhooks.models import InboundEvent, InboundEventStatus

pytestmark = pytest.mark.django_db
T0 = 1_790_000_000
INT64_MAX = str(2**63 - 1)


def at(seconds: int) -> datetime:
    return datetime.fromtimestamp(T0 + seconds, UTC)


def assert_all_done() -> None:
    assert (
        list(InboundEvent.objects.values_list("status", "last_error"))
        == [(InboundEventStatus.DONE, "")] * InboundEvent.objects.count()
    )


def test_int64_max_room_and_participant_times_are_unknown_not_a_crash(webhooks):
    room = RoomFactory()
    webhooks.send("room_started", room={**room_info(room), "creationTime": INT64_MAX}, at=T0)
    webhooks.send(
        "participant_joined",
        room={**room_info(room), "creationTimeMs": INT64_MAX},
        participant={"sid": "PA_1", "identity": "pat", "joinedAt": INT64_MAX, "joinedAtMs": INT64_MAX},
        at=T0 + 5,
    )
    assert_all_done()
    assert CallSession.objects.get().started_at == at(0)
    assert ParticipantSession.objects.get().joined_at == at(5)


def test_a_negative_event_time_does_not_move_a_session_start_to_1969(webhooks):
    room = RoomFactory()
    webhooks.send("room_started", room=room_info(room, creation_time=T0), at=T0)
    body = {
        "event": "participant_joined",
        "room": room_info(room),
        "participant": {"sid": "PA_1", "identity": "pat"},
        "id": "EV_neg",
        "createdAt": "-5",
    }
    assert webhooks.post(json.dumps(body).encode()).status_code == 200
    process_pending()
    assert_all_done()
    assert CallSession.objects.get().started_at == at(0)
    assert (
        ParticipantSession.objects.get().joined_at == InboundEvent.objects.get(provider_event_id="EV_neg").occurred_at
    )


def test_an_event_without_a_usable_time_applies_at_its_arrival_not_at_its_processing(webhooks):
    room = RoomFactory()
    body = {
        "event": "participant_left",
        "room": room_info(room),
        "participant": {"sid": "PA_1", "identity": "pat"},
        "id": "EV_left",
        "createdAt": INT64_MAX,
    }
    assert webhooks.post(json.dumps(body).encode()).status_code == 200
    process_pending()
    row = InboundEvent.objects.get()
    assert row.status == InboundEventStatus.DONE
    assert ParticipantSession.objects.get().left_at == row.occurred_at


def test_unknown_enum_values_are_stored_as_unknown(webhooks):
    room = RoomFactory()
    participant = {"sid": "PA_1", "identity": "pat", "kind": 42, "disconnectReason": 99}
    webhooks.send("participant_joined", room=room_info(room), participant=participant, at=T0)
    webhooks.send(
        "track_published", room=room_info(room), participant=participant, track={"sid": "TR_1", "type": 77}, at=T0
    )
    webhooks.send("participant_left", room=room_info(room), participant=participant, at=T0 + 9)
    assert_all_done()
    person = ParticipantSession.objects.get()
    assert (person.kind, person.disconnect_reason) == ("unknown", "UNKNOWN(99)")
    assert TrackPublication.objects.get().kind == "unknown(77)"


@pytest.mark.parametrize("kind", [42, "CONNECTOR"], ids=["unknown", "connector"])
def test_a_participant_of_an_unknown_kind_or_a_connector_counts_as_someone_who_must_consent(webhooks, kind):
    room = RoomFactory()
    webhooks.send(
        "participant_joined", room=room_info(room), participant=participant_info("PA_1", "visitor", kind=kind), at=T0
    )
    missing, _, _ = consent_missing(room=room)
    assert missing == ["visitor"]


def test_identities_and_names_up_to_livekits_limits_are_kept(webhooks):
    room = RoomFactory()
    identity, name = "é" * 256, "N" * 256
    webhooks.send("participant_joined", room=room_info(room), participant=participant_info("PA_1", identity, name=name))
    assert_all_done()
    person = ParticipantSession.objects.get()
    assert (person.identity, person.display_name) == (identity, name)


def test_a_role_attribute_that_is_not_a_convene_role_is_not_taken(webhooks):
    room = RoomFactory()
    InvitationFactory(room=room, identity="pat", role="guest")
    attributes = {"convene.role": "r" * 300 + "\x00"}
    webhooks.send(
        "participant_joined", room=room_info(room), participant=participant_info("PA_1", "pat", attributes=attributes)
    )
    assert_all_done()
    assert ParticipantSession.objects.get().role == "guest"
