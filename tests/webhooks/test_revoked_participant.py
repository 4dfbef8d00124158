"""Someone whose link was revoked who connects anyway is removed again."""

from __future__ import annotations

import pytest

from access.services import invitation_revoke
from config.celery import app
from tests.factories import InvitationFactory, RoomFactory
from tests.webhooks.conftest import participant_info, room_info


@pytest.fixture
def eager_tasks():
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


@pytest.mark.django_db
def test_a_revoked_link_holder_who_connects_is_removed_at_livekit(
    webhooks, fake_livekit, eager_tasks, django_capture_on_commit_callbacks
):
    room = RoomFactory()
    invitation_revoke(invitation=InvitationFactory(room=room, identity="pat"))
    fake_livekit.requests.clear()
    fake_livekit.add_participant(room.provider_room_name, "pat")
    with django_capture_on_commit_callbacks(execute=True):
        webhooks.send("participant_joined", room=room_info(room), participant=participant_info("PA_1", "pat"))
    removals = [c for c in fake_livekit.requests if c.method == "RemoveParticipant"]
    assert [c.request.identity for c in removals] == ["pat"]


@pytest.mark.django_db
def test_a_holder_of_an_active_link_is_left_alone(
    webhooks, fake_livekit, eager_tasks, django_capture_on_commit_callbacks
):
    room = RoomFactory()
    InvitationFactory(room=room, identity="pat")
    with django_capture_on_commit_callbacks(execute=True):
        webhooks.send("participant_joined", room=room_info(room), participant=participant_info("PA_1", "pat"))
    assert not [c for c in fake_livekit.requests if c.method == "RemoveParticipant"]
