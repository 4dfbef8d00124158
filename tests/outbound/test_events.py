"""Every event of the catalogue is written by the flow that causes it (webhooks in, API calls,
the periodic no-show report) and delivered, signed, to a real receiver; a change that rolls back
sends nothing; with nobody subscribed the event path does not touch the outbox."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from access.services import attendance_no_shows_report
from core.audit import AuditContext
from outbound.models import WebhookDelivery
from outbound.schema import example
from recordings.models import ConsentNotice, Recording, RecordingStatus
from recordings.services.retention import recording_delete
from rooms.models import RecordingPolicy, Room, RoomStatus
from rooms.services import room_close, rooms_sweep_windows
from tests.factories import InvitationFactory, RoomFactory
from tests.outbound.conftest import deliver_pending
from tests.outbound.receiver import verified
from tests.recordings.test_recording_lifecycle import T0, egress, new_recording, send_egress
from tests.webhooks.conftest import participant_info, room_info


def _delivered(receiver, secret: str, event_type: str) -> list[dict]:
    """The events of a type the receiver got, verified; each has the fields the schema documents."""
    deliver_pending()
    events = [verified(r, secret) for r in receiver.events(event_type)]
    documented = example(event_type)
    for event in events:
        assert set(event) == set(documented) and set(event["data"]) == set(documented["data"]), event
    return events


@pytest.fixture
def room(app_client):
    ConsentNotice.objects.create(application=app_client.application, version=1, text="We record this call.")
    return RoomFactory(
        application=app_client.application, external_id="appt-42", recording_policy=RecordingPolicy.ON_DEMAND
    )


def test_room_opened_is_sent_when_a_room_is_created_open_and_when_its_window_is_reached(
    app_client, subscribe, receiver
):
    secret = subscribe(events=["room.opened"])["secret"]
    created = app_client.post("/api/v1/rooms", {"external_id": "appt-1"}, format="json").json()
    opens = timezone.now() + timedelta(hours=2)
    later = app_client.post(
        "/api/v1/rooms", {"external_id": "appt-2", "opens_at": opens.isoformat()}, format="json"
    ).json()
    assert later["status"] == "scheduled"
    assert [e["room"]["external_id"] for e in _delivered(receiver, secret, "room.opened")] == ["appt-1"]
    rooms_sweep_windows(now=opens)
    opened = _delivered(receiver, secret, "room.opened")
    assert [e["room"] for e in opened] == [
        {"id": created["id"], "external_id": "appt-1"},
        {"id": later["id"], "external_id": "appt-2"},
    ]
    assert opened[1]["data"]["status"] == "open" and opened[1]["data"]["id"] == later["id"]


def test_room_live_participant_joined_and_left_follow_the_media_servers_events(room, subscribe, receiver, webhooks):
    secret = subscribe()["secret"]
    invitation = InvitationFactory(room=room, identity="patient-7", role="guest")
    webhooks.send("room_started", room=room_info(room, sid="RM_a"))
    webhooks.send(
        "participant_joined", room=room_info(room, sid="RM_a"), participant=participant_info("PA_1", "patient-7")
    )
    webhooks.send(
        "participant_left",
        room=room_info(room, sid="RM_a"),
        participant=participant_info("PA_1", "patient-7", reason="CLIENT_INITIATED"),
    )
    (live,) = _delivered(receiver, secret, "room.live")
    (joined,) = _delivered(receiver, secret, "participant.joined")
    (left,) = _delivered(receiver, secret, "participant.left")
    assert live["room"] == {"id": str(room.pk), "external_id": "appt-42"} and live["data"]["status"] == "live"
    assert joined["data"]["identity"] == "patient-7" and joined["data"]["invitation_id"] == str(invitation.pk)
    assert left["data"]["left_at"] and left["data"]["disconnect_reason"] == "CLIENT_INITIATED"
    assert invitation.secret not in str(receiver.events())  # never the join secret
    assert {"type", "id", "occurred_at", "room", "data"} <= set(joined)


def test_room_closed_is_sent_once_when_the_room_closes(app_client, room, subscribe, receiver):
    secret = subscribe(events=["room.closed"])["secret"]
    assert app_client.post(f"/api/v1/rooms/{room.pk}/close").status_code == 200
    app_client.post(f"/api/v1/rooms/{room.pk}/close")
    (closed,) = _delivered(receiver, secret, "room.closed")
    assert closed["data"]["status"] == "closed" and closed["data"]["close_reason"] == "closed_by_api"


def test_consent_granted_and_withdrawn_are_sent(app_client, room, subscribe, receiver):
    secret = subscribe(events=["consent.granted", "consent.withdrawn"])["secret"]
    for decision in ("granted", "withdrawn"):
        response = app_client.post(
            f"/api/v1/rooms/{room.pk}/consents", {"identity": "doc", "decision": decision}, format="json"
        )
        assert response.status_code == 201, response.content
    (granted,) = _delivered(receiver, secret, "consent.granted")
    (withdrawn,) = _delivered(receiver, secret, "consent.withdrawn")
    assert granted["data"]["identity"] == withdrawn["data"]["identity"] == "doc"
    assert (granted["data"]["notice_version"], withdrawn["data"]["decision"]) == (1, "withdrawn")


def test_recording_started_ready_and_deleted_follow_egress_events_and_retention(room, subscribe, receiver, webhooks):
    secret = subscribe()["secret"]
    recording = new_recording(room)
    send_egress(webhooks, room, "egress_updated", egress(room, "EG_ours12345678", "EGRESS_ACTIVE", started=T0))
    end = T0 + 90 * 10**9
    files = [
        {
            "filename": "r.mp4",
            "startedAt": str(T0),
            "endedAt": str(end),
            "duration": str(90 * 10**9),
            "size": "4096",
            "location": "/secret/place/r.mp4",
        }
    ]
    send_egress(
        webhooks,
        room,
        "egress_ended",
        egress(room, "EG_ours12345678", "EGRESS_COMPLETE", started=T0, ended=end, files=files),
    )
    recording_delete(
        recording=Recording.objects.get(pk=recording.pk), reason="retention", audit=AuditContext.system("retention")
    )
    (started,) = _delivered(receiver, secret, "recording.started")
    (ready,) = _delivered(receiver, secret, "recording.ready")
    (deleted,) = _delivered(receiver, secret, "recording.deleted")
    assert started["data"]["id"] == str(recording.pk) and started["data"]["status"] == "active"
    assert (ready["data"]["duration_seconds"], ready["data"]["size_bytes"]) == (90, 4096)
    assert deleted["data"]["deleted_at"] and deleted["data"]["deletion_reason"] == "retention"
    assert "secret/place" not in str([r.body for r in receiver.events()])  # never a media location


def test_recording_failed_is_sent_when_the_egress_fails(room, subscribe, receiver, webhooks):
    secret = subscribe(events=["recording.failed"])["secret"]
    new_recording(room, status=RecordingStatus.ACTIVE)
    send_egress(
        webhooks, room, "egress_ended", egress(room, "EG_ours12345678", "EGRESS_FAILED", started=T0, error="disk full")
    )
    (failed,) = _delivered(receiver, secret, "recording.failed")
    assert failed["data"]["status"] == "failed" and failed["data"]["error"] == "disk full"


def test_a_no_show_is_reported_once_per_link_after_the_grace(app_client, subscribe, receiver, webhooks, settings):
    settings.CONVENE_NO_SHOW_GRACE_MINUTES = 15
    secret = subscribe(events=["attendance.no_show"])["secret"]
    opened = timezone.now() - timedelta(minutes=20)
    room = RoomFactory(application=app_client.application, external_id="appt-9", opens_at=opened)
    absent = InvitationFactory(room=room, identity="patient-1", role="guest")
    InvitationFactory(room=room, identity="doc-1", role="host")
    webhooks.send("participant_joined", room=room_info(room, sid="RM_n"), participant=participant_info("PA_d", "doc-1"))
    not_yet = RoomFactory(application=app_client.application, opens_at=timezone.now() - timedelta(minutes=5))
    InvitationFactory(room=not_yet, identity="patient-2")
    assert attendance_no_shows_report() == 1
    assert attendance_no_shows_report() == 0
    (no_show,) = _delivered(receiver, secret, "attendance.no_show")
    assert no_show["room"]["external_id"] == "appt-9"
    assert no_show["data"] == {"invitation_id": str(absent.pk), "identity": "patient-1", "role": "guest"}


def test_only_subscribed_types_are_written(app_client, room, subscribe, receiver):
    subscribe(events=["room.closed"])
    app_client.post(f"/api/v1/rooms/{room.pk}/consents", {"identity": "doc", "decision": "granted"}, format="json")
    assert not WebhookDelivery.objects.exists()


def test_a_change_that_rolls_back_writes_no_delivery(room, subscribe):
    subscribe()

    class Abort(Exception):
        pass

    with pytest.raises(Abort), transaction.atomic():
        room_close(room=room, reason="closed_by_api")
        assert WebhookDelivery.objects.filter(event_type="room.closed").count() == 1
        raise Abort
    assert not WebhookDelivery.objects.exists()
    assert Room.objects.get(pk=room.pk).status != RoomStatus.CLOSED


def test_with_nobody_subscribed_an_event_costs_no_outbox_query(room, webhooks):
    webhooks.send("participant_joined", room=room_info(room, sid="RM_q"), participant=participant_info("PA_1", "a"))
    with CaptureQueriesContext(connection) as queries:  # the application's subscriptions are cached now
        webhooks.send("participant_joined", room=room_info(room, sid="RM_q"), participant=participant_info("PA_2", "b"))
        webhooks.send("participant_left", room=room_info(room, sid="RM_q"), participant=participant_info("PA_2", "b"))
    touched = [q["sql"] for q in queries.captured_queries if "outbound_" in q["sql"]]
    assert touched == [] and not WebhookDelivery.objects.exists()


def test_a_new_endpoint_receives_the_next_event_at_once(room, subscribe, receiver, webhooks):
    webhooks.send("participant_joined", room=room_info(room, sid="RM_q"), participant=participant_info("PA_1", "a"))
    secret = subscribe(events=["participant.joined"])["secret"]
    webhooks.send("participant_joined", room=room_info(room, sid="RM_q"), participant=participant_info("PA_2", "b"))
    assert [e["data"]["identity"] for e in _delivered(receiver, secret, "participant.joined")] == ["b"]
