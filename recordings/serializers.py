"""Request and response shapes for consent and recordings. Playback URLs appear only in the
playback response."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.serializers import IDENTITY_PATTERN, QueryFilterSerializer, StrictInputSerializer
from recordings.models import ConsentDecision, ConsentMethod, RecordingStatus
from rooms.serializers import ParticipantOutputSerializer


class LinkConsentInputSerializer(StrictInputSerializer):
    decision = serializers.ChoiceField(choices=ConsentDecision.choices)
    notice_version = serializers.IntegerField(required=False, min_value=1)


class AppConsentInputSerializer(LinkConsentInputSerializer):
    identity = serializers.RegexField(IDENTITY_PATTERN)
    method = serializers.ChoiceField(
        choices=[ConsentMethod.API, ConsentMethod.VERBAL], required=False, default=ConsentMethod.API
    )
    attested_by = serializers.CharField(required=False, allow_blank=True, max_length=200)


class ConsentEventSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    identity = serializers.CharField()
    decision = serializers.CharField()
    notice_version = serializers.IntegerField()
    notice_hash = serializers.CharField()
    method = serializers.CharField()
    attested_by = serializers.CharField()
    session_id = serializers.UUIDField(source="call_session_id", allow_null=True)
    invitation_id = serializers.UUIDField(allow_null=True)


class ConsentNoticeInputSerializer(StrictInputSerializer):
    # Kept exactly as sent (no trimming): the text's SHA-256 is what each consent row records.
    text = serializers.CharField(max_length=20000, trim_whitespace=False)

    def validate_text(self, text: str) -> str:
        if not text.strip():
            raise serializers.ValidationError("The notice needs some text.", code="blank")
        return text


class ConsentNoticeSerializer(serializers.Serializer):
    version = serializers.IntegerField(help_text="1, 2, ... per application; the newest is in force.")
    text = serializers.CharField()
    text_hash = serializers.CharField(help_text="SHA-256 of the exact text, hex.")
    created_at = serializers.DateTimeField()


class ConsentStateSerializer(serializers.Serializer):
    identity = serializers.CharField()
    consented = serializers.BooleanField(help_text="An active grant for the current notice version.")
    last_decision = serializers.CharField()
    last_decision_at = serializers.DateTimeField()
    notice_version = serializers.IntegerField()


class RoomConsentsSerializer(serializers.Serializer):
    room_id = serializers.UUIDField()
    notice = ConsentNoticeSerializer(allow_null=True)
    participants = ConsentStateSerializer(many=True)
    ledger = ConsentEventSerializer(many=True)


class RecordingFilterSerializer(QueryFilterSerializer):
    room = serializers.UUIDField(required=False, source="room_id")
    status = serializers.ChoiceField(choices=RecordingStatus.choices, required=False)


class RecordingSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    room_id = serializers.UUIDField()
    session_id = serializers.UUIDField(source="call_session_id", allow_null=True)
    status = serializers.ChoiceField(choices=RecordingStatus.choices)
    provider = serializers.CharField()
    provider_recording_id = serializers.CharField()
    trigger = serializers.CharField()
    started_by = serializers.CharField()
    started_at = serializers.DateTimeField(allow_null=True)
    ended_at = serializers.DateTimeField(allow_null=True)
    duration_seconds = serializers.IntegerField(allow_null=True)
    size_bytes = serializers.IntegerField(allow_null=True)
    error = serializers.CharField()
    stop_reason = serializers.CharField()
    retention_until = serializers.DateTimeField(allow_null=True)
    legal_hold = serializers.BooleanField(help_text="Never deleted while true (POST /recordings/{id}/legal-hold).")
    legal_hold_reason = serializers.CharField(help_text="Why the legal hold was last set or released.")
    legal_hold_changed_at = serializers.DateTimeField(allow_null=True)
    deleted_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()


class LegalHoldInputSerializer(StrictInputSerializer):
    legal_hold = serializers.BooleanField()
    reason = serializers.CharField(max_length=500, help_text="Why (a matter, a request); kept on the recording.")


class RecordingDetailSerializer(RecordingSerializer):
    """Serializes the Recording itself (not a dict built from RecordingSerializer's output, whose
    keys would miss the sources such as session_id's call_session_id)."""

    consent_snapshot = serializers.JSONField(help_text="Who was present at the start and the consent each gave.")
    participants = serializers.SerializerMethodField(help_text="Who was in the recorded session.")

    @extend_schema_field(ParticipantOutputSerializer(many=True))
    def get_participants(self, recording) -> list:
        if recording.call_session is None:
            return []
        participants = recording.call_session.participants.prefetch_related("tracks")
        return ParticipantOutputSerializer(participants, many=True).data


class PlaybackSerializer(serializers.Serializer):
    url = serializers.CharField(help_text="Valid for at most 5 minutes; not stored by Convene.")
    expires_at = serializers.DateTimeField()
