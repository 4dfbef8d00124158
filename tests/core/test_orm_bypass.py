"""core.orm_bypass: the precompiled statements of the event flow read and write exactly what the ORM
would, on PostgreSQL here and on SQLite (the embedded default) in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.db import IntegrityError, connection, models, transaction
from django.test.utils import CaptureQueriesContext, isolate_apps
from django.utils import timezone

from access.models import Invitation
from core.models import AuditEvent
from core.orm_bypass import Table, asc, conflict_target, desc, insert_row, table
from rooms.models import CallSession, Room
from tests.factories import RoomFactory

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 11, 1, 9, 30, 15, 123456, tzinfo=UTC)


def _field_values(obj) -> dict:
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}


@pytest.mark.django_db
def test_get_returns_the_same_instance_the_orm_would(app_client):
    room = RoomFactory(application=app_client.application, metadata={"ward": "3B", "n": [1, 2]}, opens_at=T0)
    fetched = table(Room).get(provider=room.provider, provider_room_name=room.provider_room_name)
    assert isinstance(fetched, Room)
    assert _field_values(fetched) == _field_values(Room.objects.get(pk=room.pk))
    assert fetched.metadata == {"ward": "3B", "n": [1, 2]}
    assert fetched.opens_at == T0 and fetched.opens_at.tzinfo is not None
    assert fetched._state.adding is False
    assert table(Room).get(provider=room.provider, provider_room_name="cv_missing") is None


@pytest.mark.django_db
def test_lookup_by_model_instance_and_order_by(app_client):
    room = RoomFactory(application=app_client.application)
    older = Invitation.objects.create(room=room, role="guest", identity="pat", secret_hash="a" * 64, revoked_at=T0)
    newer = Invitation.objects.create(room=room, role="host", identity="pat", secret_hash="b" * 64)
    Invitation.objects.filter(pk=newer.pk).update(created_at=older.created_at + timedelta(seconds=5))
    invitations = table(Invitation)
    assert invitations.get(room=room, identity="pat", order_by=(desc("created_at"),)).pk == newer.pk
    assert invitations.get(room_id=room.pk, identity="pat", order_by=(asc("created_at"),)).pk == older.pk
    assert invitations.get(room=room, identity="pat", order_by=(desc("revoked_at", nulls_first=False),)).pk == older.pk
    assert invitations.get(room=room, identity="nobody") is None


@pytest.mark.django_db(transaction=True)
def test_insert_writes_once_and_reports_a_conflict_without_an_exception(app_client):
    room = RoomFactory(application=app_client.application)
    sessions = table(CallSession)
    first = CallSession(room=room, provider_session_id="RM_1", started_at=T0, last_seen_at=T0)
    with transaction.atomic():
        assert sessions.insert(first) is True
        assert first._state.adding is False
        clash = CallSession(room=room, provider_session_id="RM_1", started_at=T0, last_seen_at=T0)
        assert sessions.insert(clash) is False  # no IntegrityError, the transaction stays usable
        assert CallSession.objects.count() == 1
    stored = CallSession.objects.get()
    assert stored.pk == first.pk and stored.started_at == T0 and stored.created_at is not None


@pytest.mark.django_db(transaction=True)
def test_insert_yields_only_to_its_conflict_target_and_raises_on_any_other_unique_violation(app_client):
    room = RoomFactory(application=app_client.application)
    links = table(Invitation)  # its one unconditional unique constraint: secret_hash
    first = Invitation(room=room, role="guest", display_name="Pat", identity="pat", secret_hash="c" * 64)
    assert links.insert(first) is True
    same_secret = Invitation(room=room, role="guest", display_name="Pat", identity="sam", secret_hash="c" * 64)
    assert links.insert(same_secret) is False
    # Another active link of the same identity: the partial unique constraint, not the target.
    same_identity = Invitation(room=room, role="guest", display_name="Pat", identity="pat", secret_hash="d" * 64)
    with pytest.raises(IntegrityError), transaction.atomic():
        links.insert(same_identity)
    sessions = table(CallSession)
    session = CallSession(room=room, provider_session_id="RM_k", started_at=T0, last_seen_at=T0)
    assert sessions.insert(session, on_conflict=("provider_session_id", "room")) is True
    same_key = CallSession(pk=session.pk, room=room, provider_session_id="RM_other", started_at=T0, last_seen_at=T0)
    with pytest.raises(IntegrityError), transaction.atomic():
        sessions.insert(same_key)  # the primary key is not the target either
    assert list(Invitation.objects.values_list("identity", flat=True)) == ["pat"]
    assert list(CallSession.objects.values_list("provider_session_id", flat=True)) == ["RM_k"]


@isolate_apps("rooms")
def test_the_conflict_target_is_the_named_unique_constraint_or_the_only_one():
    class TwoKeys(models.Model):  # noqa: DJ008 (a throwaway)
        code = models.CharField(max_length=10, unique=True)
        room = models.IntegerField()
        name = models.CharField(max_length=10)

        class Meta:
            app_label = "rooms"
            constraints = [models.UniqueConstraint(fields=["room", "name"], name="two_keys_room_name")]

    assert conflict_target(TwoKeys, ("name", "room")) == ("room", "name")
    assert conflict_target(TwoKeys, ["code"]) == ("code",)
    with pytest.raises(ValueError, match="2 unique constraints: name the conflict target"):
        conflict_target(TwoKeys)
    with pytest.raises(ValueError, match="no unconditional unique constraint on"):
        conflict_target(TwoKeys, ("name",))
    assert conflict_target(CallSession) == ("room", "provider_session_id")
    assert conflict_target(Invitation) == ("secret_hash",)  # its identity constraint is partial


@pytest.mark.django_db
def test_insert_row_runs_pre_save_as_table_insert_does(app_client):
    before = timezone.now()
    audit = AuditEvent(actor_type="system", action="test.pre_save", object_type="room", object_id="1")
    audit.created_at = None  # auto_now_add: pre_save sets it, as save() would
    assert insert_row(connection, audit) is True
    room = RoomFactory(application=app_client.application)
    session = CallSession(room=room, provider_session_id="RM_ps", started_at=T0, last_seen_at=T0)
    session.created_at = session.updated_at = None
    assert table(CallSession).insert(session) is True
    for stored in (AuditEvent.objects.get(pk=audit.pk), CallSession.objects.get(pk=session.pk)):
        assert before <= stored.created_at <= timezone.now()
    assert audit.created_at == AuditEvent.objects.get(pk=audit.pk).created_at


@isolate_apps("rooms")
def test_order_terms_name_the_fields_columns():
    class Bar(models.Model):  # noqa: DJ008 (a throwaway)
        identity = models.CharField(max_length=10)
        lifted_at = models.DateTimeField(null=True, db_column="lifted")

        class Meta:
            app_label = "rooms"

    sql = Table(Bar)._select_sql(
        "postgresql", ("identity",), (desc("lifted_at", nulls_first=True), asc("identity")), True, False
    )
    assert sql.endswith('WHERE "identity" = %s ORDER BY "lifted" DESC NULLS FIRST, "identity" ASC LIMIT 1 FOR UPDATE')
    assert desc("x", nulls_first=False).sql('"x"') == '"x" DESC NULLS LAST'
    assert asc("x").sql('"x"') == '"x" ASC'


@pytest.mark.django_db
def test_update_writes_only_the_named_fields(app_client):
    room = RoomFactory(application=app_client.application)
    session = CallSession.objects.create(room=room, provider_session_id="RM_2", started_at=T0, last_seen_at=T0)
    stale = CallSession.objects.get(pk=session.pk)
    CallSession.objects.filter(pk=session.pk).update(end_source="reconciler")  # someone else's change
    before = session.updated_at
    stale.last_seen_at, stale.end_source = T0 + timedelta(minutes=5), "event"
    assert table(CallSession).update(stale, ["last_seen_at", "updated_at"]) == 1
    stored = CallSession.objects.get(pk=session.pk)
    assert stored.last_seen_at == T0 + timedelta(minutes=5)
    assert stored.end_source == "reconciler"  # not named, not written
    assert stored.updated_at > before


def _synchronous_commit() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_update_may_let_its_transaction_commit_without_waiting_for_the_flush(app_client):
    assert connection.vendor == "postgresql", "a PostgreSQL setting (make test runs on PostgreSQL)"
    room = RoomFactory(application=app_client.application)
    session = CallSession.objects.create(room=room, provider_session_id="RM_3", started_at=T0, last_seen_at=T0)
    sessions = table(CallSession)
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO on")  # production's default (the suite's server runs with off)
    try:
        with transaction.atomic(), CaptureQueriesContext(connection) as queries:
            session.last_seen_at = T0 + timedelta(minutes=1)
            assert sessions.update(session, ["last_seen_at"], commit_async=True) == 1  # the UPDATE's own count
            assert _synchronous_commit() == "off"
        assert len(queries) == 2  # the UPDATE set it itself: no statement of its own
        assert _synchronous_commit() == "on"  # SET LOCAL: that transaction only
        assert CallSession.objects.get(pk=session.pk).last_seen_at == T0 + timedelta(minutes=1)
        with transaction.atomic():
            sessions.update(session, ["last_seen_at"])
            assert _synchronous_commit() == "on"
        sessions.update(session, ["last_seen_at"], commit_async=True)  # autocommit: no transaction to commit early
        assert _synchronous_commit() == "on"
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET synchronous_commit")


@pytest.mark.django_db(transaction=True)
def test_lock_and_skip_locked_statements(app_client):
    room = RoomFactory(application=app_client.application)
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        table(Room).get(lock=True, pk=room.pk)
        table(Room).get(lock=True, skip_locked=True, pk=room.pk)
    selects = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("SELECT")]
    assert selects[0].endswith("LIMIT 1 FOR UPDATE")
    assert selects[1].endswith("LIMIT 1 FOR UPDATE SKIP LOCKED")


SQLITE_FLOW = r"""
import json, django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from core.services import application_create
from access.services import room_create_with_links
from rooms.models import ParticipantSession, TrackPublication
from webhooks.models import InboundEvent
from webhooks.services import inbound_events_store
import providers
from tests.fakes.livekit_webhooks import webhook_body

