"""audit_record writes its row with one hand-written INSERT: the same row the ORM would write."""

from __future__ import annotations

import pytest
from django.db import transaction
from django.test import RequestFactory
from django.utils import timezone

from access.models import Invitation, LobbyEntry
from core.audit import SYSTEM, AuditContext
from core.clientip import request_ip
from core.models import AuditEvent, AuditOutcome
from core.services import audit_record, audit_record_on
from outbound.models import WebhookEndpoint
from recordings.models import ConsentNotice, Recording
from tests.factories import ApplicationFactory, RoomFactory


def stored(pk) -> dict:
    row = AuditEvent.objects.values().get(pk=pk)
    del row["id"], row["created_at"]
    return row


def orm_row(**values) -> AuditEvent:
    return AuditEvent.objects.create(**values)


@pytest.mark.django_db
@pytest.mark.parametrize("address", ["10.1.2.3", "2001:0db8:0000:0000:0000:0000:0000:0001", None])
def test_the_row_is_the_one_the_orm_would_write(address):
    application = ApplicationFactory()
    request = RequestFactory().post("/x", REMOTE_ADDR=address or "")
    request.request_id = "req-1"
    details = {"identity": "pat-1", "nested": {"list": [1, 2.5, None, True, "é ✓"]}}
    before = timezone.now()

    event = audit_record(
        action="token.issue",
        object_type="room",
        object_id=application.pk,  # not a str: stored as one
        application=application,
        outcome=AuditOutcome.DENIED,
        audit=AuditContext.from_request(request),
        actor=("link", "abc"),
        details=details,
    )

    expected = orm_row(
        application=application,
        actor_type="link",
        actor_id="abc",
        action="token.issue",
        object_type="room",
        object_id=str(application.pk),
        outcome=AuditOutcome.DENIED,
        ip=request_ip(request),
        request_id="req-1",
        details=details,
    )
    assert stored(event.pk) == stored(expected.pk)
    assert stored(event.pk)["ip"] == (None if address is None else {"10.1.2.3": "10.1.2.3"}.get(address, "2001:db8::1"))
    saved = AuditEvent.objects.get(pk=event.pk)
    assert before <= saved.created_at <= timezone.now()
    assert event.created_at == saved.created_at and event.details == saved.details


@pytest.mark.django_db
def test_as_the_system_the_actor_is_the_system_and_the_row_has_defaults():
    event = audit_record(action="room.close", object_type="room", object_id=7, application=None, audit=SYSTEM)
    assert stored(event.pk) == stored(
        orm_row(
            application=None,
            actor_type="system",
            actor_id="",
            action="room.close",
            object_type="room",
            object_id="7",
            outcome=AuditOutcome.ALLOWED,
            ip=None,
            request_id="",
            details={},
        ).pk
    )


@pytest.mark.django_db
def test_the_returned_event_is_the_saved_row():
    event = audit_record(action="a", object_type="room", object_id="1", application=None, audit=SYSTEM)
    assert isinstance(event.pk, int)
    assert not event._state.adding and event._state.db == "default"
    assert AuditEvent.objects.get(pk=event.pk).action == "a"


@pytest.mark.django_db
def test_the_row_belongs_to_the_callers_transaction():
    with pytest.raises(RuntimeError), transaction.atomic():
        audit_record(action="a", object_type="room", object_id="1", application=None, audit=SYSTEM)
        raise RuntimeError
    assert not AuditEvent.objects.exists()


@pytest.mark.django_db
def test_a_guarded_row_is_written_in_the_guards_statement_only_when_the_guard_returns_a_row():
    from django.db import NotSupportedError, connection

    from core.services import audit_event, audit_write

    application = ApplicationFactory()
    guard = (
        "UPDATE core_application SET is_active = is_active WHERE id = %s RETURNING id",
        [application._meta.pk.get_db_prep_save(application.pk, connection)],
    )
    event = audit_event(
        action="a", object_type="room", object_id="1", application=application, audit=SYSTEM, details={"k": [1]}
    )
    if connection.vendor != "postgresql":
        with pytest.raises(NotSupportedError):
            audit_write(event, only_if=guard)
        return
    assert audit_write(event, only_if=guard) is True
    assert not event._state.adding and stored(event.pk) == stored(
        audit_record(
            action="a", object_type="room", object_id="1", application=application, audit=SYSTEM, details={"k": [1]}
        ).pk
    )
    unmatched = audit_event(action="b", object_type="room", object_id="1", application=None, audit=SYSTEM)
    assert audit_write(unmatched, only_if=("SELECT 1 WHERE false", [])) is False
    assert unmatched.pk is None and unmatched._state.adding
    assert not AuditEvent.objects.filter(action="b").exists()


# Each audited model with the object type its audit rows carried when every caller wrote it out.
AUDITED_AS = [
    (lambda room: room, "room"),
    (lambda room: Recording(room=room), "recording"),
    (lambda room: Invitation(room=room), "invitation"),
    (lambda room: LobbyEntry(room=room), "lobby_entry"),
    (lambda room: WebhookEndpoint(application=room.application), "webhook_endpoint"),
    (lambda room: ConsentNotice(application=room.application), "consent_notice"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("make", "object_type"), AUDITED_AS, ids=[name for _, name in AUDITED_AS])
def test_a_row_on_an_instance_names_it_by_its_model_and_belongs_to_its_application(
    make, object_type, django_assert_num_queries
):
    room = RoomFactory()
    instance = make(room)

    with django_assert_num_queries(1):  # the INSERT: what the caller has loaded is not read again
        event = audit_record_on(instance, action="x.do", audit=SYSTEM, details={"why": "test"})

    row = stored(event.pk)
    assert (row["object_type"], row["object_id"]) == (object_type, str(instance.pk))
    assert row["application_id"] == room.application_id
    assert (row["action"], row["actor_type"], row["actor_id"], row["details"]) == (
        "x.do",
        SYSTEM.actor_type,
        SYSTEM.actor_id,
        {"why": "test"},
    )
