"""Extreme values, property-based: correctly signed LiveKit bodies with arbitrary values (strings of any
length and any code point, NUL and lone surrogates included; int64 limits and beyond; negative
times; enum values LiveKit may add; missing fields; wrong types) are answered 200 or 400, never
5xx; a 200 is a stored row that processing takes to a final state on its first attempt, a 400
stores nothing.

Each example runs in a savepoint that is rolled back (`Rollback`): the `db` fixture's
transaction spans all examples. Derandomized, so CI runs the same examples every time.
"""

from __future__ import annotations

import json
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recordings.models import Recording, RecordingStatus
from tests.factories import InvitationFactory, RoomFactory
from tests.webhooks.streams import Rollback
from webhooks.models import InboundEvent, InboundEventStatus
from webhooks.services import inbound_event_process

pytestmark = pytest.mark.django_db

PROPERTY = settings(
    max_examples=300,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)

OUR_ROOM = "<our room>"  # replaced by the example's room name, so that handlers run
NOW = int(time.time())
EVENTS = [
    "room_started",
    "room_finished",
    "participant_joined",
    "participant_left",
    "participant_connection_aborted",
    "track_published",
    "track_unpublished",
    "egress_started",
    "egress_updated",
    "egress_ended",
    "ingress_started",
]


def mostly(usual, unusual, *, odds: int = 4):
    """`usual` `odds` times for each `unusual` one: enough plausible bodies reach the handlers."""
    return st.integers(0, odds).flatmap(lambda pick: usual if pick else unusual)


any_char = st.characters(exclude_categories=())  # every code point, surrogates and NUL included
strings = st.one_of(
    st.sampled_from(["", "pat", "PA_1", "PA_2", "TR_1", "EG_1", "RM_1", OUR_ROOM]),
    st.text(any_char, max_size=12),
    st.builds(lambda c, n: c * n, st.sampled_from(["x", "é", "\x00", "\U0001f600"]), st.integers(40, 600)),
)
ints = st.one_of(
    st.sampled_from([0, -5, 1, 2**31 - 1, 2**63 - 1, -(2**63), 2**64, 10**11, -(10**11), 10**12]),
    st.integers(-(2**70), 2**70),
)
# int64 is a JSON string in proto3 JSON; numbers and exponent forms are accepted too.
int64s = mostly(
    st.integers(NOW - 10**6, NOW + 10**6).map(str),
    st.one_of(ints.map(str), ints, ints.map(lambda n: f"{n:.0e}")),
)
junk = st.one_of(st.none(), st.booleans(), st.lists(st.integers(), max_size=2), st.floats(allow_nan=False))


def enum(*names: str):
    return mostly(st.sampled_from(names), st.one_of(st.integers(-(2**31), 2**31 - 1), strings))


def message(required: dict | None = None, **optional):
    """A JSON object with the required fields and any subset of the optional ones, now and then
    not an object at all."""
    return mostly(st.fixed_dictionaries(required or {}, optional=optional), junk, odds=20)


room_names = mostly(st.just(OUR_ROOM), strings)
rooms = message(
    {"sid": mostly(st.sampled_from(["RM_1", "RM_2"]), strings), "name": room_names},
    creationTime=int64s,
    creationTimeMs=int64s,
    metadata=strings,
)
participants = message(
    {"sid": mostly(st.sampled_from(["PA_1", "PA_2"]), strings)},
    identity=mostly(st.sampled_from(["pat", "doc"]), strings),
    name=strings,
    kind=enum("STANDARD", "EGRESS", "AGENT", "SIP", "CONNECTOR", "BRIDGE"),
    disconnectReason=enum("CLIENT_INITIATED", "DUPLICATE_IDENTITY", "ROOM_DELETED"),
    joinedAt=int64s,
    joinedAtMs=int64s,
    attributes=st.one_of(
        st.dictionaries(strings, strings, max_size=3),
        st.fixed_dictionaries({"convene.role": st.sampled_from(["host", "guest"]) | strings}),
    ),
)
tracks = message(
    sid=mostly(st.sampled_from(["TR_1", "TR_2"]), strings),
    type=enum("AUDIO", "VIDEO", "DATA"),
    source=enum("CAMERA", "MICROPHONE", "SCREEN_SHARE"),
)
files = message(filename=strings, location=strings, duration=int64s, size=int64s)
egresses = message(
    egressId=mostly(st.sampled_from(["", "EG_1", "EG_2"]), strings),
    roomName=room_names,
    roomId=strings,
    status=enum("EGRESS_STARTING", "EGRESS_ACTIVE", "EGRESS_COMPLETE", "EGRESS_FAILED", "EGRESS_LIMIT_REACHED"),
    startedAt=int64s,
    endedAt=int64s,
    error=strings,
    fileResults=st.lists(files, max_size=2),
    file=files,
)
bodies = st.fixed_dictionaries(
    {"event": mostly(st.sampled_from(EVENTS), strings), "room": rooms},
    optional={
        "id": mostly(st.text("EV_abc", min_size=4, max_size=8), strings),
        "createdAt": int64s,
        "participant": participants,
        "track": tracks,
        "egressInfo": egresses,
    },
)


def _ours(value, room_name: str):
    if value == OUR_ROOM:
        return room_name
    if isinstance(value, dict):
        return {key: _ours(item, room_name) for key, item in value.items()}
    if isinstance(value, list):
        return [_ours(item, room_name) for item in value]
    return value


def _encode(body: dict, ascii_only: bool) -> bytes:
    # Escaped, or raw UTF-8 where a lone surrogate becomes bytes that are not UTF-8 at all.
    return json.dumps(body, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


def _example_room():
    room = RoomFactory()
    InvitationFactory(room=room, identity="pat", role="guest")
    Recording.objects.create(
        room=room,
        provider="livekit",
        status=RecordingStatus.STARTING,
        trigger="api",
        started_by="system:test",
        storage="file",
    )
    return room


@PROPERTY
@given(deliveries=st.lists(st.tuples(bodies, st.booleans()), min_size=1, max_size=3))
def test_any_signed_body_is_stored_and_processed_to_a_final_state_or_refused_with_400(webhooks, deliveries):
    with Rollback():
        room = _example_room()
        for body, ascii_only in deliveries:
            raw = _encode(_ours(body, room.provider_room_name), ascii_only)
            before = InboundEvent.objects.count()
            response = webhooks.post(raw)  # signed as LiveKit signs
            assert response.status_code in (200, 400), response.content
            if response.status_code == 400:
                assert response.json()["error"]["code"] == "bad_payload"
                assert InboundEvent.objects.count() == before, "a refused body left a row behind"
                continue
            if response.json()["stored"] == 0:  # a duplicate id of an earlier delivery
                continue
            row = InboundEvent.objects.latest("pk")
            assert bytes(row.body) == raw
            outcome = inbound_event_process(event_id=row.pk)
            row.refresh_from_db()
            assert (outcome, row.status) in {
                ("done", InboundEventStatus.DONE),
                ("ignored", InboundEventStatus.IGNORED),
            }, row.last_error
