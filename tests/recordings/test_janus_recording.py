"""Recording a Janus room goes through the same consent gate and then turns recording on in the
live VideoRoom (into a folder of its own, for post-processing), and off again on stop."""

from __future__ import annotations

import time

from django.conf import settings

from providers.janus import PLUGIN, sign_token
from recordings.models import ConsentNotice, Recording, RecordingStatus
from recordings.services.recording import recordings_reconcile
from rooms.models import ParticipantSession
from tests.fakes.janus_client import JanusClient
from tests.webhooks.conftest import process_events_until


def _recording_flag(janus, room_name: str) -> bool:
    client = JanusClient(janus.url, sign_token(settings.JANUS_TOKEN_SECRET, f"{int(time.time()) + 60},janus,{PLUGIN}"))
    client.connect()
    rooms = client.request({"request": "list", "admin_key": settings.JANUS_ADMIN_KEY})["list"]
    return next(r["record"] for r in rooms if str(r["room"]) == room_name)


def test_a_janus_recording_starts_only_with_consent_and_records_in_the_live_room(
    convene_server, janus, app_client, anon_client
):
    ConsentNotice.objects.create(application=app_client.application, version=1, text="We record this call.")
    people = [{"identity": "pat", "role": "guest", "display_name": "Pat"}]
    created = app_client.post(
        "/api/v1/rooms", {"provider": "janus", "recording_policy": "on_demand", "participants": people}, format="json"
    ).json()
    secret = created["participants"][0]["url"].rsplit("/", 1)[-1]
    joined = anon_client.post(f"/api/v1/join/{secret}").json()
    pat = JanusClient(joined["server_url"], joined["token"])
    pat.connect()
    pat.join(joined["room_name"], display="Pat")
    process_events_until(lambda: ParticipantSession.objects.filter(identity="pat").exists())

    refused = app_client.post(f"/api/v1/rooms/{created['id']}/recordings")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "consent_missing"
    assert _recording_flag(janus, joined["room_name"]) is False
    consent = anon_client.post(f"/api/v1/join/{secret}/consent", {"decision": "granted"}, format="json")
    assert consent.status_code == 201

    started = app_client.post(f"/api/v1/rooms/{created['id']}/recordings")
    assert started.status_code == 201, started.content
    recording = Recording.objects.get()
    assert recording.status == RecordingStatus.ACTIVE
    assert recording.provider_recording_id.startswith(joined["room_name"] + "-")
    assert _recording_flag(janus, joined["room_name"]) is True

    stopped = app_client.post(f"/api/v1/recordings/{recording.pk}/stop")
    assert stopped.status_code in (200, 202), stopped.content
    assert _recording_flag(janus, joined["room_name"]) is False
    # Janus reports no recording events: the reconciler reads the room's recording flag (ending:
    # waiting for the post-processing of its .mjr files, which completes it).
    recordings_reconcile(provider_name="janus")
    recording.refresh_from_db()
    assert recording.status == RecordingStatus.ENDING
