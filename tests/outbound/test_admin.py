"""The admin of webhooks out: endpoints are listed without their secrets, a disabled one can be
enabled again (audited), and a failed delivery can be sent again with the same webhook id."""

from __future__ import annotations

from outbound.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from tests.admin_pages import assert_shown_and_deletable_but_never_added_or_changed
from tests.outbound.conftest import deliver_pending


def _superuser_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("root", password=None))
    return client


def test_the_endpoint_pages_never_show_the_secret(client, django_user_model, subscribe):
    created = subscribe()
    admin = _superuser_client(client, django_user_model)
    listing = admin.get("/admin/outbound/webhookendpoint/").content.decode()
    page = admin.get(f"/admin/outbound/webhookendpoint/{created['id']}/change/").content.decode()
    assert created["url"] in listing and created["url"] in page
    assert created["secret"] not in listing + page


def test_enabling_a_disabled_endpoint_from_the_admin_is_audited(client, django_user_model, subscribe):
    from core.models import AuditEvent

    created = subscribe()
    WebhookEndpoint.objects.filter(pk=created["id"]).update(enabled=False, disabled_reason="failing")
    admin = _superuser_client(client, django_user_model)
    response = admin.post("/admin/outbound/webhookendpoint/", {"action": "enable", "_selected_action": [created["id"]]})
    assert response.status_code == 302
    endpoint = WebhookEndpoint.objects.get(pk=created["id"])
    assert endpoint.enabled and endpoint.disabled_reason == ""
    assert AuditEvent.objects.filter(action="webhook_endpoint.update", actor_type="user").exists()


def test_a_failed_delivery_is_sent_again_from_the_admin_with_the_same_id(
    client, django_user_model, app_client, subscribe, receiver
):
    created = subscribe()
    app_client.post(f"/api/v1/webhook-endpoints/{created['id']}/test")
    WebhookDelivery.objects.update(status=DeliveryStatus.FAILED)
    delivery = WebhookDelivery.objects.get()
    admin = _superuser_client(client, django_user_model)
    response = admin.post("/admin/outbound/webhookdelivery/", {"action": "retry", "_selected_action": [delivery.pk]})
    assert response.status_code == 302
    assert deliver_pending() == ["delivered"]
    assert [r.webhook_id for r in receiver.events()] == [delivery.event_id]


def test_deliveries_are_shown_and_deletable_in_the_admin_but_never_added_or_changed(
    client, django_user_model, app_client, subscribe
):
    created = subscribe()
    app_client.post(f"/api/v1/webhook-endpoints/{created['id']}/test")
    delivery = WebhookDelivery.objects.get()
    admin = _superuser_client(client, django_user_model)
    assert_shown_and_deletable_but_never_added_or_changed(
        admin, "/admin/outbound/webhookdelivery/", delivery, delivery.event_id
    )
