"""Request and response shapes for join links and join credentials, a room created with its
links, and the attendance per link."""

from __future__ import annotations

from rest_framework import serializers

from access.models import LobbyStatus
from access.roles import role_names
from core.serializers import IDENTITY_PATTERN, BoundedDateTimeField, StrictInputSerializer
from providers.registry import KNOWN_PROVIDERS
from rooms.serializers import RoomExternalIdSerializer, RoomOutputSerializer, RoomUpdateSerializer


class RoleField(serializers.CharField):
    """A role name from the configured role table; an unknown one is a 400 naming the roles."""

    def __init__(self, **kwargs):
        super().__init__(max_length=40, **kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if value not in role_names():
            raise serializers.ValidationError(f"Unknown role; one of {role_names()}.", code="unknown_role")
        return value


READMIT_HELP = (
    "Let in again an identity that was removed from the room or whose link was revoked. Without it, "
    "a link for such an identity is refused (409 readmit_required) and no token is minted for it."
)


class InvitationInputSerializer(StrictInputSerializer):
    display_name = serializers.CharField(max_length=200)
    role = RoleField()
    identity = serializers.RegexField(IDENTITY_PATTERN, required=False)
    max_uses = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=1000)
    expires_at = BoundedDateTimeField(required=False, allow_null=True)
    metadata = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    readmit = serializers.BooleanField(required=False, default=False, help_text=READMIT_HELP)


class InvitationOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    room_id = serializers.UUIDField()
    role = serializers.CharField()
    display_name = serializers.CharField()
    identity = serializers.CharField()
    max_uses = serializers.IntegerField(allow_null=True)
    uses = serializers.IntegerField()
    expires_at = serializers.DateTimeField(allow_null=True)
    revoked_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()


class InvitationCreatedSerializer(InvitationOutputSerializer):
    url = serializers.CharField(help_text="The join link. Shown only in this response; Convene keeps only a hash.")


class InvitationRevokedSerializer(InvitationOutputSerializer):
    participant_removed = serializers.BooleanField(
        help_text="False when the media server could not be reached to disconnect the holder."
    )


class TokenInputSerializer(StrictInputSerializer):
    identity = serializers.RegexField(IDENTITY_PATTERN)
    display_name = serializers.CharField(max_length=200)
    role = RoleField()
    metadata = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    readmit = serializers.BooleanField(required=False, default=False, help_text=READMIT_HELP)


class ParticipantIdentitySerializer(serializers.Serializer):
    """The identity in POST /rooms/{id}/participants/{identity}/remove (a path parameter)."""

    identity = serializers.RegexField(IDENTITY_PATTERN)


class ParticipantRemovedSerializer(serializers.Serializer):
    removed = serializers.BooleanField(
        help_text="True when the media server confirmed the participant is not connected; false when it could "
        "not be reached: the removal is then retried in the background until it succeeds or the room closes."
    )


class ConsentRequirementSerializer(serializers.Serializer):
    required = serializers.BooleanField(help_text="The room may be recorded: ask for consent before joining.")
    notice_version = serializers.IntegerField(allow_null=True)
    notice_hash = serializers.CharField(allow_null=True)
    notice_text = serializers.CharField(allow_null=True)
    consented = serializers.BooleanField(help_text="This person already has an active consent.")


class IceServerSerializer(serializers.Serializer):
    """An RTCIceServer, as RTCPeerConnection's iceServers takes it."""

    urls = serializers.ListField(child=serializers.CharField())
    username = serializers.CharField(required=False, help_text="TURN only: `<expiry unix time>:<identity>`.")
    credential = serializers.CharField(required=False, help_text="TURN only: valid until the username's expiry.")


class CredentialsSerializer(serializers.Serializer):
    provider = serializers.CharField()
    server_url = serializers.CharField()
    token = serializers.CharField()
    expires_at = serializers.DateTimeField()
    room_id = serializers.UUIDField()
    room_name = serializers.CharField()
    identity = serializers.CharField()
    display_name = serializers.CharField()
    role = serializers.CharField()
    ice_servers = IceServerSerializer(
        many=True,
        required=False,
        help_text="RTCIceServer entries (STUN, TURN with short-lived credentials) for the browser's "
        "RTCPeerConnection. Always there for Janus rooms; for LiveKit rooms only when Convene has TURN configured "
        "(LiveKit hands out its own ICE servers otherwise, and an empty list passed on would replace them).",
    )


def credentials_data(issued) -> dict:
    data = {
        "provider": issued.credentials.provider,
        "server_url": issued.credentials.server_url,
        "token": issued.credentials.token,
        "expires_at": issued.credentials.expires_at,
        "room_id": issued.room.pk,
        "room_name": issued.room.provider_room_name,
        "identity": issued.identity,
        "display_name": issued.display_name,
        "role": issued.role,
    }
    if issued.credentials.ice_servers is not None:
        data["ice_servers"] = list(issued.credentials.ice_servers)
    return data


def created_invitation_data(invitation, url: str) -> dict:
    return {**InvitationOutputSerializer(invitation).data, "url": url}


