"""POST /api/v1/rooms: creation, idempotency on external_id, inline join links, windows."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from access.models import Invitation, hash_link_secret
from core.models import AuditEvent
from rooms.models import Room, RoomStatus


def create(client, **body):
    return client.post("/api/v1/rooms", body, format="json")


def test_a_first_create_is_201_with_an_opaque_provider_room_name(app_client):
    response = create(app_client, external_id="appt-1", title="Consult", max_participants=2)
    assert response.status_code == 201, response.content
    body = response.json()
    room = Room.objects.get(pk=body["id"])
    assert room.application == app_client.application
    assert body["provider"] == "livekit"
    assert body["status"] == "open"
    assert body["provider_room_name"].startswith("cv_") and "appt-1" not in body["provider_room_name"]
    assert AuditEvent.objects.filter(action="room.create", object_id=str(room.pk)).count() == 1


def test_second_create_with_same_external_id_returns_the_same_room(app_client):
    first = create(app_client, external_id="appt-1", participants=[{"display_name": "Dr", "role": "host"}])
    second = create(app_client, external_id="appt-1", participants=[{"display_name": "Dr", "role": "host"}])
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    assert second.json()["participants"] == []
    assert Room.objects.count() == 1
    assert Invitation.objects.count() == 1


def test_the_same_external_id_in_another_application_is_another_room(app_client, other_client):
    assert create(app_client, external_id="appt-1").status_code == 201
    assert create(other_client, external_id="appt-1").status_code == 201
    assert Room.objects.count() == 2


def test_rooms_without_external_id_are_never_merged(app_client):
    create(app_client, title="a")
    create(app_client, title="b")
    assert Room.objects.count() == 2


def test_participants_get_join_links_whose_secret_is_only_stored_hashed(app_client, settings):
    settings.CONVENE_PUBLIC_URL = "https://convene.example"
    response = create(
        app_client,
        participants=[
            {"display_name": "Dr Who", "role": "host", "identity": "clinician-7"},
            {"display_name": "Pat", "role": "guest"},
        ],
    )
    links = response.json()["participants"]
    assert [link["role"] for link in links] == ["host", "guest"]
    assert links[0]["identity"] == "clinician-7"
    assert links[1]["identity"].startswith("p_")
    for link in links:
        assert link["url"].startswith("https://convene.example/join/")
        secret = link["url"].rsplit("/", 1)[1]
        assert len(secret) >= 43  # 32 random bytes, base64url
        invitation = Invitation.objects.get(pk=link["id"])
        assert invitation.secret_hash == hash_link_secret(secret)
        assert secret not in str(Invitation.objects.filter(pk=link["id"]).values().first())


def test_a_room_whose_window_opens_later_is_scheduled(app_client):
    opens = timezone.now() + timedelta(hours=2)
    response = create(app_client, opens_at=opens.isoformat(), closes_at=(opens + timedelta(hours=1)).isoformat())
    assert response.json()["status"] == RoomStatus.SCHEDULED


def test_a_window_that_closes_before_it_opens_is_refused(app_client):
    opens = timezone.now() + timedelta(hours=2)
    response = create(app_client, opens_at=opens.isoformat(), closes_at=(opens - timedelta(minutes=1)).isoformat())
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_window"
    assert Room.objects.count() == 0


def test_a_link_with_an_unknown_role_creates_nothing(app_client):
    response = create(app_client, external_id="x", participants=[{"display_name": "A", "role": "admin"}])
    assert response.status_code == 400
    assert Room.objects.count() == 0


def test_two_participants_with_one_identity_are_refused(app_client):
    response = create(
        app_client,
        participants=[
            {"display_name": "A", "role": "host", "identity": "same"},
            {"display_name": "B", "role": "guest", "identity": "same"},
        ],
    )
    assert response.status_code == 400
    assert Room.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_concurrent_creates_with_one_external_id_make_one_room(app_client):
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    def attempt(_):
        try:
            return create(app_client, external_id="race").status_code
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=5) as pool:
        codes = sorted(pool.map(attempt, range(5)))
    assert codes.count(201) == 1 and codes.count(200) == 4
    assert Room.objects.filter(external_id="race").count() == 1
