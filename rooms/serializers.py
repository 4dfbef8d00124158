"""Request and response shapes for rooms."""

from __future__ import annotations

from rest_framework import serializers

from core.serializers import JSONObjectField, StrictInputSerializer
from rooms.models import RecordingPolicy, RoomStatus
from tokens.serializers import InvitationCreatedSerializer, InvitationInputSerializer


class RoomInputSerializer(StrictInputSerializer):
    external_id = serializers.CharField(max_length=200, required=False, allow_null=True)
    title = serializers.CharField(max_length=200, required=False, allow_blank=True)
    opens_at = serializers.DateTimeField(required=False, allow_null=True)
    closes_at = serializers.DateTimeField(required=False, allow_null=True)
    max_participants = serializers.IntegerField(required=False, min_value=0, max_value=1000)
    recording_policy = serializers.ChoiceField(choices=RecordingPolicy.choices, required=False)
    metadata = JSONObjectField(required=False)
    participants = InvitationInputSerializer(many=True, required=False, max_length=50)

    def validate_participants(self, value):
        identities = [p["identity"] for p in value if p.get("identity")]
        if len(identities) != len(set(identities)):
            raise serializers.ValidationError("Participant identities must be distinct.", code="duplicate_identity")
        return value


class RoomUpdateSerializer(StrictInputSerializer):
    title = serializers.CharField(max_length=200, required=False, allow_blank=True)
    opens_at = serializers.DateTimeField(required=False, allow_null=True)
    closes_at = serializers.DateTimeField(required=False, allow_null=True)
    max_participants = serializers.IntegerField(required=False, min_value=0, max_value=1000)
    recording_policy = serializers.ChoiceField(choices=RecordingPolicy.choices, required=False)
    metadata = JSONObjectField(required=False)


class RoomFilterSerializer(StrictInputSerializer):
    status = serializers.ChoiceField(choices=RoomStatus.choices, required=False)
    external_id = serializers.CharField(max_length=200, required=False)
    limit = serializers.IntegerField(required=False, min_value=1)
    offset = serializers.IntegerField(required=False, min_value=0)


class RoomOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    external_id = serializers.CharField(allow_null=True)
    title = serializers.CharField()
    provider = serializers.CharField()
    provider_room_name = serializers.CharField()
    status = serializers.ChoiceField(choices=RoomStatus.choices)
    opens_at = serializers.DateTimeField(allow_null=True)
    closes_at = serializers.DateTimeField(allow_null=True)
    max_participants = serializers.IntegerField()
    recording_policy = serializers.ChoiceField(choices=RecordingPolicy.choices)
    metadata = serializers.JSONField()
    closed_at = serializers.DateTimeField(allow_null=True)
    close_reason = serializers.CharField()
    provider_closed_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class RoomCreatedSerializer(RoomOutputSerializer):
    participants = InvitationCreatedSerializer(
        many=True, help_text="Join links made with the room (first create only)."
    )
