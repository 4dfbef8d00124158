"""The consent gate in one pass: refused until everyone present consented, then started at the provider."""

from __future__ import annotations

import pytest

from recordings.models import ConsentNotice, Recording, RecordingStatus
from rooms.models import RecordingPolicy
from tests.factories import InvitationFactory, RoomFactory
from tests.webhooks.conftest import participant_info, room_info

pytestmark = pytest.mark.django_db


def test_recording_waits_for_every_present_person_then_starts(app_client, anon_client, webhooks, fake_livekit):
    ConsentNotice.objects.create(application=app_client.application, version=1, text="We record this call.")
    room = RoomFactory(application=app_client.application, recording_policy=RecordingPolicy.ON_DEMAND)
    doc = InvitationFactory(room=room, identity="doc", role="host")
    pat = InvitationFactory(room=room, identity="pat", role="guest")
    fake_livekit.add_participant(room.provider_room_name, "doc")
    for sid, identity in (("PA_doc", "doc"), ("PA_pat", "pat")):
        webhooks.send("participant_joined", room=room_info(room), participant=participant_info(sid, identity))
    refused = app_client.post(f"/api/v1/rooms/{room.pk}/recordings")
    assert refused.status_code == 409
    assert refused.json()["error"] == {
        **refused.json()["error"],
        "code": "consent_missing",
        "details": {"missing": ["doc", "pat"]},
    }
    assert not [c for c in fake_livekit.requests if c.method == "StartRoomCompositeEgress"]
    join = anon_client.post(f"/api/v1/join/{pat.secret}").json()
    assert join["consent"]["required"] is True and join["consent"]["notice_version"] == 1
    assert (
        anon_client.post(f"/api/v1/join/{pat.secret}/consent", {"decision": "granted"}, format="json").status_code
        == 201
    )
    still = app_client.post(f"/api/v1/rooms/{room.pk}/recordings")
    assert still.json()["error"]["details"] == {"missing": ["doc"]}
    granted = app_client.post(
        f"/api/v1/rooms/{room.pk}/consents", {"identity": doc.identity, "decision": "granted"}, format="json"
    )
    assert granted.status_code == 201, granted.content
    started = app_client.post(f"/api/v1/rooms/{room.pk}/recordings")
    assert started.status_code == 201, started.content
    recording = Recording.objects.get()
    assert recording.status == RecordingStatus.STARTING and recording.provider_recording_id.startswith("EG_")
    assert [c.request.room_name for c in fake_livekit.requests if c.method == "StartRoomCompositeEgress"] == [
        room.provider_room_name
    ]
    again = app_client.post(f"/api/v1/rooms/{room.pk}/recordings")
    assert again.status_code == 409 and again.json()["error"]["code"] == "recording_active"
