"""The admin of access: a room's page lists its join links (the inline access adds to rooms'
RoomAdmin), without their secrets."""

from __future__ import annotations

import pytest

from tests.factories import InvitationFactory, RoomFactory

pytestmark = pytest.mark.django_db


def test_a_rooms_admin_page_lists_its_join_links_without_their_secrets(client, django_user_model, app_client):
    room = RoomFactory(application=app_client.application)
    link = InvitationFactory(room=room, identity="patient-7", display_name="Pat Example")
    client.force_login(django_user_model.objects.create_superuser("root", password=None))
    response = client.get(f"/admin/rooms/room/{room.pk}/change/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "patient-7" in page and "Pat Example" in page
    assert link.secret not in page and link.secret_hash not in page