app, _ = application_create(name="sqlite")
room, _, links = room_create_with_links(application=app, external_id="x", participants=[
    {"display_name": "Pat", "role": "guest", "identity": "pat"}])
provider = providers.get("livekit")
def deliver(body):  # stored, then processed by the (eager) task
    inbound_events_store(provider_name="livekit", body=body, events=provider.parse_webhook(body=body))
r = {"sid": "RM_1", "name": room.provider_room_name}
pat = {"sid": "PA_1", "identity": "pat", "name": "Pat", "joinedAt": "1790000000"}
deliver(webhook_body("track_published", created_at=1790000005, room=r, participant=pat,
                     track={"sid": "TR_1", "type": "VIDEO", "source": "CAMERA"}))
deliver(webhook_body("participant_joined", created_at=1790000001, room=r, participant=pat))
deliver(webhook_body("participant_left", created_at=1790000060, room=r, participant=pat))
p = ParticipantSession.objects.get()
room.refresh_from_db()
print(json.dumps({
    "vendor": __import__("django.db").db.connection.vendor,
    "participant": [p.identity, p.display_name, p.role, str(p.invitation_id) == str(links[0][0].pk),
                    p.joined_at.isoformat(), p.left_at.isoformat(), p.left_source, p.duration_seconds],
    "tracks": list(TrackPublication.objects.values_list("kind", "source")),
    "room_status": room.status,
    "events": sorted(InboundEvent.objects.values_list("status", flat=True)),
}))
"""


def test_the_event_flow_runs_on_sqlite(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "REDIS_URL", "CELERY_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DEBUG="true",
        DATABASE_URL=f"sqlite:///{tmp_path / 'convene.sqlite3'}",
        CELERY_BROKER_URL="filesystem://",
        CELERY_TASK_ALWAYS_EAGER="true",
    )
    result = subprocess.run(
        [sys.executable, "-c", SQLITE_FLOW], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    got = json.loads(result.stdout.strip().splitlines()[-1])
    assert got["vendor"] == "sqlite"
    assert got["participant"] == [
        "pat",
        "Pat",
        "guest",
        True,
        "2026-09-21T14:13:20+00:00",
        "2026-09-21T14:14:20+00:00",
        "event",
        60,
    ]
    assert got["tracks"] == [["video", "camera"]]
    assert got["room_status"] == "live"
    assert got["events"] == ["done", "done", "done"]
