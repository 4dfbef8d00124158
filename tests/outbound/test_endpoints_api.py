"""The webhook endpoints API: CRUD per application, the secret shown once, rotation, the test
ping, deliveries with retry, and another application's objects invisible (404)."""

from __future__ import annotations

from outbound.models import WebhookDelivery, WebhookEndpoint
from tests.outbound.conftest import deliver_pending
from tests.outbound.receiver import verified


def test_the_secret_is_shown_at_creation_and_never_again(app_client, subscribe):
    created = subscribe(events=["room.closed", "participant.joined"])
    assert created["secret"].startswith("whsec_")
    assert created["events"] == ["participant.joined", "room.closed"] and created["enabled"] is True
    shown = app_client.get(f"/api/v1/webhook-endpoints/{created['id']}").json()
    listed = app_client.get("/api/v1/webhook-endpoints").json()["results"]
    assert "secret" not in shown and [e["id"] for e in listed] == [created["id"]] and "secret" not in listed[0]


def test_an_endpoint_can_be_changed_disabled_and_deleted(app_client, subscribe):
    created = subscribe()
    url = f"/api/v1/webhook-endpoints/{created['id']}"
    changed = app_client.patch(url, {"enabled": False, "description": "billing"}, format="json").json()
    assert changed["enabled"] is False and changed["description"] == "billing"
    assert app_client.delete(url).status_code == 204
    assert app_client.get(url).status_code == 404 and not WebhookEndpoint.objects.exists()


def test_unknown_event_types_and_fields_are_refused(app_client, receiver):
    bad_type = app_client.post(
        "/api/v1/webhook-endpoints", {"url": receiver.url, "events": ["room.exploded"]}, format="json"
    )
    extra = app_client.post("/api/v1/webhook-endpoints", {"url": receiver.url, "secret": "whsec_mine"}, format="json")
    assert (bad_type.status_code, extra.status_code) == (400, 400)
    assert extra.json()["error"]["code"] == "unknown_field"


def test_rotation_signs_with_the_new_and_the_previous_secret_during_the_grace(app_client, subscribe, receiver):
    created = subscribe()
    rotated = app_client.post(f"/api/v1/webhook-endpoints/{created['id']}/rotate-secret").json()
    assert rotated["secret"] != created["secret"] and rotated["previous_secret_expires_at"]
    assert app_client.post(f"/api/v1/webhook-endpoints/{created['id']}/test").status_code == 202
    assert deliver_pending() == ["delivered"]
    (ping,) = receiver.events()
    assert verified(ping, rotated["secret"])["type"] == "ping"
    assert verified(ping, created["secret"])["type"] == "ping"  # a receiver not yet switched still verifies


def test_after_the_grace_only_the_new_secret_signs(app_client, subscribe, receiver, settings):
    import pytest
    from standardwebhooks import WebhookVerificationError

    settings.CONVENE_WEBHOOK_SECRET_GRACE_SECONDS = 0
    created = subscribe()
    rotated = app_client.post(f"/api/v1/webhook-endpoints/{created['id']}/rotate-secret").json()
    app_client.post(f"/api/v1/webhook-endpoints/{created['id']}/test")
    deliver_pending()
    (ping,) = receiver.events()
    assert verified(ping, rotated["secret"])["type"] == "ping"
    with pytest.raises(WebhookVerificationError):
        verified(ping, created["secret"])


def test_deliveries_list_shows_status_attempts_http_status_and_latency_and_retry_sends_the_same_id(
    app_client, subscribe, receiver
):
    created = subscribe()
    base = f"/api/v1/webhook-endpoints/{created['id']}"
    queued = app_client.post(f"{base}/test").json()
    assert queued["status"] == "pending" and queued["next_attempt_at"]
    deliver_pending()
    (row,) = app_client.get(f"{base}/deliveries").json()["results"]
    assert row["status"] == "delivered" and row["attempts"] == 1 and row["last_status_code"] == 200
    assert row["last_latency_ms"] is not None and row["next_attempt_at"] is None and row["response_excerpt"] == "ok"
    assert app_client.post(f"{base}/deliveries/{row['id']}/retry").status_code == 202
    assert app_client.post(f"{base}/deliveries/{row['id']}/retry").json()["error"]["code"] == "delivery_pending"
    deliver_pending()
    first, second = receiver.events()
    assert first.webhook_id == second.webhook_id == row["event_id"]
    assert app_client.get(f"{base}/deliveries", {"status": "pending"}).json()["count"] == 0


def test_another_applications_endpoints_deliveries_and_secrets_are_404(app_client, other_client, subscribe):
    created = subscribe()
    base = f"/api/v1/webhook-endpoints/{created['id']}"
    app_client.post(f"{base}/test")
    delivery = WebhookDelivery.objects.get()
    assert other_client.get("/api/v1/webhook-endpoints").json()["results"] == []
    for method, path in [
        ("get", base),
        ("patch", base),
        ("delete", base),
        ("post", f"{base}/rotate-secret"),
        ("post", f"{base}/test"),
        ("get", f"{base}/deliveries"),
        ("post", f"{base}/deliveries/{delivery.pk}/retry"),
    ]:
        response = getattr(other_client, method)(path, {}, format="json")
        assert response.status_code == 404, (method, path, response.content)
    assert WebhookEndpoint.objects.filter(pk=created["id"]).exists() and WebhookDelivery.objects.count() == 1


def test_a_delivery_of_another_endpoint_is_404_under_this_one(app_client, subscribe):
    first, second = subscribe(), subscribe()
    app_client.post(f"/api/v1/webhook-endpoints/{first['id']}/test")
    delivery = WebhookDelivery.objects.get()
    response = app_client.post(f"/api/v1/webhook-endpoints/{second['id']}/deliveries/{delivery.pk}/retry")
    assert response.status_code == 404


def test_the_schema_documents_every_event_payload_with_an_example(client):
    from outbound.catalogue import EventType

    schema = client.get("/api/schema", HTTP_ACCEPT="application/json").json()
    webhooks = schema["x-webhooks"]
    assert set(webhooks) == {t.value for t in EventType}
    for event_type, item in webhooks.items():
        content = item["post"]["requestBody"]["content"]["application/json"]
        assert content["examples"][event_type]["value"]["type"] == event_type
        component = content["schema"]["$ref"].rsplit("/", 1)[1]
        assert set(schema["components"]["schemas"][component]["properties"]) == {
            "id",
            "type",
            "occurred_at",
            "room",
            "data",
        }


def test_a_delivery_id_beyond_any_row_is_not_found(app_client, subscribe):
    created = subscribe()
    for delivery_id in ("0", "99999999999999999999999"):
        response = app_client.post(f"/api/v1/webhook-endpoints/{created['id']}/deliveries/{delivery_id}/retry")
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