class JoinCredentialsSerializer(CredentialsSerializer):
    consent = ConsentRequirementSerializer()


class LobbyEntrySerializer(serializers.Serializer):
    id = serializers.UUIDField()
    room_id = serializers.UUIDField()
    identity = serializers.CharField()
    display_name = serializers.CharField()
    status = serializers.ChoiceField(choices=LobbyStatus.values)
    created_at = serializers.DateTimeField(help_text="When the guest started waiting.")
    last_seen_at = serializers.DateTimeField(help_text="When the guest's page last listened for the decision.")
    decided_at = serializers.DateTimeField(allow_null=True)
    decided_by = serializers.CharField(help_text='"application:<id>", "link:<invitation id>" or "expiry".')


class RoomLobbySerializer(serializers.Serializer):
    room_id = serializers.UUIDField()
    results = LobbyEntrySerializer(many=True, help_text="Guests waiting now, first come first.")


class JoinWaitingSerializer(serializers.Serializer):
    waiting = serializers.BooleanField(help_text="Always true: the room has a waiting room and no host let you in yet.")
    lobby_entry = LobbyEntrySerializer()


TELEMETRY_EVENT_TYPES = [
    "connecting",
    "joined",
    "connection_state",
    "ice_error",
    "ice_failed",
    "reconnecting",
    "reconnected",
    "connect_failed",
    "ended",
    "stats",
]
PEER_CONNECTION_STATES = ["new", "connecting", "connected", "disconnected", "failed", "closed"]


def _measure(max_value: float) -> serializers.FloatField:
    return serializers.FloatField(required=False, allow_null=True, min_value=0, max_value=max_value)


class TelemetryEventSerializer(StrictInputSerializer):
    """One thing the page saw; which optional fields apply depends on `type`."""

    type = serializers.ChoiceField(choices=TELEMETRY_EVENT_TYPES)
    at = BoundedDateTimeField(help_text="When the browser saw it.")
    state = serializers.ChoiceField(choices=PEER_CONNECTION_STATES, required=False)
    participant_sid = serializers.CharField(required=False, allow_blank=True, max_length=64)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=20)
    error_code = serializers.IntegerField(required=False, min_value=0, max_value=999)
    message = serializers.CharField(required=False, allow_blank=True, max_length=200)
    rtt_ms = _measure(600_000)
    jitter_ms = _measure(600_000)
    packet_loss_pct = _measure(100)
    bitrate_in_kbps = _measure(10_000_000)
    bitrate_out_kbps = _measure(10_000_000)
    frames_decoded = serializers.IntegerField(required=False, min_value=0, max_value=2**31 - 1)
    quality_limitation = serializers.ChoiceField(
        choices=["", "none", "cpu", "bandwidth", "other"], required=False, allow_blank=True
    )
    candidate_type = serializers.ChoiceField(
        choices=["", "host", "srflx", "prflx", "relay"], required=False, allow_blank=True
    )


class TelemetryInputSerializer(StrictInputSerializer):
    connection_id = serializers.UUIDField(help_text="Chosen by the page, one per connection to the media server.")
    provider = serializers.ChoiceField(choices=["", "livekit", "janus"], required=False, allow_blank=True)
    events = serializers.ListField(child=TelemetryEventSerializer(), min_length=1, max_length=50)


class TelemetryAcceptedSerializer(serializers.Serializer):
    accepted = serializers.IntegerField(help_text="How many events were stored.")


class AttendanceSerializer(serializers.Serializer):
    invitation_id = serializers.UUIDField(allow_null=True, help_text="Null for people who joined with an app token.")
    identity = serializers.CharField()
    display_name = serializers.CharField()
    role = serializers.CharField()
    joined = serializers.BooleanField()
    first_joined_at = serializers.DateTimeField(allow_null=True)
    last_left_at = serializers.DateTimeField(allow_null=True)
    present_now = serializers.BooleanField()
    connections = serializers.IntegerField()
    total_seconds = serializers.IntegerField(help_text="Time present; overlapping connections count once.")
    no_show = serializers.BooleanField()


class RoomAttendanceSerializer(serializers.Serializer):
    room_id = serializers.UUIDField()
    results = AttendanceSerializer(many=True)


# A create: the external id, the room's settings, then what only a create takes.
class RoomInputSerializer(RoomExternalIdSerializer, RoomUpdateSerializer):
    provider = serializers.ChoiceField(
        choices=KNOWN_PROVIDERS,
        required=False,
        help_text="The media server for this room (default: the server's CONVENE_DEFAULT_PROVIDER); "
        "it must be configured on this server.",
    )
    participants = InvitationInputSerializer(many=True, required=False, max_length=50)

    def validate_participants(self, value):
        identities = [p["identity"] for p in value if p.get("identity")]
        if len(identities) != len(set(identities)):
            raise serializers.ValidationError("Participant identities must be distinct.", code="duplicate_identity")
        return value


class RoomCreatedSerializer(RoomOutputSerializer):
    participants = InvitationCreatedSerializer(
        many=True, help_text="Join links made with the room (first create only)."
    )
