"""Redeeming a join link: the rules of POST /api/v1/join/{secret}: who gets credentials, when,
and with which rights."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from livekit import api

from access.models import Invitation
from core.models import AuditEvent
from rooms.models import Room, RoomStatus
from tests.factories import InvitationFactory, RoomFactory


def join(client, secret, **extra):
    return client.post(f"/api/v1/join/{secret}", **extra)


@pytest.mark.django_db
def test_a_valid_link_returns_credentials_for_its_room_and_identity(anon_client, settings):
    invitation = InvitationFactory(role="guest", identity="patient-1", display_name="Pat")
    response = join(anon_client, invitation.secret)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["identity"] == "patient-1"
    assert body["role"] == "guest"
    assert body["room_name"] == invitation.room.provider_room_name
    assert body["provider"] == "livekit"
    claims = api.TokenVerifier(settings.LIVEKIT_API_KEY, settings.LIVEKIT_API_SECRET).verify(body["token"])
    assert claims.identity == "patient-1"
    assert claims.video.room == invitation.room.provider_room_name


@pytest.mark.django_db
def test_each_redemption_counts_a_use_and_writes_an_audit_row_without_the_token(anon_client):
    invitation = InvitationFactory()
    body = join(anon_client, invitation.secret).json()
    invitation.refresh_from_db()
    assert invitation.uses == 1
    audit = AuditEvent.objects.get(action="token.issue")
    assert audit.actor_type == "link" and audit.actor_id == str(invitation.pk)
    assert body["token"] not in str(audit.details)
    assert invitation.secret not in str(audit.details)


@pytest.mark.django_db
def test_an_unknown_secret_is_not_found(anon_client):
    response = join(anon_client, "no-such-secret")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.django_db
def test_a_revoked_link_is_refused(anon_client):
    invitation = InvitationFactory(revoked_at=timezone.now())
    response = join(anon_client, invitation.secret)
    assert response.status_code == 410
    assert response.json()["error"]["code"] == "link_revoked"


@pytest.mark.django_db
def test_a_used_up_link_is_refused_after_its_last_use(anon_client):
    invitation = InvitationFactory(max_uses=2)
    assert join(anon_client, invitation.secret).status_code == 200
    assert join(anon_client, invitation.secret).status_code == 200
    response = join(anon_client, invitation.secret)
    assert response.status_code == 410
    assert response.json()["error"]["code"] == "link_exhausted"
    invitation.refresh_from_db()
    assert invitation.uses == 2


@pytest.mark.django_db
def test_a_closed_room_refuses_joins(anon_client):
    invitation = InvitationFactory(room=RoomFactory(status=RoomStatus.CLOSED))
    response = join(anon_client, invitation.secret)
    assert response.status_code == 410
    assert response.json()["error"]["code"] == "room_closed"


@pytest.mark.django_db
def test_joining_before_the_early_allowance_is_too_early(anon_client, settings):
    settings.CONVENE_JOIN_EARLY_MINUTES = 10
    opens = timezone.now() + timedelta(minutes=30)
    invitation = InvitationFactory(
        room=RoomFactory(opens_at=opens, closes_at=opens + timedelta(hours=1), status=RoomStatus.SCHEDULED)
    )
    response = join(anon_client, invitation.secret)
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "too_early"
    assert error["details"]["join_allowed_from"].startswith((opens - timedelta(minutes=10)).isoformat()[:16])


@pytest.mark.django_db
def test_joining_inside_the_early_allowance_works_and_opens_a_scheduled_room(anon_client, settings):
    settings.CONVENE_JOIN_EARLY_MINUTES = 10
    opens = timezone.now() + timedelta(minutes=5)
    room = RoomFactory(opens_at=opens, closes_at=opens + timedelta(hours=1), status=RoomStatus.SCHEDULED)
    invitation = InvitationFactory(room=room)
    assert join(anon_client, invitation.secret).status_code == 200
    room.refresh_from_db()
    assert room.status == RoomStatus.OPEN


@pytest.mark.django_db
def test_joining_after_the_window_is_too_late(anon_client):
    now = timezone.now()
    room = RoomFactory(opens_at=now - timedelta(hours=2), closes_at=now - timedelta(minutes=1))
    response = join(anon_client, InvitationFactory(room=room).secret)
    assert response.status_code == 410
    assert response.json()["error"]["code"] == "too_late"


@pytest.mark.django_db
def test_an_expired_link_is_too_late_even_in_an_open_room(anon_client):
    invitation = InvitationFactory(expires_at=timezone.now() - timedelta(seconds=1))
    response = join(anon_client, invitation.secret)
    assert response.status_code == 410
    assert response.json()["error"]["code"] == "too_late"


@pytest.mark.django_db
def test_refusals_issue_no_token_and_count_no_use(anon_client):
    invitation = InvitationFactory(room=RoomFactory(status=RoomStatus.CLOSED))
    join(anon_client, invitation.secret)
    invitation.refresh_from_db()
    assert invitation.uses == 0
    assert not AuditEvent.objects.filter(action="token.issue").exists()


@pytest.mark.django_db
def test_a_use_sets_last_used_at_and_nothing_else(anon_client):
    invitation = InvitationFactory(max_uses=3, uses=1)
    before = Invitation.objects.values().get(pk=invitation.pk)
    assert join(anon_client, invitation.secret).status_code == 200
    after = Invitation.objects.values().get(pk=invitation.pk)
    assert after["uses"] == 2
    audit = AuditEvent.objects.get(action="token.issue")
    assert after["last_used_at"] is not None and abs(after["last_used_at"] - audit.created_at) < timedelta(seconds=5)
    assert {k: v for k, v in after.items() if k not in ("uses", "last_used_at")} == {
        k: v for k, v in before.items() if k not in ("uses", "last_used_at")
    }


def a_room(kind: str):
    """An open room (on PostgreSQL a redemption writes with one statement) or a scheduled room
    inside its early-join allowance (the use, the audit row and the opening in one transaction)."""
    if kind == "open":
        return RoomFactory()
    opens = timezone.now() + timedelta(minutes=1)
    return RoomFactory(status=RoomStatus.SCHEDULED, opens_at=opens, closes_at=opens + timedelta(hours=1))


ROOM_KINDS = ["open", "scheduled"]


@pytest.mark.django_db
@pytest.mark.parametrize("room_kind", ROOM_KINDS)
@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"revoked_at": timezone.now()}, "link_revoked"),
        ({"uses": 1}, "link_exhausted"),
        ({"expires_at": timezone.now() - timedelta(minutes=1)}, "too_late"),
    ],
    ids=["revoked", "used-up", "expired"],
)
def test_a_link_that_changes_between_lookup_and_count_is_refused_uncounted(
    anon_client, monkeypatch, change, code, room_kind
):
    """The conditional UPDATE decides, not the state read by the lookup."""
    import access.services.links

    invitation = InvitationFactory(max_uses=1, room=a_room(room_kind))
    check = access.services.links.room_assert_joinable

    def meanwhile(**kwargs):
        Invitation.objects.filter(pk=invitation.pk).update(**change)
        check(**kwargs)

    monkeypatch.setattr(access.services.links, "room_assert_joinable", meanwhile)
    response = join(anon_client, invitation.secret)
    assert response.status_code == 410
    assert response.json()["error"]["code"] == code
    assert Invitation.objects.get(pk=invitation.pk).uses == (1 if "uses" in change else 0)
    assert not AuditEvent.objects.filter(action="token.issue").exists()
    assert Room.objects.get(pk=invitation.room_id).status == invitation.room.status  # a scheduled room stays so


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("room_kind", ROOM_KINDS)
def test_concurrent_redemptions_never_exceed_max_uses(anon_client, room_kind):
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    invitation = InvitationFactory(max_uses=3, room=a_room(room_kind))

    def attempt(n):
        try:
            response = join(anon_client, invitation.secret, REMOTE_ADDR=f"10.0.0.{n}")
            return response.status_code, response.json().get("error", {}).get("code")
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(attempt, range(8)))
    assert sorted(outcomes, key=str) == [(200, None)] * 3 + [(410, "link_exhausted")] * 5
    assert Invitation.objects.get(pk=invitation.pk).uses == 3
    assert AuditEvent.objects.filter(action="token.issue", actor_id=str(invitation.pk)).count() == 3


@pytest.mark.django_db
def test_without_an_audit_row_no_token_leaves_and_no_use_is_counted(anon_client, monkeypatch):
    from django.db import OperationalError

    def refuse(*args, **kwargs):
        raise OperationalError("audit table unavailable")

    monkeypatch.setattr("core.services.insert_row", refuse)
    invitation = InvitationFactory(max_uses=1)
    response = join(anon_client, invitation.secret)
    assert response.status_code == 503
    assert "token" not in response.json()
    assert Invitation.objects.get(pk=invitation.pk).uses == 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("room_kind", ROOM_KINDS)
def test_a_use_is_counted_only_together_with_its_audit_row(anon_client, monkeypatch, room_kind):
    """The database refuses the audit row (NOT NULL): the counted use goes with it, no token leaves."""
    from django.db import IntegrityError

    import access.services.links

    make_event = access.services.links.audit_event

    def unwritable_event(**kwargs):
        event = make_event(**kwargs)
        event.actor_type = None
        return event

    monkeypatch.setattr(access.services.links, "audit_event", unwritable_event)
    invitation = InvitationFactory(max_uses=1, room=a_room(room_kind))
    with pytest.raises(IntegrityError):
        join(anon_client, invitation.secret)
    assert Invitation.objects.get(pk=invitation.pk).uses == 0
    assert not AuditEvent.objects.filter(action="token.issue").exists()
    assert Room.objects.get(pk=invitation.room_id).status == invitation.room.status


@pytest.mark.django_db
@pytest.mark.parametrize("room_kind", ROOM_KINDS)
def test_statements_of_a_redemption(anon_client, room_kind):
    """PostgreSQL: the lookup, then the counted use with its audit row in one statement (no
    BEGIN/COMMIT). A scheduled room, or SQLite: the use, the row and the opening in a transaction."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    invitation = InvitationFactory(room=a_room(room_kind))
    with CaptureQueriesContext(connection) as queries:
        assert join(anon_client, invitation.secret).status_code == 200
    statements = [query["sql"].split()[0].upper() for query in queries]
    if connection.vendor == "postgresql" and room_kind == "open":
        assert statements == ["SELECT", "WITH"]
    else:
        # Inside the test's transaction BEGIN/COMMIT are savepoints.
        assert statements[0] == "SELECT" and "UPDATE" in statements and "INSERT" in statements
        assert statements.count("UPDATE") == (2 if room_kind == "scheduled" else 1)
    assert Invitation.objects.get(pk=invitation.pk).uses == 1
    assert AuditEvent.objects.filter(action="token.issue", actor_id=str(invitation.pk)).count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("revoked", [False, True])
@pytest.mark.parametrize("expired", [False, True])
@pytest.mark.parametrize("exhausted", [False, True])
def test_the_check_the_counting_update_and_the_message_apply_the_same_link_rules(revoked, expired, exhausted):
    from django.db import connection

    from access.services.links import _count_use, _refusal_for, link_refusal

    now = timezone.now()
    invitation = InvitationFactory(
        max_uses=2,
        uses=2 if exhausted else 1,
        expires_at=now - timedelta(seconds=1) if expired else now + timedelta(hours=1),
        revoked_at=now - timedelta(minutes=5) if revoked else None,
    )
    refusal = link_refusal(invitation, now)
    first = "revoked" if revoked else "expired" if expired else "exhausted" if exhausted else None
    assert refusal == first
    assert _count_use(invitation=invitation, now=now, connection=connection) is (refusal is None)
    assert Invitation.objects.get(pk=invitation.pk).uses == (2 if refusal is None else invitation.uses)
    if refusal is not None:
        code = {"revoked": "link_revoked", "expired": "too_late", "exhausted": "link_exhausted"}[refusal]
        assert _refusal_for(invitation, now).code == code
