"""Removing a participant (POST /rooms/{id}/participants/{identity}/remove) and keeping them out:
a barred identity gets no token and is removed again when it connects; removals the media server
did not confirm are retried until they succeed or the room closes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from access.models import ParticipantRemoval
from access.services import participant_removal_retry
from access.tasks import sweep_participant_removals
from config.celery import app
from core.models import AuditEvent
from rooms.models import Room, RoomStatus
from tests.factories import InvitationFactory, RoomFactory
from tests.webhooks.conftest import participant_info, room_info

pytestmark = pytest.mark.django_db


@pytest.fixture
def eager_tasks():
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


def remove(client, room, identity: str):
    return client.post(f"/api/v1/rooms/{room.pk}/participants/{identity}/remove")


def issue_token(client, room, identity: str, **extra):
    body = {"identity": identity, "display_name": "Dana", "role": "guest", **extra}
    return client.post(f"/api/v1/rooms/{room.pk}/tokens", body, format="json")


def removals_at_livekit(fake_livekit) -> list[str]:
    return [c.request.identity for c in fake_livekit.requests if c.method == "RemoveParticipant"]


def test_an_app_token_user_is_removed_and_gets_no_new_token(app_client, fake_livekit):
    room = RoomFactory(application=app_client.application)
    assert issue_token(app_client, room, "dana").status_code == 200
    fake_livekit.add_participant(room.provider_room_name, "dana")
    response = remove(app_client, room, "dana")
    assert response.status_code == 200, response.content
    assert response.json() == {"removed": True}
    assert removals_at_livekit(fake_livekit) == ["dana"]
    assert fake_livekit.participants.get(room.provider_room_name, {}).get("dana") is None
    refused = issue_token(app_client, room, "dana")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "participant_removed"
    audit = AuditEvent.objects.get(action="participant.remove")
    assert audit.details == {"identity": "dana", "reason": "removed"}
    assert audit.actor_id == str(app_client.application.pk)


def test_a_removed_participants_link_is_refused(app_client, anon_client, fake_livekit):
    invitation = InvitationFactory(room=RoomFactory(application=app_client.application), identity="pat")
    assert remove(app_client, invitation.room, "pat").json() == {"removed": True}
    response = anon_client.post(f"/api/v1/join/{invitation.secret}")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "participant_removed"
    invitation.refresh_from_db()
    assert invitation.revoked_at is not None and invitation.uses == 0


def test_removing_from_another_applications_room_is_not_found(app_client, other_client, fake_livekit):
    room = RoomFactory(application=other_client.application)
    assert remove(app_client, room, "dana").status_code == 404
    assert not ParticipantRemoval.objects.exists()
    assert removals_at_livekit(fake_livekit) == []


def test_a_malformed_identity_is_a_400(app_client, fake_livekit):
    room = RoomFactory(application=app_client.application)
    response = remove(app_client, room, "not%20an%20identity")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert not ParticipantRemoval.objects.exists()


def test_an_unreachable_media_server_answers_false_and_the_removal_is_retried_until_it_succeeds(
    app_client, fake_livekit, eager_tasks
):
    room = RoomFactory(application=app_client.application)
    fake_livekit.add_participant(room.provider_room_name, "dana")
    fake_livekit.fail_next("RemoveParticipant", times=8)
    assert remove(app_client, room, "dana").json() == {"removed": False}
    removal = ParticipantRemoval.objects.get(room=room, identity="dana")
    assert removal.done_at is None and removal.attempts == 1 and removal.next_attempt_at > timezone.now()
    for _ in range(7):  # more tries than the old task's five retries: the row, not a counter, decides
        assert participant_removal_retry(removal_id=str(removal.pk)) is False
    assert participant_removal_retry(removal_id=str(removal.pk)) is True
    removal.refresh_from_db()
    assert removal.done_at is not None and removal.attempts == 9 and removal.last_error == ""
    assert fake_livekit.participants.get(room.provider_room_name, {}).get("dana") is None
    assert participant_removal_retry(removal_id=str(removal.pk)) is None  # nothing left to do


def test_the_sweep_retries_a_due_removal_after_the_worker_lost_it(app_client, fake_livekit, eager_tasks):
    room = RoomFactory(application=app_client.application)
    fake_livekit.add_participant(room.provider_room_name, "dana")
    fake_livekit.fail_next("RemoveParticipant")
    assert remove(app_client, room, "dana").json() == {"removed": False}
    assert sweep_participant_removals() == 0  # not due yet: its backoff has not passed
    ParticipantRemoval.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert sweep_participant_removals() == 1
    assert ParticipantRemoval.objects.get().done_at is not None
    assert removals_at_livekit(fake_livekit) == ["dana", "dana"]
    assert sweep_participant_removals() == 0


def test_a_pending_removal_stops_when_the_room_closes(app_client, fake_livekit, eager_tasks):
    room = RoomFactory(application=app_client.application)
    fake_livekit.fail_next("RemoveParticipant")
    assert remove(app_client, room, "dana").json() == {"removed": False}
    Room.objects.filter(pk=room.pk).update(status=RoomStatus.CLOSED, closed_at=timezone.now())
    ParticipantRemoval.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert sweep_participant_removals() == 0
    removal = ParticipantRemoval.objects.get()
    assert removal.done_at is not None and "room closed" in removal.last_error
    assert removals_at_livekit(fake_livekit) == ["dana"]


def test_a_removed_participant_who_rejoins_with_an_older_token_is_removed_again(
    app_client, fake_livekit, webhooks, eager_tasks, django_capture_on_commit_callbacks
):
    room = RoomFactory(application=app_client.application)
    assert issue_token(app_client, room, "dana").status_code == 200  # minted before the removal
    remove(app_client, room, "dana")
    fake_livekit.add_participant(room.provider_room_name, "dana")  # connects with that token
    with django_capture_on_commit_callbacks(execute=True):
        webhooks.send("participant_joined", room=room_info(room), participant=participant_info("PA_1", "dana"))
    assert removals_at_livekit(fake_livekit) == ["dana", "dana"]
    assert fake_livekit.participants.get(room.provider_room_name, {}).get("dana") is None
    rejoin = AuditEvent.objects.filter(action="participant.remove").latest("created_at")
    assert rejoin.actor_type == "system" and rejoin.details["trigger"] == "rejoined"


def test_someone_who_connects_to_a_closed_room_is_disconnected_by_closing_it_again(
    app_client, fake_livekit, webhooks, eager_tasks, django_capture_on_commit_callbacks
):
    now = timezone.now()
    room = RoomFactory(
        application=app_client.application, status=RoomStatus.CLOSED, closed_at=now, provider_closed_at=now
    )
    fake_livekit.add_participant(room.provider_room_name, "dana")  # the provider recreated the room
    with django_capture_on_commit_callbacks(execute=True):
        webhooks.send("participant_joined", room=room_info(room), participant=participant_info("PA_1", "dana"))
    assert [c.request.room for c in fake_livekit.requests if c.method == "DeleteRoom"] == [room.provider_room_name]
    assert room.provider_room_name not in fake_livekit.rooms
    room.refresh_from_db()
    assert room.provider_closed_at is not None and room.provider_closed_at > now


def test_a_participant_still_allowed_in_is_left_alone(
    app_client, fake_livekit, webhooks, eager_tasks, django_capture_on_commit_callbacks
):
    room = RoomFactory(application=app_client.application)
    issue_token(app_client, room, "dana")
    with django_capture_on_commit_callbacks(execute=True):
        webhooks.send("participant_joined", room=room_info(room), participant=participant_info("PA_1", "dana"))
    assert removals_at_livekit(fake_livekit) == []
    assert not any(c.method == "DeleteRoom" for c in fake_livekit.requests)


def test_inviting_a_removed_identity_again_needs_an_explicit_readmit(app_client, anon_client, fake_livekit):
    room = RoomFactory(application=app_client.application)
    remove(app_client, room, "dana")
    body = {"display_name": "Dana", "role": "guest", "identity": "dana"}
    refused = app_client.post(f"/api/v1/rooms/{room.pk}/invitations", body, format="json")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "readmit_required"
    assert issue_token(app_client, room, "dana").status_code == 403
    readmitted = app_client.post(f"/api/v1/rooms/{room.pk}/invitations", {**body, "readmit": True}, format="json")
    assert readmitted.status_code == 201, readmitted.content
    secret = readmitted.json()["url"].rsplit("/", 1)[1]
    assert anon_client.post(f"/api/v1/join/{secret}").status_code == 200
    assert issue_token(app_client, room, "dana").status_code == 200
    assert AuditEvent.objects.filter(action="participant.readmit").count() == 1


def test_inviting_a_revoked_identity_again_needs_an_explicit_readmit(app_client, fake_livekit):
    invitation = InvitationFactory(room=RoomFactory(application=app_client.application), identity="pat")
    app_client.delete(f"/api/v1/invitations/{invitation.pk}")
    body = {"display_name": "Pat", "role": "guest", "identity": "pat"}
    url = f"/api/v1/rooms/{invitation.room.pk}/invitations"
    assert app_client.post(url, body, format="json").json()["error"]["code"] == "readmit_required"
    assert app_client.post(url, {**body, "readmit": True}, format="json").status_code == 201


def test_a_token_with_readmit_lifts_a_removal(app_client, fake_livekit):
    room = RoomFactory(application=app_client.application)
    remove(app_client, room, "dana")
    assert issue_token(app_client, room, "dana", readmit=True).status_code == 200
    assert issue_token(app_client, room, "dana").status_code == 200
    assert ParticipantRemoval.objects.get().lifted_at is not None


def test_the_migration_bars_identities_whose_every_link_was_revoked_before_removals_existed():
    from importlib import import_module

    from django.apps import apps

    migration = import_module("access.migrations.0003_bar_identities_with_only_revoked_links")
    room, revoked_at = RoomFactory(), timezone.now()
    InvitationFactory(room=room, identity="gone", revoked_at=revoked_at)
    InvitationFactory(room=room, identity="back", revoked_at=revoked_at)
    InvitationFactory(room=room, identity="back")  # re-invited before readmit existed: let in
    InvitationFactory(room=room, identity="here")
    migration.bar_revoked_identities(apps, None)
    bar = ParticipantRemoval.objects.get()
    assert (bar.identity, bar.reason, bar.done_at) == ("gone", "link_revoked", revoked_at)


def test_the_scheduler_runs_the_removal_sweep(settings):
    schedule = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert sweep_participant_removals.name in schedule


def test_staff_see_removals_in_the_admin_but_cannot_change_them(admin_client, app_client, fake_livekit):
    room = RoomFactory(application=app_client.application)
    remove(app_client, room, "dana")
    removal = ParticipantRemoval.objects.get()
    listing = admin_client.get("/admin/tokens/participantremoval/")
    assert listing.status_code == 200 and b"dana" in listing.content
    detail = admin_client.post(f"/admin/tokens/participantremoval/{removal.pk}/change/", {"identity": "x"})
    assert detail.status_code in (200, 403)
    assert ParticipantRemoval.objects.get().identity == "dana"


def test_a_room_is_marked_once_it_bars_someone_and_only_such_rooms_look_bars_up_on_a_join(
    app_client, fake_livekit, webhooks
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    quiet, barring = RoomFactory(application=app_client.application), RoomFactory(application=app_client.application)
    remove(app_client, barring, "dana")
    assert list(Room.objects.order_by("pk").values_list("pk", "has_barred_participants")) == sorted(
        [(quiet.pk, False), (barring.pk, True)]
    )
    looked_up = {}
    for room in (quiet, barring):
        with CaptureQueriesContext(connection) as queries:
            webhooks.send("participant_joined", room=room_info(room), participant=participant_info("PA_9", "erin"))
        looked_up[room] = any(ParticipantRemoval._meta.db_table in q["sql"] for q in queries.captured_queries)
    assert looked_up == {quiet: False, barring: True}


def test_the_migration_marks_the_rooms_that_already_bar_someone():
    from importlib import import_module

    from django.apps import apps

    migration = import_module("rooms.migrations.0006_room_has_barred_participants")
    barring, quiet = RoomFactory(), RoomFactory()
    ParticipantRemoval.objects.create(
        room=barring, identity="gone", reason="link_revoked", requested_at=timezone.now(), next_attempt_at=None
    )
    migration.flag_rooms_with_bars(apps, None)
    assert set(Room.objects.filter(has_barred_participants=True)) == {barring}
    assert not Room.objects.get(pk=quiet.pk).has_barred_participants
