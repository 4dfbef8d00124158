"""The admin of inbound events: each stored event is shown, and can be deleted, but never added or
changed there (the provider's payload is the record)."""

from __future__ import annotations

from tests.admin_pages import assert_shown_and_deletable_but_never_added_or_changed
from tests.factories import RoomFactory
from tests.webhooks.conftest import room_info
from webhooks.models import InboundEvent


def test_inbound_events_are_shown_and_deletable_in_the_admin_but_never_added_or_changed(
    webhooks, client, django_user_model
):
    webhooks.send("room_started", room=room_info(RoomFactory()))
    event = InboundEvent.objects.get()
    client.force_login(django_user_model.objects.create_superuser("root", password=None))
    assert_shown_and_deletable_but_never_added_or_changed(
        client, "/admin/webhooks/inboundevent/", event, event.provider_event_id
    )
