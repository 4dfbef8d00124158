"""Reads of webhooks out, always scoped to the caller's application (another's is a 404)."""

from __future__ import annotations

from django.db.models import QuerySet

from core.errors import NotFound
from core.models import Application
from core.selectors import filter_given
from outbound.models import WebhookDelivery, WebhookEndpoint


def webhook_endpoint_list(*, application: Application) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(application=application)


def webhook_endpoint_get(*, application: Application, endpoint_id) -> WebhookEndpoint:
    endpoint = WebhookEndpoint.objects.filter(application=application, pk=endpoint_id).first()
    if endpoint is None:
        raise NotFound("No such webhook endpoint.")
    return endpoint


def webhook_delivery_list(*, endpoint: WebhookEndpoint, status: str | None = None) -> QuerySet[WebhookDelivery]:
    return filter_given(WebhookDelivery.objects.filter(endpoint=endpoint).defer("payload"), status=status)


def webhook_delivery_get(*, endpoint: WebhookEndpoint, delivery_id: int) -> WebhookDelivery:
    delivery = WebhookDelivery.objects.filter(endpoint=endpoint, pk=delivery_id).first()
    if delivery is None:
        raise NotFound("No such delivery.")
    return delivery
