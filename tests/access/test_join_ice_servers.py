"""ICE servers in join responses for LiveKit rooms: only when Convene has TURN configured, since
LiveKit hands out its own TURN servers otherwise."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from providers.ice import turn_credential
from tests.factories import InvitationFactory, RoomFactory

pytestmark = pytest.mark.django_db

TURN_SECRET = "Tq7Wx2Lk9Zr4Vb1Nc8Hm5Jd3Pf6Gs0Ya"


@pytest.fixture
def turn(settings):
    settings.TURN_URLS = ["stun:turn.example:3478", "turn:turn.example:3478", "turns:turn.example:443"]
    settings.TURN_SECRET, settings.TURN_TTL_SECONDS = TURN_SECRET, 7200
    return settings


def test_a_livekit_join_response_has_no_ice_servers_when_turn_is_not_configured(anon_client, settings):
    settings.TURN_URLS, settings.TURN_SECRET = ["stun:stun.example:3478"], ""
    invitation = InvitationFactory(role="guest", identity="pat")
    body = anon_client.post(f"/api/v1/join/{invitation.secret}").json()
    assert body["provider"] == "livekit"
    assert "ice_servers" not in body


def test_a_livekit_join_response_carries_stun_and_turn_credentials_for_its_identity(anon_client, turn):
    invitation = InvitationFactory(role="guest", identity="pat")
    before = datetime.now(UTC).timestamp()
    body = anon_client.post(f"/api/v1/join/{invitation.secret}").json()
    stun, relay = body["ice_servers"]
    assert stun == {"urls": ["stun:turn.example:3478"]}
    assert relay["urls"] == ["turn:turn.example:3478", "turns:turn.example:443"]
    expiry, identity = relay["username"].split(":", 1)
    assert identity == "pat"
    assert before + 7200 <= int(expiry) + 1 <= datetime.now(UTC).timestamp() + 7201
    assert relay["credential"] == turn_credential(username=relay["username"], secret=TURN_SECRET)


def test_a_token_for_an_apps_signed_in_user_carries_turn_credentials_too(app_client, turn):
    room = RoomFactory(application=app_client.application)
    person = {"identity": "dr-lee", "display_name": "Dr Lee", "role": "host"}
    response = app_client.post(f"/api/v1/rooms/{room.pk}/tokens", person, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["ice_servers"][1]["username"].endswith(":dr-lee")
