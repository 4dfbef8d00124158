"""A room chooses its provider on create ("provider": "janus"), else CONVENE_DEFAULT_PROVIDER;
an unknown or unconfigured provider is a 400 with a code, and no room is made."""

from __future__ import annotations

import pytest

from rooms.models import Room

pytestmark = pytest.mark.django_db


def test_a_room_without_a_provider_goes_to_the_default_one(app_client, settings):
    settings.CONVENE_DEFAULT_PROVIDER = "livekit"
    response = app_client.post("/api/v1/rooms", {}, format="json")
    assert response.status_code == 201 and response.json()["provider"] == "livekit"


def test_an_unknown_provider_is_a_400(app_client):
    response = app_client.post("/api/v1/rooms", {"provider": "zoom"}, format="json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid"
    assert not Room.objects.exists()


def test_a_provider_not_configured_here_is_a_400_naming_it(app_client, settings):
    settings.JANUS_URL = ""
    response = app_client.post("/api/v1/rooms", {"provider": "janus"}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "provider_not_configured"
    assert response.json()["error"]["details"]["provider"] == "janus"
    assert not Room.objects.exists()
