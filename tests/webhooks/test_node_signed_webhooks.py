"""Webhooks signed by LiveKit's own Node SDK are accepted; a tampered one is not."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from rooms.models import ParticipantSession
from tests.factories import RoomFactory
from tests.webhooks.conftest import event_body, participant_info, process_pending, room_info
from webhooks.models import InboundEvent

NODE_DIR = Path(__file__).resolve().parents[1] / "node"


def node_sign(body: bytes, key: str, secret: str) -> str:
    node = shutil.which("node")
    assert node and (NODE_DIR / "node_modules" / "livekit-server-sdk").is_dir(), "make test installs the Node SDK"
    result = subprocess.run(
        [node, str(NODE_DIR / "sign_webhook.mjs"), key, secret], input=body, capture_output=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.decode()


@pytest.mark.node
@pytest.mark.django_db
def test_a_webhook_signed_by_livekits_node_sdk_is_stored_and_processed(webhooks, settings):
    room = RoomFactory()
    body = event_body("participant_joined", room=room_info(room), participant=participant_info("PA_1", "pat"))
    response = webhooks.post(body, authorization=node_sign(body, settings.LIVEKIT_API_KEY, settings.LIVEKIT_API_SECRET))
    assert response.status_code == 200, response.content
    process_pending()
    assert ParticipantSession.objects.get().identity == "pat"


@pytest.mark.node
@pytest.mark.django_db
def test_a_node_signed_webhook_with_another_body_is_refused(webhooks, settings):
    body = event_body("room_started", room={"sid": "RM_1", "name": "x"})
    token = node_sign(body, settings.LIVEKIT_API_KEY, settings.LIVEKIT_API_SECRET)
    other = event_body("room_finished", room={"sid": "RM_1", "name": "x"})
    assert webhooks.post(other, authorization=token).status_code == 401
    assert not InboundEvent.objects.exists()
