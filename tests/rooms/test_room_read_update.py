"""GET /api/v1/rooms (filters, pagination), GET and PATCH /api/v1/rooms/{id}."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from rooms.models import RoomStatus
from tests.factories import RoomFactory

pytestmark = pytest.mark.django_db


def test_the_list_filters_by_status_and_external_id_and_paginates(app_client):
    for n in range(3):
        RoomFactory(application=app_client.application, external_id=f"e{n}")
    RoomFactory(application=app_client.application, external_id="closed", status=RoomStatus.CLOSED)
    body = app_client.get("/api/v1/rooms?limit=2").json()
    assert body["count"] == 4 and len(body["results"]) == 2 and body["next"]
    closed = app_client.get("/api/v1/rooms?status=closed").json()
    assert [r["external_id"] for r in closed["results"]] == ["closed"]
    one = app_client.get("/api/v1/rooms?external_id=e1").json()
    assert [r["external_id"] for r in one["results"]] == ["e1"]


def test_an_unknown_status_filter_is_a_400(app_client):
    response = app_client.get("/api/v1/rooms?status=exploded")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"


def test_patch_changes_title_and_window_and_recomputes_scheduled_status(app_client):
    room = RoomFactory(application=app_client.application)
    opens = timezone.now() + timedelta(days=1)
    response = app_client.patch(
        f"/api/v1/rooms/{room.pk}", {"title": "New", "opens_at": opens.isoformat()}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["title"] == "New"
    assert response.json()["status"] == "scheduled"


def test_patch_cannot_move_closes_at_before_the_stored_opens_at(app_client):
    opens = timezone.now() + timedelta(days=1)
    room = RoomFactory(application=app_client.application, opens_at=opens, closes_at=opens + timedelta(hours=1))
    response = app_client.patch(
        f"/api/v1/rooms/{room.pk}", {"closes_at": (opens - timedelta(hours=1)).isoformat()}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_window"
    room.refresh_from_db()
    assert room.closes_at == opens + timedelta(hours=1)


def test_patch_refuses_status_and_provider_fields(app_client):
    room = RoomFactory(application=app_client.application)
    response = app_client.patch(
        f"/api/v1/rooms/{room.pk}", {"status": "closed", "provider_room_name": "x"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "unknown_field"
    room.refresh_from_db()
    assert room.status == RoomStatus.OPEN
