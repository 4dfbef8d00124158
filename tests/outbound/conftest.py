"""Webhooks out tests: a real receiver on 127.0.0.1, deliveries attempted in-process as the
worker would (the test transaction never commits, so the after-commit doorbell never rings)."""

from __future__ import annotations

import pytest

from outbound.models import DeliveryStatus, WebhookDelivery
from outbound.services.delivery import webhook_delivery_attempt
from tests.outbound.receiver import Receiver
from tests.webhooks.conftest import webhooks  # noqa: F401  (fixture re-export)


@pytest.fixture(autouse=True)
def _private_urls_allowed(settings):
    """The receivers here listen on 127.0.0.1; the guard's own tests turn this off again."""
    settings.CONVENE_WEBHOOK_ALLOW_PRIVATE_URLS = True
    settings.CONVENE_WEBHOOK_TIMEOUT_SECONDS = 3


@pytest.fixture
def receiver():
    with Receiver() as server:
        yield server


def deliver_pending() -> list[str]:
    """Attempt every delivery that is due, as the Celery worker would."""
    due = WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING).order_by("pk").values_list("pk", flat=True)
    return [webhook_delivery_attempt(delivery_id=pk).status for pk in list(due)]


def make_due() -> None:
    """Skip the backoff wait: every pending delivery is due now."""
    from django.utils import timezone

    WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING).update(next_attempt_at=timezone.now())


@pytest.fixture
def subscribe(app_client, receiver):
    """Register the receiver for the given event types (all by default); returns the created body."""

    def make(events: list[str] | None = None, client=None, url: str | None = None) -> dict:
        body = {"url": url or receiver.url, **({"events": events} if events is not None else {})}
        response = (client or app_client).post("/api/v1/webhook-endpoints", body, format="json")
        assert response.status_code == 201, response.content
        return response.json()

    return make
