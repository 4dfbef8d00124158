"""Request and response shapes of webhooks out (and the payloads, for the OpenAPI schema)."""

from __future__ import annotations

from rest_framework import serializers

from core.serializers import QueryFilterSerializer, StrictInputSerializer
from outbound.catalogue import EventType
from outbound.models import DeliveryStatus


class EndpointInputSerializer(StrictInputSerializer):
    url = serializers.URLField(max_length=2000)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=EventType.choices),
        required=False,
        max_length=len(EventType.choices),
        help_text="Event types to receive; empty or absent: all of them.",
    )
    description = serializers.CharField(max_length=500, required=False, allow_blank=True)
    enabled = serializers.BooleanField(required=False)

    def validate_events(self, value):
        return sorted(set(value))


class EndpointUpdateSerializer(EndpointInputSerializer):
    url = serializers.URLField(max_length=2000, required=False)


class EndpointOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    url = serializers.URLField()
    description = serializers.CharField()
    events = serializers.ListField(child=serializers.ChoiceField(choices=EventType.choices))
    enabled = serializers.BooleanField()
    disabled_reason = serializers.CharField()
    failing_since = serializers.DateTimeField(allow_null=True)
    last_success_at = serializers.DateTimeField(allow_null=True)
    previous_secret_expires_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class EndpointCreatedSerializer(EndpointOutputSerializer):
    secret = serializers.CharField(help_text="The signing secret (whsec_…). Shown only here.")


class SecretRotatedSerializer(serializers.Serializer):
    secret = serializers.CharField(help_text="The new signing secret (whsec_…). Shown only here.")
    previous_secret_expires_at = serializers.DateTimeField(
        help_text="Until then deliveries are signed with the new and the previous secret."
    )


class DeliveryFilterSerializer(QueryFilterSerializer):
    status = serializers.ChoiceField(choices=DeliveryStatus.choices, required=False)


class DeliveryOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    event_id = serializers.CharField(help_text="The webhook-id header: the same on every attempt.")
    event_type = serializers.CharField()
    status = serializers.ChoiceField(choices=DeliveryStatus.choices)
    attempts = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    last_attempt_at = serializers.DateTimeField(allow_null=True)
    last_status_code = serializers.IntegerField(allow_null=True)
    last_latency_ms = serializers.IntegerField(allow_null=True)
    last_error = serializers.CharField()
    response_excerpt = serializers.CharField()
    next_attempt_at = serializers.SerializerMethodField()
    delivered_at = serializers.DateTimeField(allow_null=True)

    def get_next_attempt_at(self, delivery) -> str | None:
        if delivery.status != DeliveryStatus.PENDING or delivery.next_attempt_at is None:
            return None
        return serializers.DateTimeField().to_representation(delivery.next_attempt_at)
