"""LiveKit's values at the boundary: times kept in a sane range, unknown enum values kept as
unknown, identifiers refused and display text cut when they exceed LiveKit's limits."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

import providers
from providers.base import BadPayload
from providers.livekit_convert import (
    DISPLAY_NAME_MAX,
    EARLIEST_TIME,
    EVENT_ID_MAX,
    IDENTITY_MAX,
    KIND_MAX,
    LOCATION_MAX,
    RECORDING_ID_MAX,
    ROOM_NAME_MAX,
    SID_MAX,
    from_milliseconds,
    from_nanoseconds,
    from_seconds,
)
from recordings.models import Recording
from rooms.models import CallSession, ParticipantSession, TrackPublication
from tests.fakes.livekit_webhooks import webhook_body
from webhooks.models import InboundEvent

INT64_MAX = 2**63 - 1


def parse(event: str = "participant_joined", **fields) -> providers.base.NeutralEvent:
    [neutral] = providers.get("livekit").parse_webhook(body=webhook_body(event, **fields))
    return neutral


@pytest.mark.parametrize("value", [INT64_MAX, -(2**63), 10**11, -(10**11), 10**12, -5, 1, 0])
def test_a_time_in_seconds_outside_the_sane_range_is_no_time(value):
    assert from_seconds(value) is None


@pytest.mark.parametrize("convert", [from_seconds, from_milliseconds, from_nanoseconds])
def test_int64_limits_in_every_unit_are_no_time(convert):
    assert convert(INT64_MAX) is None
    assert convert(-(2**63)) is None


def test_times_inside_the_range_convert_in_each_unit():
    now = int(time.time())
    assert from_seconds(now) == datetime.fromtimestamp(now, UTC)
    assert from_milliseconds(now * 1000) == datetime.fromtimestamp(now, UTC)
    assert from_nanoseconds(now * 10**9) == datetime.fromtimestamp(now, UTC)
    assert from_seconds(int(EARLIEST_TIME.timestamp())) == EARLIEST_TIME
    assert from_seconds(now + 23 * 3600) is not None
    assert from_seconds(now + 25 * 3600) is None


@pytest.mark.parametrize("created_at", [INT64_MAX, 10**11, -(10**11), 10**12, -5])
def test_an_absurd_event_time_becomes_the_time_it_was_received(created_at):
    before = datetime.now(UTC)
    event = parse("room_started", created_at=created_at, room={"sid": "RM_1", "name": "r"})
    assert before <= event.occurred_at <= datetime.now(UTC)


def test_absurd_room_and_participant_times_are_unknown():
    event = parse(
        room={"sid": "RM_1", "name": "r", "creationTime": str(INT64_MAX), "creationTimeMs": str(-(2**63))},
        participant={"sid": "PA_1", "identity": "pat", "joinedAt": str(INT64_MAX), "joinedAtMs": "-5"},
    )
    assert event.room_started_at is None
    assert event.participant.joined_at is None


def test_unknown_enum_numbers_are_kept_as_unknown():
    event = parse(
        "track_published",
        room={"sid": "RM_1", "name": "r"},
        participant={"sid": "PA_1", "identity": "pat", "kind": 42, "disconnectReason": 99},
        track={"sid": "TR_1", "type": 77, "source": 2**31 - 1},
    )
    assert (event.participant.kind, event.participant.disconnect_reason) == ("unknown", "UNKNOWN(99)")
    assert (event.track.kind, event.track.source) == ("unknown(77)", "unknown(2147483647)")


def test_a_negative_or_absurd_file_duration_is_clamped_or_unknown():
    egress = {"egressId": "EG_1", "roomName": "r", "status": "EGRESS_COMPLETE"}
    short = parse("egress_ended", egress_info={**egress, "fileResults": [{"filename": "a", "duration": "-5"}]})
    absurd = parse(
        "egress_ended", egress_info={**egress, "fileResults": [{"filename": "a", "duration": str(INT64_MAX)}]}
    )
    assert short.recording.files[0].duration_seconds == 0
    assert absurd.recording.files[0].duration_seconds is None


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"id": "E" * (EVENT_ID_MAX + 1)}, id="event-id"),
        pytest.param({"room": {"sid": "RM_1", "name": "r" * (ROOM_NAME_MAX + 1)}}, id="room-name"),
        pytest.param({"room": {"sid": "R" * (SID_MAX + 1), "name": "r"}}, id="room-sid"),
        pytest.param({"participant": {"sid": "P" * (SID_MAX + 1), "identity": "pat"}}, id="participant-sid"),
        pytest.param({"participant": {"sid": "PA_1", "identity": "i" * (IDENTITY_MAX + 1)}}, id="identity"),
        pytest.param({"participant": {"sid": "PA_1", "identity": "p\x00t"}}, id="identity-nul"),
        pytest.param({"track": {"sid": "T" * (SID_MAX + 1)}}, id="track-sid"),
        pytest.param({"egress_info": {"egressId": "E" * (RECORDING_ID_MAX + 1)}}, id="egress-id"),
        pytest.param({"egress_info": {"egressId": "EG_1", "roomName": "r\x00"}}, id="egress-room-nul"),
        pytest.param(
            {"egress_info": {"egressId": "EG_1", "fileResults": [{"filename": "f" * (LOCATION_MAX + 1)}]}},
            id="location",
        ),
    ],
)
def test_an_identifier_beyond_livekits_limits_or_holding_a_nul_is_unreadable(fields):
    with pytest.raises(BadPayload):
        parse(**fields)


def test_identifiers_up_to_livekits_limits_are_kept_whole():
    event = parse(
        id="E" * EVENT_ID_MAX,
        room={"sid": "R" * SID_MAX, "name": "r" * ROOM_NAME_MAX},
        participant={"sid": "P" * SID_MAX, "identity": "é" * IDENTITY_MAX},
    )
    assert (len(event.provider_event_id), len(event.room_name), len(event.room_sid)) == (100, 256, 64)
    assert event.participant.identity == "é" * IDENTITY_MAX


def test_display_text_loses_its_nuls_and_is_cut_to_its_limit():
    event = parse(participant={"sid": "PA_1", "identity": "pat", "name": "P\x00at" + "x" * 300})
    assert event.participant.display_name == ("Pat" + "x" * 300)[:DISPLAY_NAME_MAX]
    unknown = parse("e" * 200 + "\x00")
    assert unknown.kind == ("livekit." + "e" * 200)[:KIND_MAX]
    failed = parse("egress_ended", egress_info={"egressId": "EG_1", "error": "bad\x00 thing"})
    assert failed.recording.error == "bad thing"


@pytest.mark.parametrize(
    ("model", "field", "limit"),
    [
        (InboundEvent, "provider_event_id", EVENT_ID_MAX),
        (InboundEvent, "room_name", ROOM_NAME_MAX),
        (InboundEvent, "kind", KIND_MAX),
        (CallSession, "provider_session_id", SID_MAX),
        (ParticipantSession, "provider_participant_id", SID_MAX),
        (ParticipantSession, "identity", IDENTITY_MAX),
        (ParticipantSession, "display_name", DISPLAY_NAME_MAX),
        (ParticipantSession, "kind", len("connector")),
        (ParticipantSession, "disconnect_reason", len("UNKNOWN(-2147483648)")),
        (TrackPublication, "provider_track_id", SID_MAX),
        (TrackPublication, "kind", len("unknown(-2147483648)")),
        (TrackPublication, "source", len("unknown(-2147483648)")),
        (Recording, "provider_recording_id", RECORDING_ID_MAX),
        (Recording, "location", LOCATION_MAX),
    ],
)
def test_every_column_a_webhook_value_lands_in_is_as_wide_as_its_limit(model, field, limit):
    assert model._meta.get_field(field).max_length >= limit
