"""core.dbbackend's prepared cursors: the hot paths' statements (core.orm_bypass, the event claim, the
webhook INSERT and join-link redemption) are prepared once per PostgreSQL connection, read and write the same values as
Django's client-side binding, survive a failed transaction, and are not prepared when
DATABASE_PREPARED_STATEMENTS is off."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction

from access.models import Invitation
from core.models import AuditEvent
from core.orm_bypass import prepared_cursor, table
from rooms.models import CallSession, ParticipantSession, Room
from tests.factories import InvitationFactory, RoomFactory
from tests.webhooks.conftest import WebhookPoster, event_body, participant_info, room_info
from webhooks.models import InboundEvent
from webhooks.services import inbound_event_process

pytestmark = pytest.mark.django_db(transaction=True)
T0 = datetime(2026, 11, 1, 9, 30, 15, 123456, tzinfo=UTC)


def _prepared() -> list[str]:
    """The statements this session has prepared (psycopg names them _pg3_N)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements WHERE from_sql = false ORDER BY prepare_time")
        return [row[0] for row in cursor.fetchall()]


def test_a_statement_is_prepared_once_and_then_only_executed(app_client):
    assert connection.vendor == "postgresql", "a PostgreSQL feature (make test runs on PostgreSQL)"
    room = RoomFactory(application=app_client.application)
    connection.close()  # a fresh connection: nothing prepared yet
    for _ in range(3):
        assert table(Room).get(provider=room.provider, provider_room_name=room.provider_room_name).pk == room.pk
    prepared = _prepared()
    assert len(prepared) == 1, prepared
    assert prepared[0].startswith('SELECT "rooms_room"."id"') and '"provider_room_name" = $2' in prepared[0]
    with connection.cursor() as cursor:  # everything else keeps Django's client-side binding
        cursor.execute("SELECT %s::int", [41])
        assert cursor.fetchone() == (41,)
    assert len(_prepared()) == 1


def test_prepared_statements_write_and_read_what_the_orm_does(app_client):
    room = RoomFactory(application=app_client.application, metadata={"ward": "3B"}, opens_at=T0)
    sessions = table(CallSession)
    with transaction.atomic():
        locked = table(Room).get(lock=True, pk=room.pk)  # a UUID key, bound on the server
        assert locked.metadata == {"ward": "3B"} and locked.opens_at == T0
        session = CallSession(room=locked, provider_session_id="RM_p", started_at=T0, last_seen_at=T0)
        assert sessions.insert(session) is True
        clash = CallSession(room=locked, provider_session_id="RM_p", started_at=T0, last_seen_at=T0)
        assert sessions.insert(clash) is False
        session.ended_at, session.end_source = T0.replace(hour=10), "event"
        assert sessions.update(session, ["ended_at", "end_source"]) == 1
    stored = CallSession.objects.get(pk=session.pk)
    assert (stored.started_at, stored.ended_at, stored.end_source) == (T0, T0.replace(hour=10), "event")
    assert stored.started_at.tzinfo is not None
    assert sessions.get(room=room, provider_session_id="RM_p").pk == session.pk


def test_a_failed_transaction_leaves_the_prepared_statements_usable(app_client):
    room = RoomFactory(application=app_client.application)
    session = CallSession.objects.create(room=room, provider_session_id="RM_f", started_at=T0, last_seen_at=T0)
    participants = table(ParticipantSession)
    first = ParticipantSession(call_session=session, provider_participant_id="PA_1", identity="a", last_seen_at=T0)
    assert participants.insert(first)
    with pytest.raises(IntegrityError), transaction.atomic():
        # The same prepared INSERT with a key that does not exist: the foreign key check fails.
        orphan = ParticipantSession(call_session_id=10**12, provider_participant_id="PA_2", identity="b")
        participants.insert(orphan)
    again = ParticipantSession(call_session=session, provider_participant_id="PA_3", identity="c", last_seen_at=T0)
    assert participants.insert(again)
    assert participants.get(call_session=session, provider_participant_id="PA_3").identity == "c"
    with pytest.raises(DatabaseError), transaction.atomic(), prepared_cursor() as cursor:
        cursor.execute("SELECT 1 / %s", [0])  # an error inside a prepared statement
    assert participants.get(call_session=session, provider_participant_id="PA_1").identity == "a"


