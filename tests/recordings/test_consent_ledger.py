"""The consent ledger: decisions recorded by the application, by a link holder on the join page,
or attested verbally; append-only (never updated or deleted, also not in the database); always
against the current notice version; and what the join page is told to ask."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from core.models import AuditEvent
from recordings.models import ConsentEvent, ConsentNotice
from rooms.models import RecordingPolicy, RoomStatus
from tests.factories import InvitationFactory, RoomFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def room(app_client):
    return RoomFactory(application=app_client.application, recording_policy=RecordingPolicy.ON_DEMAND)


def consents_url(room) -> str:
    return f"/api/v1/rooms/{room.pk}/consents"


def error_code(response) -> str:
    return response.json()["error"]["code"]


# -- recording a decision ---------------------------------------------------------------------------


def test_the_application_records_a_grant_against_the_current_notice(app_client, room, notice):
    response = app_client.post(consents_url(room), {"identity": "pat", "decision": "granted"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["identity"] == "pat" and body["decision"] == "granted"
    assert body["method"] == "api" and body["attested_by"] == ""
    assert body["notice_version"] == 1 and body["notice_hash"] == notice.text_hash
    assert body["invitation_id"] is None
    event = ConsentEvent.objects.get()
    assert (event.pk, event.room_id, event.application_id) == (body["id"], room.pk, app_client.application.pk)
    assert event.notice_id == notice.pk
    audit = AuditEvent.objects.get(action="consent.granted")
    assert (audit.actor_type, audit.actor_id, audit.object_id) == (
        "application",
        str(app_client.application.pk),
        str(room.pk),
    )


def test_verbal_consent_needs_who_attested_it(app_client, room, notice):
    refused = app_client.post(
        consents_url(room), {"identity": "pat", "decision": "granted", "method": "verbal_attested_by"}, format="json"
    )
    assert refused.status_code == 400 and error_code(refused) == "attestation_missing"
    assert not ConsentEvent.objects.exists()
    accepted = app_client.post(
        consents_url(room),
        {"identity": "pat", "decision": "granted", "method": "verbal_attested_by", "attested_by": "Dr. Doc"},
        format="json",
    )
    assert accepted.status_code == 201, accepted.content
    event = ConsentEvent.objects.get()
    assert (event.method, event.attested_by) == ("verbal_attested_by", "Dr. Doc")


def test_the_application_cannot_claim_a_join_page_consent(app_client, room, notice):
    response = app_client.post(
        consents_url(room), {"identity": "pat", "decision": "granted", "method": "join_page"}, format="json"
    )
    assert response.status_code == 400
    assert not ConsentEvent.objects.exists()


def test_without_a_notice_no_decision_is_recorded(app_client, anon_client, room):
    by_app = app_client.post(consents_url(room), {"identity": "pat", "decision": "granted"}, format="json")
    assert by_app.status_code == 409 and error_code(by_app) == "no_consent_notice"
    link = InvitationFactory(room=room, identity="pat")
    by_link = anon_client.post(f"/api/v1/join/{link.secret}/consent", {"decision": "granted"}, format="json")
    assert by_link.status_code == 409 and error_code(by_link) == "no_consent_notice"
    assert not ConsentEvent.objects.exists()


def link_consent(client, link, decision: str):
    return client.post(f"/api/v1/join/{link.secret}/consent", {"decision": decision}, format="json")


def test_a_closed_room_takes_no_more_grants_but_still_takes_withdrawals(app_client, anon_client, room, notice):
    link = InvitationFactory(room=room, identity="pat")
    room.status = RoomStatus.CLOSED
    room.save(update_fields=["status"])
    by_app = app_client.post(consents_url(room), {"identity": "doc", "decision": "granted"}, format="json")
    assert by_app.status_code == 410 and error_code(by_app) == "room_closed"
    by_link = link_consent(anon_client, link, "granted")
    assert by_link.status_code == 410 and error_code(by_link) == "room_closed"
    assert not ConsentEvent.objects.exists()
    assert link_consent(anon_client, link, "withdrawn").status_code == 201
    withdrawn = app_client.post(consents_url(room), {"identity": "doc", "decision": "withdrawn"}, format="json")
    assert withdrawn.status_code == 201
    assert sorted(ConsentEvent.objects.values_list("identity", "decision")) == [
        ("doc", "withdrawn"),
        ("pat", "withdrawn"),
    ]


def test_a_grant_to_an_outdated_notice_version_is_refused(app_client, anon_client, room, notice):
    ConsentNotice.objects.create(application=app_client.application, version=2, text="We record and transcribe.")
    by_app = app_client.post(
        consents_url(room), {"identity": "pat", "decision": "granted", "notice_version": 1}, format="json"
    )
    assert by_app.status_code == 409 and error_code(by_app) == "notice_outdated"
    assert by_app.json()["error"]["details"] == {"current_version": 2}
    link = InvitationFactory(room=room, identity="pat")
    by_link = anon_client.post(
        f"/api/v1/join/{link.secret}/consent", {"decision": "granted", "notice_version": 1}, format="json"
    )
    assert by_link.status_code == 409 and error_code(by_link) == "notice_outdated"
    assert not ConsentEvent.objects.exists()
    current = app_client.post(
        consents_url(room), {"identity": "pat", "decision": "granted", "notice_version": 2}, format="json"
    )
    assert current.status_code == 201 and current.json()["notice_version"] == 2


# -- the ledger and each person's current state -----------------------------------------------------


def test_the_ledger_lists_every_decision_and_each_identitys_current_state(app_client, anon_client, room, notice):
    link = InvitationFactory(room=room, identity="pat")
    app_client.post(consents_url(room), {"identity": "doc", "decision": "granted"}, format="json")
    anon_client.post(f"/api/v1/join/{link.secret}/consent", {"decision": "granted"}, format="json")
    anon_client.post(f"/api/v1/join/{link.secret}/consent", {"decision": "withdrawn"}, format="json")
    response = app_client.get(consents_url(room))
    assert response.status_code == 200
    body = response.json()
    assert body["room_id"] == str(room.pk)
    assert body["notice"] == {
        "version": 1,
        "text": notice.text,
        "text_hash": notice.text_hash,
        "created_at": notice.created_at.isoformat().replace("+00:00", "Z"),
    }
    assert [(e["identity"], e["decision"], e["method"]) for e in body["ledger"]] == [
        ("doc", "granted", "api"),
        ("pat", "granted", "join_page"),
        ("pat", "withdrawn", "join_page"),
    ]
    states = {p["identity"]: p for p in body["participants"]}
    assert set(states) == {"doc", "pat"}
    assert states["doc"]["consented"] is True and states["doc"]["last_decision"] == "granted"
    assert states["pat"]["consented"] is False and states["pat"]["last_decision"] == "withdrawn"


def test_a_withdrawal_is_a_new_row_and_the_grant_stays_as_it_was(app_client, room, notice):
    granted = app_client.post(consents_url(room), {"identity": "pat", "decision": "granted"}, format="json").json()
    before = ConsentEvent.objects.values().get(pk=granted["id"])
    withdrawn = app_client.post(consents_url(room), {"identity": "pat", "decision": "withdrawn"}, format="json")
    assert withdrawn.status_code == 201
    assert withdrawn.json()["id"] != granted["id"]
    assert ConsentEvent.objects.count() == 2
    assert ConsentEvent.objects.values().get(pk=granted["id"]) == before


def test_a_withdrawal_is_accepted_even_against_an_old_notice_version(app_client, room, notice):
    ConsentNotice.objects.create(application=app_client.application, version=2, text="New text.")
    response = app_client.post(
        consents_url(room), {"identity": "pat", "decision": "withdrawn", "notice_version": 1}, format="json"
    )
    assert response.status_code == 201


def test_a_newer_notice_version_makes_an_earlier_grant_inactive(app_client, room, notice):
    app_client.post(consents_url(room), {"identity": "pat", "decision": "granted"}, format="json")
    assert app_client.get(consents_url(room)).json()["participants"][0]["consented"] is True
    ConsentNotice.objects.create(application=app_client.application, version=2, text="We also transcribe.")
    state = app_client.get(consents_url(room)).json()["participants"][0]
    assert state["consented"] is False and state["notice_version"] == 1
    app_client.post(consents_url(room), {"identity": "pat", "decision": "granted"}, format="json")
    state = app_client.get(consents_url(room)).json()["participants"][0]
    assert state["consented"] is True and state["notice_version"] == 2


# -- append-only: a decision is never updated or deleted ---------------------------------------


@pytest.fixture
def event(app_client, room, notice) -> ConsentEvent:
    app_client.post(consents_url(room), {"identity": "pat", "decision": "granted"}, format="json")
    return ConsentEvent.objects.get()


def test_a_consent_event_cannot_be_updated_or_deleted_through_the_orm(event):
    event.decision = "withdrawn"
    with pytest.raises(ValueError, match="append-only"):
        event.save()
    with pytest.raises(ValueError, match="append-only"):
        event.delete()
    assert ConsentEvent.objects.get().decision == "granted"


def test_bulk_orm_updates_and_deletes_of_consent_events_are_refused_by_the_database(event):
    assert connection.vendor == "postgresql"
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        ConsentEvent.objects.filter(pk=event.pk).update(decision="withdrawn")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        ConsentEvent.objects.filter(pk=event.pk).delete()
    assert ConsentEvent.objects.get().decision == "granted"


def test_raw_sql_update_and_delete_of_consent_events_are_refused_by_the_trigger(event):
    assert connection.vendor == "postgresql"
    table = ConsentEvent._meta.db_table
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET decision = 'withdrawn' WHERE id = %s", [event.pk])
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE id = %s", [event.pk])
    assert ConsentEvent.objects.filter(pk=event.pk, decision="granted").exists()


def test_a_published_notice_text_cannot_change(notice):
    notice.text = "We record this call and sell it."
    with pytest.raises(ValueError):
        notice.save()
    assert ConsentNotice.objects.get().text == "We record this call."


def test_a_notice_text_changed_by_a_bulk_update_is_refused_or_voids_the_consents_given_to_it(app_client, room, notice):
    """save() guards the text, but QuerySet.update() bypasses save(): either the database refuses
    the change, or a consent no longer counts once the text differs from the one consented to."""
    app_client.post(consents_url(room), {"identity": "pat", "decision": "granted"}, format="json")
    try:
        with transaction.atomic():
            ConsentNotice.objects.filter(pk=notice.pk).update(text="Silently different.")
    except DatabaseError:
        assert ConsentNotice.objects.get().text == "We record this call."
        return
    assert app_client.get(consents_url(room)).json()["participants"][0]["consented"] is False


# -- the join response ------------------------------------------------------------------------------


def join(anon_client, link):
    response = anon_client.post(f"/api/v1/join/{link.secret}")
    assert response.status_code == 200, response.content
    return response.json()["consent"]


def test_the_join_page_asks_for_consent_only_in_a_recordable_room_with_a_notice(app_client, anon_client, notice):
    off = RoomFactory(application=app_client.application, recording_policy=RecordingPolicy.OFF)
    assert join(anon_client, InvitationFactory(room=off, identity="pat"))["required"] is False
    on = RoomFactory(application=app_client.application, recording_policy=RecordingPolicy.ON_DEMAND)
    consent = join(anon_client, InvitationFactory(room=on, identity="pat"))
    assert consent == {
        "required": True,
        "notice_version": 1,
        "notice_hash": notice.text_hash,
        "notice_text": notice.text,
        "consented": False,
    }


def test_a_recordable_room_says_consent_is_required_even_before_a_notice_exists(app_client, anon_client):
    room = RoomFactory(application=app_client.application, recording_policy=RecordingPolicy.AUTO)
    assert join(anon_client, InvitationFactory(room=room, identity="pat")) == {
        "required": True,
        "notice_version": None,
        "notice_hash": None,
        "notice_text": None,
        "consented": False,
    }


def test_the_join_response_says_consented_once_the_link_holder_granted(anon_client, room, notice):
    link = InvitationFactory(room=room, identity="pat")
    assert join(anon_client, link)["consented"] is False
    granted = anon_client.post(f"/api/v1/join/{link.secret}/consent", {"decision": "granted"}, format="json")
    assert granted.status_code == 201
    assert join(anon_client, link)["consented"] is True
    anon_client.post(f"/api/v1/join/{link.secret}/consent", {"decision": "withdrawn"}, format="json")
    assert join(anon_client, link)["consented"] is False


# -- one application never reaches another's rooms ----------------------------------------------


def test_another_application_cannot_read_or_write_a_rooms_consents(app_client, other_client, room, notice):
    app_client.post(consents_url(room), {"identity": "pat", "decision": "granted"}, format="json")
    ConsentNotice.objects.create(application=other_client.application, version=1, text="B's notice.")
    assert other_client.get(consents_url(room)).status_code == 404
    written = other_client.post(consents_url(room), {"identity": "pat", "decision": "withdrawn"}, format="json")
    assert written.status_code == 404
    assert list(ConsentEvent.objects.values_list("decision", flat=True)) == ["granted"]
