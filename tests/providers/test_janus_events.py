"""Janus's event handler bodies -> neutral events: stable ids, identities and roles from the signed
token, one track per published stream, and nothing invented for events Convene cannot place."""

from __future__ import annotations

import json

import pytest

from providers.base import BadPayload, EventKind
from providers.janus_events import parse_events, participant_from_token, participant_tag

ROOM = 4242


def _plugin_event(data: dict, **fields) -> dict:
    event = {"emitter": "j", "type": 64, "timestamp": 1796026705154478, "session_id": 1, "handle_id": 2}
    return {**event, **fields, "event": {"plugin": "janus.plugin.videoroom", "data": {"room": ROOM, **data}}}


def _parse(*items) -> list:
    return parse_events(json.dumps(list(items)).encode())


def test_a_joined_event_names_the_identity_and_role_the_token_was_minted_for():
    token = f"1796026765,janus,janus.plugin.videoroom,{participant_tag('dr.rivera@clinic', 'host')}:c2ln"
    [event] = _parse(_plugin_event({"event": "joined", "id": 77, "display": "Dr Rivera", "token": token}))
    assert event.kind == EventKind.PARTICIPANT_JOINED and event.room_name == event.room_sid == str(ROOM)
    assert (event.participant.sid, event.participant.identity) == ("77", "dr.rivera@clinic")
    assert event.participant.attributes == {"convene.role": "host"} and event.participant.display_name == "Dr Rivera"
    assert event.occurred_at.timestamp() == pytest.approx(1796026705.154478)


def test_a_token_convene_did_not_mint_names_nobody():
    assert participant_from_token("1796026765,janus,janus.plugin.videoroom:c2ln") == ("", "")
    assert participant_from_token("1796026765,janus,janus.plugin.videoroom,cv.not-base64!:c2ln") == ("", "")


def test_a_published_event_is_one_track_per_audio_or_video_stream_that_is_not_disabled():
    streams = [
        {"type": "audio", "mindex": 0, "mid": "0", "codec": "opus"},
        {"type": "video", "mindex": 1, "mid": "1", "codec": "vp8"},
        {"type": "video", "mindex": 2, "mid": "2", "disabled": True},
        {"type": "data", "mindex": 3, "mid": "3"},
    ]
    events = _parse(_plugin_event({"event": "published", "id": 77, "streams": streams}))
    assert [e.kind for e in events] == [EventKind.TRACK_PUBLISHED] * 2
    assert [(e.track.sid, e.track.kind, e.track.source) for e in events] == [
        ("77:0", "audio", "microphone"),
        ("77:1", "video", "camera"),
    ]
    assert len({e.provider_event_id for e in events}) == 2


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        ({"event": "leaving", "id": 77}, EventKind.PARTICIPANT_LEFT),
        ({"event": "kicked", "id": 77}, EventKind.PARTICIPANT_LEFT),
        ({"event": "destroyed"}, EventKind.ROOM_FINISHED),
        ({"event": "unpublished", "id": 77}, "janus.videoroom.unpublished"),
        ({"event": "created"}, "janus.videoroom.created"),
    ],
)
def test_videoroom_events_map_to_neutral_kinds(data, kind):
    [event] = _parse(_plugin_event(data))
    assert event.kind == kind


def test_events_without_a_room_are_kept_under_janus_names():
    [event] = _parse({"type": 1, "timestamp": 1, "session_id": 5, "event": {"name": "created"}})
    assert event.kind == "janus.1" and event.room_name == "" and event.participant is None


def test_the_same_event_twice_has_the_same_id_and_a_different_event_another():
    joined = _plugin_event({"event": "joined", "id": 77})
    first, second, other = _parse(joined, dict(reversed(list(joined.items()))), {**joined, "timestamp": 2})
    assert first.provider_event_id == second.provider_event_id != other.provider_event_id


def test_each_event_keeps_its_own_bytes_which_parse_back_to_it():
    events = _parse(_plugin_event({"event": "joined", "id": 1}), _plugin_event({"event": "leaving", "id": 2}))
    for event in events:
        assert [e.provider_event_id for e in parse_events(event.raw)] == [event.provider_event_id]


@pytest.mark.parametrize("body", [b"", b"not json", b"[]", b"[1, 2]", b'"text"', json.dumps([{}] * 1001).encode()])
def test_a_body_that_is_not_janus_events_is_a_bad_payload(body):
    with pytest.raises(BadPayload):
        parse_events(body)
