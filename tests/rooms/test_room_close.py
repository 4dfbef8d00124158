"""Closing rooms: by the API and by the window sweep, at the provider, surviving its outages."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from core.models import AuditEvent
from rooms.models import Room, RoomStatus
from rooms.services import rooms_sweep_windows
from tests.factories import InvitationFactory, RoomFactory

pytestmark = pytest.mark.django_db


def test_closing_a_room_deletes_it_at_livekit_and_refuses_further_joins(app_client, anon_client, fake_livekit):
    room = RoomFactory(application=app_client.application)
    invitation = InvitationFactory(room=room)
    fake_livekit.add_participant(room.provider_room_name, "someone")
    response = app_client.post(f"/api/v1/rooms/{room.pk}/close")
    assert response.status_code == 200
    assert response.json()["status"] == "closed"
    assert response.json()["provider_closed_at"] is not None
    assert [c.method for c in fake_livekit.requests] == ["DeleteRoom"]
    assert fake_livekit.requests[0].request.room == room.provider_room_name
    assert anon_client.post(f"/api/v1/join/{invitation.secret}").json()["error"]["code"] == "room_closed"
    assert AuditEvent.objects.filter(action="room.close", object_id=str(room.pk)).count() == 1


def test_closing_twice_is_harmless_and_audited_once(app_client, fake_livekit):
    room = RoomFactory(application=app_client.application)
    app_client.post(f"/api/v1/rooms/{room.pk}/close")
    second = app_client.post(f"/api/v1/rooms/{room.pk}/close")
    assert second.status_code == 200
    assert AuditEvent.objects.filter(action="room.close").count() == 1


def test_a_livekit_outage_leaves_the_room_closed_here_and_the_sweep_finishes_the_job(app_client, fake_livekit):
    room = RoomFactory(application=app_client.application)
    fake_livekit.fail_next("DeleteRoom", code="unavailable", status=503)
    response = app_client.post(f"/api/v1/rooms/{room.pk}/close")
    assert response.status_code == 200
    assert response.json()["status"] == "closed"
    assert response.json()["provider_closed_at"] is None
    result = rooms_sweep_windows()
    assert result["provider_closes_retried"] == 1
    room.refresh_from_db()
    assert room.provider_closed_at is not None


def test_the_sweep_closes_rooms_whose_window_and_grace_have_passed(fake_livekit, settings):
    settings.CONVENE_ROOM_CLOSE_GRACE_MINUTES = 15
    now = timezone.now()
    ended = RoomFactory(opens_at=now - timedelta(hours=2), closes_at=now - timedelta(minutes=16))
    in_grace = RoomFactory(opens_at=now - timedelta(hours=2), closes_at=now - timedelta(minutes=5))
    result = rooms_sweep_windows(now=now)
    assert result["closed"] == 1
    ended.refresh_from_db()
    in_grace.refresh_from_db()
    assert ended.status == RoomStatus.CLOSED and ended.close_reason == "window_ended"
    assert ended.provider_closed_at is not None
    assert in_grace.status == RoomStatus.OPEN
    assert rooms_sweep_windows(now=now)["closed"] == 0


def test_the_sweep_opens_scheduled_rooms_when_joining_becomes_allowed(settings):
    settings.CONVENE_JOIN_EARLY_MINUTES = 10
    now = timezone.now()
    due = RoomFactory(status=RoomStatus.SCHEDULED, opens_at=now + timedelta(minutes=9))
    later = RoomFactory(status=RoomStatus.SCHEDULED, opens_at=now + timedelta(minutes=30))
    assert rooms_sweep_windows(now=now)["opened"] == 1
    assert Room.objects.get(pk=due.pk).status == RoomStatus.OPEN
    assert Room.objects.get(pk=later.pk).status == RoomStatus.SCHEDULED
