"""GET /api/v1/sessions, /sessions/{id} and /rooms/{id}/attendance, built from signed events."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import InvitationFactory, RoomFactory
from tests.webhooks.conftest import participant_info, room_info

pytestmark = pytest.mark.django_db


def _call(webhooks, room, start: int, *, sid="RM_s1"):
    webhooks.send("room_started", room=room_info(room, sid=sid, creation_time=start), at=start)
    webhooks.send(
        "participant_joined",
        room=room_info(room, sid=sid),
        participant=participant_info("PA_doc", "doc", name="Dr", joined_at=start + 10),
        at=start + 10,
    )
    webhooks.send(
        "track_published",
        room=room_info(room, sid=sid),
        participant={"sid": "PA_doc", "identity": "doc"},
        track={"sid": "TR_mic", "type": "AUDIO", "source": "MICROPHONE"},
        at=start + 11,
    )
    webhooks.send(
        "participant_joined",
        room=room_info(room, sid=sid),
        participant=participant_info("PA_pat1", "pat", joined_at=start + 20),
        at=start + 20,
    )
    webhooks.send(
        "participant_left",
        room=room_info(room, sid=sid),
        participant=participant_info("PA_pat1", "pat", joined_at=start + 20, reason="DUPLICATE_IDENTITY"),
        at=start + 80,
    )
    webhooks.send(
        "participant_joined",
        room=room_info(room, sid=sid),
        participant=participant_info("PA_pat2", "pat", joined_at=start + 79),
        at=start + 79,
    )
    webhooks.send(
        "participant_joined",
        room=room_info(room, sid=sid),
        participant=participant_info("EG_rec", "recorder", kind="EGRESS", joined_at=start + 30),
        at=start + 30,
    )
    webhooks.send("room_finished", room=room_info(room, sid=sid), at=start + 200)


def test_sessions_list_and_detail_show_participants_with_durations_and_tracks(webhooks, app_client):
    room = RoomFactory(application=app_client.application)
    InvitationFactory(room=room, identity="doc", role="host")
    start = int(timezone.now().timestamp()) - 3600
    _call(webhooks, room, start)
    listed = app_client.get(f"/api/v1/sessions?room={room.pk}").json()
    assert listed["count"] == 1
    summary = listed["results"][0]
    assert summary["duration_seconds"] == 200 and summary["participant_count"] == 4
    detail = app_client.get(f"/api/v1/sessions/{summary['id']}").json()
    by_sid = {p["sid"]: p for p in detail["participants"]}
    assert by_sid["PA_doc"]["role"] == "host" and by_sid["PA_doc"]["duration_seconds"] == 190
    assert by_sid["PA_doc"]["tracks"] == [
        {
            "sid": "TR_mic",
            "kind": "audio",
            "source": "microphone",
            "published_at": by_sid["PA_doc"]["tracks"][0]["published_at"],
            "unpublished_at": None,
        }
    ]
    assert by_sid["PA_pat1"]["disconnect_reason"] == "DUPLICATE_IDENTITY"
    assert by_sid["EG_rec"]["kind"] == "egress"


def test_sessions_filter_by_start_time(webhooks, app_client):
    room = RoomFactory(application=app_client.application)
    start = int(timezone.now().timestamp()) - 3600
    _call(webhooks, room, start)
    after = (timezone.now() - timedelta(minutes=30)).isoformat()
    assert app_client.get("/api/v1/sessions", {"started_after": after}).json()["count"] == 0
    assert app_client.get("/api/v1/sessions", {"started_before": after}).json()["count"] == 1


def test_attendance_counts_a_reconnect_once_and_flags_no_shows(webhooks, app_client, settings):
    settings.CONVENE_NO_SHOW_GRACE_MINUTES = 15
    room = RoomFactory(
        application=app_client.application,
        opens_at=timezone.now() - timedelta(hours=2),
        closes_at=timezone.now() + timedelta(hours=1),
    )
    InvitationFactory(room=room, identity="doc", role="host")
    InvitationFactory(room=room, identity="pat", role="guest")
    InvitationFactory(room=room, identity="interpreter", role="guest")
    start = int(timezone.now().timestamp()) - 3600
    _call(webhooks, room, start)
    rows = {r["identity"]: r for r in app_client.get(f"/api/v1/rooms/{room.pk}/attendance").json()["results"]}
    assert rows["doc"]["joined"] and rows["doc"]["total_seconds"] == 190 and not rows["doc"]["no_show"]
    assert rows["pat"]["connections"] == 2
    assert rows["pat"]["total_seconds"] == 180  # 20..80 and 79..200 overlap by a second: counted once
    assert rows["interpreter"] == {**rows["interpreter"], "joined": False, "no_show": True, "total_seconds": 0}
    assert "recorder" not in rows


def test_no_show_is_not_flagged_before_the_grace_has_passed(app_client, settings):
    settings.CONVENE_NO_SHOW_GRACE_MINUTES = 15
    room = RoomFactory(application=app_client.application, opens_at=timezone.now() - timedelta(minutes=5))
    InvitationFactory(room=room, identity="pat")
    rows = app_client.get(f"/api/v1/rooms/{room.pk}/attendance").json()["results"]
    assert rows[0]["no_show"] is False and rows[0]["joined"] is False


def test_another_applications_sessions_are_invisible(webhooks, app_client, other_client):
    room = RoomFactory(application=app_client.application)
    _call(webhooks, room, int(timezone.now().timestamp()) - 3600)
    session_id = app_client.get("/api/v1/sessions").json()["results"][0]["id"]
    assert other_client.get("/api/v1/sessions").json()["count"] == 0
    assert other_client.get(f"/api/v1/sessions?room={room.pk}").json()["count"] == 0
    assert other_client.get(f"/api/v1/sessions/{session_id}").status_code == 404
    assert other_client.get(f"/api/v1/rooms/{room.pk}/attendance").status_code == 404
