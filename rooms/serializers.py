"""Request and response shapes for rooms."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.serializers import BoundedDateTimeField, JSONObjectField, QueryFilterSerializer, StrictInputSerializer
from rooms.models import RecordingPolicy, RoomStatus


# A room's settings: what an update may change, and what a create sets (access's RoomInputSerializer).
# (Comments, not docstrings, on these: a serializer's docstring becomes its schema description.)
class RoomUpdateSerializer(StrictInputSerializer):
    title = serializers.CharField(max_length=200, required=False, allow_blank=True)
    opens_at = BoundedDateTimeField(required=False, allow_null=True)
    closes_at = BoundedDateTimeField(required=False, allow_null=True)
    max_participants = serializers.IntegerField(required=False, min_value=0, max_value=1000)
    recording_policy = serializers.ChoiceField(choices=RecordingPolicy.choices, required=False)
    waiting_room = serializers.BooleanField(
        required=False, help_text="Hold guests in a lobby until a host or the application admits them."
    )
    metadata = JSONObjectField(required=False)


# The caller's own id of a room, set once at creation; a base class so that it leads the create's
# fields (access's RoomInputSerializer), as it always has in the schema.
class RoomExternalIdSerializer(StrictInputSerializer):
    external_id = serializers.CharField(max_length=200, required=False, allow_null=True)


class RoomFilterSerializer(QueryFilterSerializer):
    status = serializers.ChoiceField(choices=RoomStatus.choices, required=False)
    external_id = serializers.CharField(max_length=200, required=False)


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
    waiting_room = serializers.BooleanField()
    metadata = serializers.JSONField()
    closed_at = serializers.DateTimeField(allow_null=True)
    close_reason = serializers.CharField()
    provider_closed_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class SessionFilterSerializer(QueryFilterSerializer):
    room = serializers.UUIDField(required=False, source="room_id", help_text="Only sessions of this room.")
    started_after = BoundedDateTimeField(required=False)
    started_before = BoundedDateTimeField(required=False)


class TrackOutputSerializer(serializers.Serializer):
    sid = serializers.CharField(source="provider_track_id")
    kind = serializers.CharField()
    source = serializers.CharField()
    published_at = serializers.DateTimeField(allow_null=True)
    unpublished_at = serializers.DateTimeField(allow_null=True)


class MeasureSerializer(serializers.Serializer):
    median = serializers.FloatField()
    worst = serializers.FloatField(help_text="Highest (round trip, jitter, loss) or lowest (bitrates).")


class QualitySummarySerializer(serializers.Serializer):
    """What this participant's browser reported through the join page (POST /join/{secret}/telemetry)."""

    connections = serializers.IntegerField()
    samples = serializers.IntegerField(help_text="Stats summaries received, one every few seconds.")
    reconnects = serializers.IntegerField()
    ice_failures = serializers.IntegerField()
    connect_failures = serializers.IntegerField()
    relay_used = serializers.BooleanField(help_text="Media went through a TURN relay.")
    candidate_types = serializers.ListField(child=serializers.CharField(), help_text="host, srflx, relay")
    quality_limitations = serializers.ListField(child=serializers.CharField(), help_text="cpu, bandwidth, other")
    rtt_ms = MeasureSerializer(allow_null=True)
    jitter_ms = MeasureSerializer(allow_null=True)
    packet_loss_pct = MeasureSerializer(allow_null=True)
    bitrate_in_kbps = MeasureSerializer(allow_null=True)
    bitrate_out_kbps = MeasureSerializer(allow_null=True)


class ParticipantOutputSerializer(serializers.Serializer):
    sid = serializers.CharField(source="provider_participant_id")
    identity = serializers.CharField()
    display_name = serializers.CharField()
    role = serializers.CharField()
    kind = serializers.CharField()
    invitation_id = serializers.UUIDField(allow_null=True)
    joined_at = serializers.DateTimeField(allow_null=True)
    left_at = serializers.DateTimeField(allow_null=True)
    duration_seconds = serializers.IntegerField(allow_null=True)
    disconnect_reason = serializers.CharField()
    connection_aborted = serializers.BooleanField()
    tracks = TrackOutputSerializer(many=True)
    quality = serializers.SerializerMethodField(help_text="Null when the join page reported nothing.")

    @extend_schema_field(QualitySummarySerializer(allow_null=True))
    def get_quality(self, participant) -> dict | None:
        return self.context.get("quality", {}).get(participant.pk)


class SessionOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    room_id = serializers.UUIDField()
    room_external_id = serializers.CharField(source="room.external_id", allow_null=True)
    provider_session_id = serializers.CharField()
    started_at = serializers.DateTimeField()
    ended_at = serializers.DateTimeField(allow_null=True)
    duration_seconds = serializers.IntegerField(allow_null=True)
    participant_count = serializers.IntegerField()


class SessionDetailSerializer(SessionOutputSerializer):
    participant_count = serializers.SerializerMethodField()
    participants = ParticipantOutputSerializer(many=True)

    def get_participant_count(self, session) -> int:
        return len(session.participants.all())
