"""Thin DRF views of webhooks out: validate, call one service or selector, serialize."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.audit import AuditContext
from core.auth import caller_application
from core.pagination import paginated_response
from core.schema import list_schema
from outbound.selectors import webhook_delivery_get, webhook_delivery_list, webhook_endpoint_get, webhook_endpoint_list
from outbound.serializers import (
    DeliveryFilterSerializer,
    DeliveryOutputSerializer,
    EndpointCreatedSerializer,
    EndpointInputSerializer,
    EndpointOutputSerializer,
    EndpointUpdateSerializer,
    SecretRotatedSerializer,
)
from outbound.services.delivery import webhook_delivery_retry
from outbound.services.endpoints import (
    webhook_endpoint_create,
    webhook_endpoint_delete,
    webhook_endpoint_ping,
    webhook_endpoint_rotate_secret,
    webhook_endpoint_update,
)


# The base of the views below: the schema lists their operations under one tag. (No docstring: a
# view's docstring becomes its operations' description in the schema.)
@extend_schema(tags=["webhook-endpoints"])
class _WebhookEndpointsApi(APIView):
    pass


def _endpoint(request, endpoint_id):
    return webhook_endpoint_get(application=caller_application(request), endpoint_id=endpoint_id)


class EndpointCollectionApi(_WebhookEndpointsApi):
    @list_schema("webhook_endpoints_list", EndpointOutputSerializer)
    def get(self, request):
        endpoints = webhook_endpoint_list(application=caller_application(request))
        return paginated_response(request, self, endpoints, EndpointOutputSerializer)

    @extend_schema(
        operation_id="webhook_endpoints_create",
        request=EndpointInputSerializer,
        responses={201: EndpointCreatedSerializer},
        description="Register a URL for signed events. The signing secret is in this response only. "
        "A URL on a private, loopback or link-local address, or plain http://, is refused (400 url_not_allowed).",
    )
    def post(self, request):
        data = EndpointInputSerializer.validated(request.data)
        endpoint = webhook_endpoint_create(
            application=caller_application(request),
            audit=AuditContext.from_request(request),
            **data,
        )
        return Response(EndpointCreatedSerializer(endpoint).data, status=status.HTTP_201_CREATED)


class EndpointDetailApi(_WebhookEndpointsApi):
    @extend_schema(operation_id="webhook_endpoints_retrieve", responses=EndpointOutputSerializer)
    def get(self, request, endpoint_id):
        return Response(EndpointOutputSerializer(_endpoint(request, endpoint_id)).data)

    @extend_schema(
        operation_id="webhook_endpoints_update",
        request=EndpointUpdateSerializer,
        responses=EndpointOutputSerializer,
        description="Change the URL, events, description, or enable it again (clears disabled_reason).",
    )
    def patch(self, request, endpoint_id):
        endpoint = _endpoint(request, endpoint_id)
        data = EndpointUpdateSerializer.validated(request.data, partial=True)
        endpoint = webhook_endpoint_update(endpoint=endpoint, audit=AuditContext.from_request(request), **data)
        return Response(EndpointOutputSerializer(endpoint).data)

    @extend_schema(operation_id="webhook_endpoints_delete", responses={204: None})
    def delete(self, request, endpoint_id):
        webhook_endpoint_delete(endpoint=_endpoint(request, endpoint_id), audit=AuditContext.from_request(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class EndpointRotateSecretApi(_WebhookEndpointsApi):
    @extend_schema(
        operation_id="webhook_endpoints_rotate_secret",
        request=None,
        responses=SecretRotatedSerializer,
        description="Issue a new signing secret; the previous one keeps signing alongside it for the grace period.",
    )
    def post(self, request, endpoint_id):
        endpoint = webhook_endpoint_rotate_secret(
            endpoint=_endpoint(request, endpoint_id), audit=AuditContext.from_request(request)
        )
        return Response(SecretRotatedSerializer(endpoint).data)


class EndpointTestApi(_WebhookEndpointsApi):
    @extend_schema(
        operation_id="webhook_endpoints_test",
        request=None,
        responses={202: DeliveryOutputSerializer},
        description="Queue a `ping` event to this endpoint; follow it in its deliveries.",
    )
    def post(self, request, endpoint_id):
        delivery = webhook_endpoint_ping(endpoint=_endpoint(request, endpoint_id))
        return Response(DeliveryOutputSerializer(delivery).data, status=status.HTTP_202_ACCEPTED)


class DeliveryListApi(_WebhookEndpointsApi):
    @list_schema("webhook_deliveries_list", DeliveryOutputSerializer, filters=DeliveryFilterSerializer)
    def get(self, request, endpoint_id):
        endpoint = _endpoint(request, endpoint_id)
        filters = DeliveryFilterSerializer.validated(request.query_params)
        deliveries = webhook_delivery_list(endpoint=endpoint, **filters)
        return paginated_response(request, self, deliveries, DeliveryOutputSerializer)


class DeliveryRetryApi(_WebhookEndpointsApi):
    @extend_schema(
        operation_id="webhook_deliveries_retry",
        request=None,
        responses={202: DeliveryOutputSerializer},
        description="Send a delivered or failed delivery again now, with the same webhook-id (409 when pending).",
    )
    def post(self, request, endpoint_id, delivery_id):
        delivery = webhook_delivery_get(endpoint=_endpoint(request, endpoint_id), delivery_id=delivery_id)
        delivery = webhook_delivery_retry(delivery=delivery)
        return Response(DeliveryOutputSerializer(delivery).data, status=status.HTTP_202_ACCEPTED)
