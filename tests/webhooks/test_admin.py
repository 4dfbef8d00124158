"""The admin of inbound events: each stored event is shown, and can be deleted, but never added or
changed there (the provider's payload is the record)."""

from __future__ import annotations

from tests.factories import RoomFactory
from tests.webhooks.conftest import room_info
from webhooks.models import InboundEvent


def test_inbound_events_are_shown_and_deletable_in_the_admin_but_never_added_or_changed(
    webhooks, client, django_user_model
):
    webhooks.send("room_started", room=room_info(RoomFactory()))
    event = InboundEvent.objects.get()
    client.force_login(django_user_model.objects.create_superuser("root", password=None))
    assert client.get("/admin/webhooks/inboundevent/add/").status_code == 403
    page = client.get(f"/admin/webhooks/inboundevent/{event.pk}/change/")
    assert page.status_code == 200 and event.provider_event_id in page.content.decode()
    assert client.post(f"/admin/webhooks/inboundevent/{event.pk}/change/", {"attempts": 7}).status_code == 403
    assert client.post(f"/admin/webhooks/inboundevent/{event.pk}/delete/", {"post": "yes"}).status_code == 302
    assert not InboundEvent.objects.filter(pk=event.pk).exists()
