"""Delivery attempts against a real receiver on 127.0.0.1: the same webhook-id on every retry,
backoff with jitter, a final failure, an endpoint disabled after failing continuously, no
redirect followed, a timeout, and no more of an answer kept than a short excerpt."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from outbound.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from outbound.services.delivery import retry_delay, webhook_deliveries_sweep, webhook_delivery_attempt
from tests.outbound.conftest import deliver_pending, make_due
from tests.outbound.receiver import Receiver, verified


@pytest.fixture
def ping(app_client):
    def send(endpoint: dict) -> WebhookDelivery:
        assert app_client.post(f"/api/v1/webhook-endpoints/{endpoint['id']}/test").status_code == 202
        return WebhookDelivery.objects.get(endpoint_id=endpoint["id"], status=DeliveryStatus.PENDING)

    return send


def test_a_500_then_200_gets_the_same_webhook_id_twice_and_then_no_more(subscribe, ping, receiver):
    receiver.statuses = [500]
    endpoint = subscribe()
    delivery = ping(endpoint)
    assert deliver_pending() == ["retry"]
    failed = WebhookDelivery.objects.get(pk=delivery.pk)
    assert failed.status == "pending" and failed.last_status_code == 500 and failed.last_error == "HTTP 500"
    assert len(failed.response_excerpt) <= 300  # the receiver's 1.7 kB answer is not kept
    make_due()
    assert deliver_pending() == ["delivered"]
    make_due()
    assert deliver_pending() == [] and webhook_delivery_attempt(delivery_id=delivery.pk).status == "skipped"
    first, second = receiver.events()
    assert first.webhook_id == second.webhook_id == delivery.event_id
    assert verified(first, endpoint["secret"]) == verified(second, endpoint["secret"])
    assert WebhookDelivery.objects.get(pk=delivery.pk).attempts == 2


def test_a_failed_attempt_waits_by_the_schedule_with_jitter(subscribe, ping, receiver, settings):
    settings.CONVENE_WEBHOOK_RETRY_SCHEDULE = [100.0, 1000.0]
    receiver.statuses = [503]
    delivery = ping(subscribe())
    before = timezone.now()
    deliver_pending()
    wait = (WebhookDelivery.objects.get(pk=delivery.pk).next_attempt_at - before).total_seconds()
    assert 80 <= wait <= 121
    assert deliver_pending() == ["busy"]  # not due yet: nothing sent
    assert len(receiver.events()) == 1
    delays = {round(retry_delay(2)) for _ in range(20)}
    assert min(delays) >= 800 and max(delays) <= 1200 and len(delays) > 1
    assert retry_delay(3) is None


def test_after_the_last_attempt_the_delivery_fails_for_good(subscribe, ping, receiver, settings):
    settings.CONVENE_WEBHOOK_RETRY_SCHEDULE = [1.0]
    receiver.statuses = [500, 500, 500]
    delivery = ping(subscribe())
    assert deliver_pending() == ["retry"]
    make_due()
    assert deliver_pending() == ["failed"]
    assert WebhookDelivery.objects.get(pk=delivery.pk).status == "failed" and len(receiver.events()) == 2


def test_an_endpoint_failing_continuously_for_the_configured_time_is_disabled_with_the_reason(
    app_client, subscribe, receiver, settings
):
    settings.CONVENE_WEBHOOK_DISABLE_AFTER_SECONDS = 3600
    receiver.statuses = [500] * 5
    endpoint = subscribe(events=["room.opened"])
    app_client.post("/api/v1/rooms", {"external_id": "appt-1"}, format="json")
    deliver_pending()
    assert WebhookEndpoint.objects.get(pk=endpoint["id"]).enabled  # failing, not for long enough yet
    WebhookEndpoint.objects.filter(pk=endpoint["id"]).update(failing_since=timezone.now() - timedelta(hours=2))
    make_due()
    deliver_pending()
    shown = app_client.get(f"/api/v1/webhook-endpoints/{endpoint['id']}").json()
    assert shown["enabled"] is False and "failing continuously" in shown["disabled_reason"]
    app_client.post("/api/v1/rooms", {"external_id": "appt-2"}, format="json")
    assert WebhookDelivery.objects.count() == 1  # a disabled endpoint is not subscribed
    make_due()
    assert deliver_pending() == ["failed"]  # and what it still had pending is not sent
    assert len(receiver.events()) == 2 and WebhookDelivery.objects.get().last_error == "endpoint disabled"
    enabled = app_client.patch(f"/api/v1/webhook-endpoints/{endpoint['id']}", {"enabled": True}, format="json").json()
    assert enabled["enabled"] and enabled["disabled_reason"] == "" and enabled["failing_since"] is None


def test_a_success_ends_the_failure_streak(subscribe, ping, receiver):
    receiver.statuses = [500]
    endpoint = subscribe()
    ping(endpoint)
    deliver_pending()
    assert WebhookEndpoint.objects.get(pk=endpoint["id"]).failing_since is not None
    make_due()
    deliver_pending()
    after = WebhookEndpoint.objects.get(pk=endpoint["id"])
    assert after.failing_since is None and after.last_success_at is not None


def test_a_redirect_is_not_followed(subscribe, ping):
    with Receiver() as elsewhere, Receiver(statuses=[302], location="") as receiver:
        receiver.location = elsewhere.url
        delivery = ping(subscribe(url=receiver.url))
        assert deliver_pending() == ["retry"]
        assert len(receiver.events()) == 1 and elsewhere.events() == []
        assert WebhookDelivery.objects.get(pk=delivery.pk).last_error == "HTTP 302"


def test_a_receiver_slower_than_the_timeout_is_a_failed_attempt(subscribe, ping, settings):
    settings.CONVENE_WEBHOOK_TIMEOUT_SECONDS = 0.5
    with Receiver(delay=2) as slow:
        delivery = ping(subscribe(url=slow.url))
        assert deliver_pending() == ["retry"]
    failed = WebhookDelivery.objects.get(pk=delivery.pk)
    assert failed.last_error == "timeout" and failed.last_status_code is None


def test_a_receiver_that_is_down_is_a_failed_attempt(subscribe, ping):
    with Receiver() as receiver:
        url = receiver.url
    endpoint = subscribe(url=url)
    delivery = ping(endpoint)
    assert deliver_pending() == ["retry"]
    assert WebhookDelivery.objects.get(pk=delivery.pk).last_error == "connection_error"


def test_the_sweeper_rings_for_due_deliveries_only(subscribe, ping, receiver, settings):
    from unittest import mock

    delivery = ping(subscribe())
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now() + timedelta(minutes=5))
    with mock.patch("outbound.services.delivery.deliveries_enqueue", autospec=True, return_value=1) as enqueue:
        assert webhook_deliveries_sweep() == 0
        make_due()
        assert webhook_deliveries_sweep() == 1
    enqueue.assert_called_once_with(delivery_ids=[delivery.pk])


def test_a_deactivated_application_gets_no_webhooks(app_client, subscribe, ping, receiver):
    from django.core.cache import cache

    endpoint = subscribe()
    delivery = ping(endpoint)
    application = app_client.application
    application.is_active = False
    application.save(update_fields=["is_active"])
    assert deliver_pending() == ["failed"]
    assert (
        receiver.events() == [] and WebhookDelivery.objects.get(pk=delivery.pk).last_error == "application deactivated"
    )
    cache.clear()
    from outbound.services.outbox import subscriptions_get

    assert subscriptions_get(application_id=application.pk) == []