def test_the_event_flow_runs_on_prepared_statements(app_client, client, settings):
    room = app_client.post("/api/v1/rooms", {"external_id": "prepared"}, format="json").json()
    room_ref = type("R", (), {"provider_room_name": room["provider_room_name"]})
    poster = WebhookPoster(client, settings)
    connection.close()
    for n in range(2):
        who = participant_info(f"PA_{n}", f"p{n}")
        body = event_body("participant_joined", room=room_info(room_ref, sid="RM_prep"), participant=who)
        assert poster.post(body).status_code == 200
        assert inbound_event_process(event_id=InboundEvent.objects.latest("pk").pk) == "done"
    prepared = _prepared()
    assert any(sql.startswith('INSERT INTO "webhooks_inboundevent" ') for sql in prepared), prepared
    assert any("FOR UPDATE OF e SKIP LOCKED FOR UPDATE OF r" in sql for sql in prepared), prepared
    assert any(sql.startswith('INSERT INTO "rooms_participantsession"') for sql in prepared), prepared
    assert ParticipantSession.objects.filter(call_session__provider_session_id="RM_prep").count() == 2


def test_join_link_redemption_runs_on_prepared_statements(anon_client):
    invitation = InvitationFactory(role="guest", identity="patient-9", max_uses=2)
    connection.close()
    statuses = [anon_client.post(f"/api/v1/join/{invitation.secret}").status_code for _ in range(3)]
    assert statuses == [200, 200, 410]  # max_uses still holds: the counting UPDATE's condition
    prepared = _prepared()
    assert any(' WHERE i."secret_hash" = $1' in sql for sql in prepared), prepared
    assert any(sql.startswith('WITH guard AS (UPDATE "tokens_invitation" SET "uses"') for sql in prepared), prepared
    assert Invitation.objects.get(pk=invitation.pk).uses == 2
    rows = AuditEvent.objects.filter(action="token.issue", actor_type="link", actor_id=str(invitation.pk))
    assert rows.count() == 2  # and the refused third redemption wrote none
    assert all(row.application_id == invitation.room.application_id and row.ip for row in rows)


def test_the_setting_turns_them_off(app_client, settings):
    settings.DATABASE_PREPARED_STATEMENTS = False
    room = RoomFactory(application=app_client.application)
    connection.close()
    for _ in range(3):
        assert table(Room).get(pk=room.pk).pk == room.pk
    assert _prepared() == []


def _alter_elsewhere(sql: str) -> None:
    """A migration run by another process (a deploy) while this connection keeps its statements."""
    import psycopg

    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("prepare_threshold", None)
    with psycopg.connect(**params, autocommit=True) as other:
        other.execute(sql)


def test_a_column_altered_under_a_prepared_statement_costs_no_request(app_client):
    """PostgreSQL refuses to run a prepared SELECT whose result columns changed type ("cached plan
    must not change result type"): the statement is prepared again, transparently outside a
    transaction; inside one the transaction fails once and its rollback clears the statements."""
    room = RoomFactory(application=app_client.application)
    rooms = table(Room)
    connection.close()
    assert rooms.get(pk=room.pk).pk == room.pk  # prepared on this connection
    _alter_elsewhere('ALTER TABLE rooms_room ALTER COLUMN "external_id" TYPE varchar(201)')
    try:
        assert rooms.get(pk=room.pk).pk == room.pk  # autocommit: prepared again, no error
        _alter_elsewhere('ALTER TABLE rooms_room ALTER COLUMN "external_id" TYPE varchar(203)')
        assert rooms.get(pk=room.pk).pk == room.pk  # and again on the same connection
        _alter_elsewhere('ALTER TABLE rooms_room ALTER COLUMN "external_id" TYPE varchar(202)')
        with pytest.raises(DatabaseError, match="cached plan must not change result type"), transaction.atomic():
            rooms.get(pk=room.pk)
        assert rooms.get(pk=room.pk).pk == room.pk  # the rollback cleared them
        with transaction.atomic():
            assert rooms.get(lock=True, pk=room.pk).pk == room.pk
    finally:
        connection.close()
        length = Room._meta.get_field("external_id").max_length
        _alter_elsewhere(f'ALTER TABLE rooms_room ALTER COLUMN "external_id" TYPE varchar({length})')
