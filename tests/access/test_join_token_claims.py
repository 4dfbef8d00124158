"""What is inside a join token, checked by LiveKit's own verifiers (Python SDK and Node SDK).

Least privilege: HS256 only, exp and nbf present, identity and room bound, exactly the role's rights (no
roomAdmin / roomRecord / roomCreate for anyone), short-lived.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import jwt
import pytest
from livekit import api

from tests.factories import InvitationFactory, RoomFactory

NODE_DIR = Path(__file__).resolve().parents[1] / "node"
SERVER_RIGHTS = ("roomAdmin", "roomRecord", "roomCreate", "roomList", "ingressAdmin", "agent")


def redeem(client, role: str, **room_fields) -> dict:
    invitation = InvitationFactory(role=role, identity=f"{role}-1", room=RoomFactory(**room_fields))
    response = client.post(f"/api/v1/join/{invitation.secret}")
    assert response.status_code == 200, response.content
    return response.json()


def raw_claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["host", "guest", "observer"])
def test_no_role_carries_server_rights(anon_client, role):
    video = raw_claims(redeem(anon_client, role)["token"])["video"]
    assert not [right for right in SERVER_RIGHTS if video.get(right)]
    assert video["roomJoin"] is True


@pytest.mark.django_db
def test_a_guest_may_publish_camera_microphone_and_screen_and_subscribe(anon_client, settings):
    body = redeem(anon_client, "guest")
    claims = api.TokenVerifier(settings.LIVEKIT_API_KEY, settings.LIVEKIT_API_SECRET).verify(body["token"])
    assert claims.video.can_publish is True
    assert claims.video.can_subscribe is True
    assert claims.video.can_publish_data is True
    assert set(claims.video.can_publish_sources) == {"camera", "microphone", "screen_share", "screen_share_audio"}
    assert not claims.video.hidden
    assert not claims.video.can_update_own_metadata


@pytest.mark.django_db
def test_an_observer_is_hidden_and_may_only_subscribe(anon_client, settings):
    body = redeem(anon_client, "observer")
    claims = api.TokenVerifier(settings.LIVEKIT_API_KEY, settings.LIVEKIT_API_SECRET).verify(body["token"])
    assert claims.video.hidden is True
    assert claims.video.can_subscribe is True
    assert claims.video.can_publish is False
    assert claims.video.can_publish_data is False
    assert not claims.video.can_publish_sources


@pytest.mark.django_db
def test_the_token_binds_identity_room_and_room_configuration(anon_client, settings):
    settings.CONVENE_ROOM_EMPTY_TIMEOUT_SECONDS = 120
    settings.CONVENE_ROOM_DEPARTURE_TIMEOUT_SECONDS = 30
    body = redeem(anon_client, "host", max_participants=2)
    claims = raw_claims(body["token"])
    assert claims["sub"] == "host-1"
    assert claims["video"]["room"] == body["room_name"]
    assert claims["iss"] == settings.LIVEKIT_API_KEY
    assert claims["attributes"]["convene.role"] == "host"
    config = claims["roomConfig"]
    assert config["emptyTimeout"] == 120
    assert config["departureTimeout"] == 30
    assert config["maxParticipants"] == 2
    assert json.loads(config["metadata"]) == {"convene_room_id": body["room_id"]}


@pytest.mark.django_db
def test_the_token_is_hs256_with_nbf_and_an_exp_ttl_minutes_away(anon_client, settings):
    settings.CONVENE_TOKEN_TTL_SECONDS = 300
    body = redeem(anon_client, "guest")
    assert jwt.get_unverified_header(body["token"])["alg"] == "HS256"
    claims = raw_claims(body["token"])
    assert claims["exp"] - claims["nbf"] == 300
    expires_at = datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
    assert expires_at == datetime.fromtimestamp(claims["exp"], UTC)


@pytest.mark.django_db
def test_a_token_signed_with_another_secret_does_not_verify(anon_client, settings):
    body = redeem(anon_client, "guest")
    with pytest.raises(jwt.InvalidSignatureError):
        api.TokenVerifier(settings.LIVEKIT_API_KEY, "x" * 40).verify(body["token"])


def node_verify(settings, token: str) -> subprocess.CompletedProcess:
    node = shutil.which("node")
    assert node, "node is required (make test installs LiveKit's Node SDK)"
    assert (NODE_DIR / "node_modules" / "livekit-server-sdk").is_dir(), "run make test to install the Node SDK"
    return subprocess.run(
        [node, str(NODE_DIR / "verify_token.mjs"), settings.LIVEKIT_API_KEY, settings.LIVEKIT_API_SECRET, token],
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.mark.node
@pytest.mark.django_db
@pytest.mark.parametrize("role", ["host", "guest", "observer"])
def test_livekits_node_sdk_verifies_the_token_with_the_role_grants(anon_client, settings, role):
    body = redeem(anon_client, role)
    result = node_verify(settings, body["token"])
    assert result.returncode == 0, result.stderr
    claims = json.loads(result.stdout)
    assert claims["sub"] == f"{role}-1"
    assert claims["video"]["room"] == body["room_name"]
    assert claims["video"]["roomJoin"] is True
    assert claims["video"]["canSubscribe"] is True
    assert claims["video"]["canPublish"] is (role != "observer")
    assert claims["video"].get("hidden", False) is (role == "observer")
    assert claims["exp"] - claims["nbf"] == settings.CONVENE_TOKEN_TTL_SECONDS


@pytest.mark.node
@pytest.mark.django_db
def test_livekits_node_sdk_rejects_a_tampered_token(anon_client, settings):
    token = redeem(anon_client, "guest")["token"]
    header, _payload, signature = token.split(".")
    claims = raw_claims(token)
    claims["video"]["roomAdmin"] = True
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    result = node_verify(settings, f"{header}.{forged}.{signature}")
    assert result.returncode == 1
