"""The hand-written link lookup (access.selectors.invitation_by_secret) returns what the ORM's
select_related("room", "room__application") returns, on PostgreSQL and on SQLite."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from access.models import Invitation
from access.selectors import invitation_by_secret
from core.errors import NotFound
from rooms.models import RoomStatus
from tests.factories import InvitationFactory, RoomFactory


def every_field(instance) -> dict:
    return {field.attname: getattr(instance, field.attname) for field in type(instance)._meta.concrete_fields}


def orm_lookup(invitation) -> Invitation:
    return Invitation.objects.select_related("room", "room__application").get(pk=invitation.pk)


def a_link_with_every_column_set():
    now = timezone.now()
    room = RoomFactory(
        external_id="ext-1",
        status=RoomStatus.SCHEDULED,
        opens_at=now + timedelta(hours=1),
        closes_at=now + timedelta(hours=2),
        max_participants=7,
        recording_policy="on_demand",
        metadata={"ward": "B", "nested": {"n": [1, 2.5, None, True]}, "text": "é ü ✓"},
        closed_at=now - timedelta(days=1),
        close_reason="test",
        provider_closed_at=now - timedelta(hours=23),
    )
    return InvitationFactory(
        room=room,
        role="host",
        display_name="Dr. Ödön",
        identity="doc-1",
        metadata='{"a": 1}',
        max_uses=5,
        uses=2,
        expires_at=now + timedelta(days=1),
        last_used_at=now - timedelta(minutes=3),
        revoked_at=now - timedelta(seconds=1),
    )


@pytest.mark.django_db
@pytest.mark.parametrize("make_link", [a_link_with_every_column_set, InvitationFactory], ids=["all-set", "defaults"])
def test_the_lookup_loads_the_link_its_room_and_application_exactly_as_the_orm(make_link):
    invitation = make_link()
    expected = orm_lookup(invitation)
    with CaptureQueriesContext(connection) as queries:
        found = invitation_by_secret(secret=invitation.secret)
        room, application = found.room, found.room.application  # already loaded: no further query
    assert len(queries) == 1
    assert every_field(found) == every_field(expected)
    assert every_field(room) == every_field(expected.room)
    assert every_field(application) == every_field(expected.room.application)
    for loaded in (found, room, application):
        assert not loaded._state.adding and loaded._state.db == "default"
        assert not loaded.get_deferred_fields()
    assert found.expires_at is None or found.expires_at.tzinfo is not None
    assert room.opens_at is None or room.opens_at.utcoffset() == timedelta(0)


@pytest.mark.django_db
def test_values_come_back_as_python_types_not_database_text():
    found = invitation_by_secret(secret=a_link_with_every_column_set().secret)
    assert found.pk.version == 4 and found.room_id == found.room.pk
    assert found.room.metadata["nested"] == {"n": [1, 2.5, None, True]}
    assert found.room.application.is_active is True
    assert isinstance(found.max_uses, int) and isinstance(found.uses, int)


@pytest.mark.django_db
def test_an_unknown_secret_is_not_found():
    InvitationFactory()
    with pytest.raises(NotFound):
        invitation_by_secret(secret="no-such-secret")


@pytest.mark.django_db
def test_a_secret_finds_only_its_own_link():
    links = [InvitationFactory() for _ in range(3)]
    assert [invitation_by_secret(secret=link.secret).pk for link in links] == [link.pk for link in links]
