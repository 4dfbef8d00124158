"""Call telemetry (rooms/services/telemetry.py, POST /api/v1/join/{secret}/telemetry): what the
join page reports is kept per browser connection and summarised per participant in
GET /api/v1/sessions/{id} and the admin; bad input is a 4xx, and each link has its own limit."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from rooms.models import CallSession, ConnectionTelemetry, ParticipantSession
from tests.factories import InvitationFactory, RoomFactory

pytestmark = pytest.mark.django_db


def stats(rtt, loss, bitrate_in, candidate="srflx", at=None):
    return {
        "type": "stats",
        "at": (at or timezone.now()).isoformat(),
        "rtt_ms": rtt,
        "jitter_ms": 4.5,
        "packet_loss_pct": loss,
        "bitrate_in_kbps": bitrate_in,
        "bitrate_out_kbps": 300,
        "frames_decoded": 120,
        "quality_limitation": "bandwidth" if loss > 5 else "",
        "candidate_type": candidate,
    }


def event(kind, **fields):
    return {"type": kind, "at": timezone.now().isoformat(), **fields}


def report(client, link, events, connection_id=None, **extra):
    body = {"connection_id": str(connection_id or uuid.uuid4()), "provider": "livekit", "events": events}
    return client.post(f"/api/v1/join/{link.secret}/telemetry", body, format="json", **extra)


def test_batches_of_one_connection_fold_into_one_row(anon_client):
    link = InvitationFactory()
    connection = uuid.uuid4()
    first = report(anon_client, link, [event("joined", participant_sid="PA_1"), stats(40, 0, 900)], connection)
    assert first.status_code == 202 and first.json() == {"accepted": 2}
    report(anon_client, link, [event("reconnecting"), stats(90, 8, 200, candidate="relay")], connection)
    row = ConnectionTelemetry.objects.get()
    assert (row.identity, row.participant_sid, row.provider) == (link.identity, "PA_1", "livekit")
    assert row.reports == 2 and row.reconnects == 1 and len(row.samples) == 2
    assert row.relay_used is True and row.candidate_types == ["srflx", "relay"]


def test_the_session_shows_each_participants_quality_summary(app_client, anon_client):
    room = RoomFactory(application=app_client.application)
    link = InvitationFactory(room=room)
    now = timezone.now()
    session = CallSession.objects.create(
        room=room, provider_session_id="RM_1", started_at=now - timedelta(minutes=1), last_seen_at=now
    )
    ParticipantSession.objects.create(
        call_session=session, provider_participant_id="PA_1", identity=link.identity, joined_at=now
    )
    samples = [stats(40, 0, 900), stats(60, 1, 700), stats(300, 12, 100, candidate="relay")]
    report(anon_client, link, [event("joined", participant_sid="PA_1"), event("reconnecting"), *samples])
    body = app_client.get(f"/api/v1/sessions/{session.pk}").json()
    quality = body["participants"][0]["quality"]
    assert quality["rtt_ms"] == {"median": 60, "worst": 300}
    assert quality["packet_loss_pct"] == {"median": 1, "worst": 12}
    assert quality["bitrate_in_kbps"] == {"median": 700, "worst": 100}
    assert quality["reconnects"] == 1 and quality["relay_used"] is True
    assert quality["quality_limitations"] == ["bandwidth"]
    staff = get_user_model().objects.create_superuser("support", "s@example.org", "pw-long-enough-123")
    app_client.force_login(staff)
    page = app_client.get(f"/admin/rooms/callsession/{session.pk}/change/").content.decode()
    assert "RTT 60/300 ms" in page and "loss 1/12 %" in page and "relay yes" in page


def test_a_participant_whose_page_reported_nothing_has_no_quality(app_client):
    room = RoomFactory(application=app_client.application)
    now = timezone.now()
    session = CallSession.objects.create(room=room, provider_session_id="RM_2", started_at=now, last_seen_at=now)
    ParticipantSession.objects.create(
        call_session=session, provider_participant_id="PA_9", identity="p_x", joined_at=now
    )
    assert app_client.get(f"/api/v1/sessions/{session.pk}").json()["participants"][0]["quality"] is None


@pytest.mark.parametrize(
    "events",
    [
        [],
        [event("teleport")],
        [{**stats(40, 0, 900), "packet_loss_pct": 101}],
        [{**stats(40, 0, 900), "rtt_ms": "fast"}],
        [{**event("joined"), "secret": "x"}],
        [{"type": "stats"}],
        [event("ended")] * 51,
    ],
)
def test_bad_telemetry_is_a_400(anon_client, events):
    response = report(anon_client, InvitationFactory(), events)
    assert response.status_code == 400
    assert response.json()["error"]["code"] in ("invalid", "unknown_field")
    assert ConnectionTelemetry.objects.count() == 0


def test_an_oversized_body_is_a_413(anon_client, settings):
    settings.CONVENE_TELEMETRY_MAX_BYTES = 500
    response = report(anon_client, InvitationFactory(), [event("connection_state", state="connected")] * 10)
    assert response.status_code == 413 and response.json()["error"]["code"] == "payload_too_large"


def test_unknown_and_revoked_links_report_nothing(anon_client):
    unknown = anon_client.post("/api/v1/join/nope/telemetry", {"events": []}, format="json")
    assert unknown.status_code == 404
    revoked = report(anon_client, InvitationFactory(revoked_at=timezone.now()), [event("ended", reason="left")])
    assert revoked.status_code == 410
    assert ConnectionTelemetry.objects.count() == 0


def test_each_link_has_its_own_telemetry_limit_apart_from_joins(anon_client, settings):
    settings.CONVENE_TELEMETRY_RATE_LIMIT = "2/min"
    address = {"REMOTE_ADDR": "192.0.2.91"}
    chatty, other = InvitationFactory(), InvitationFactory()
    statuses = [report(anon_client, chatty, [event("reconnected")], **address).status_code for _ in range(3)]
    assert statuses == [202, 202, 429]
    assert report(anon_client, other, [event("reconnected")], **address).status_code == 202


def test_support_sees_the_connections_in_the_admin(client, anon_client):
    link = InvitationFactory()
    report(anon_client, link, [stats(40, 0, 900), stats(80, 2, 500)])
    staff = get_user_model().objects.create_superuser("support", "s@example.org", "pw-long-enough-123")
    client.force_login(staff)
    listing = client.get("/admin/rooms/connectiontelemetry/")
    assert listing.status_code == 200 and link.identity in listing.content.decode()
    row = ConnectionTelemetry.objects.get()
    detail = client.get(f"/admin/rooms/connectiontelemetry/{row.pk}/change/")
    assert detail.status_code == 200 and "rtt_ms" in detail.content.decode()
