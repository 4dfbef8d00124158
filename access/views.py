"""Thin DRF views for join links and credentials. The join endpoint is public and rate limited."""

from __future__ import annotations

from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from access.selectors import invitation_by_secret, invitation_get, invitation_list, room_attendance
from access.serializers import (
    CredentialsSerializer,
    InvitationCreatedSerializer,
    InvitationInputSerializer,
    InvitationOutputSerializer,
    InvitationRevokedSerializer,
    JoinCredentialsSerializer,
    JoinWaitingSerializer,
    LobbyEntrySerializer,
    ParticipantIdentitySerializer,
    ParticipantRemovedSerializer,
    RoomAttendanceSerializer,
    RoomCreatedSerializer,
    RoomInputSerializer,
    RoomLobbySerializer,
    TelemetryAcceptedSerializer,
    TelemetryInputSerializer,
    TokenInputSerializer,
    created_invitation_data,
    credentials_data,
)
from access.services import (
    LobbyWaiting,
    consent_record_by_link,
    invitation_create,
    invitation_redeem,
    invitation_revoke,
    invitation_url,
    lobby_entry_decide,
    lobby_list,
    participant_remove,
    room_create_with_links,
    token_issue,
)
from core.audit import AuditContext
from core.auth import caller_application
from core.errors import Gone, PayloadTooLarge
from core.pagination import paginated_response
from core.schema import list_schema
from core.throttling import JoinTelemetryThrottle, JoinThrottled
from recordings.selectors import consent_requirement
from recordings.serializers import ConsentEventSerializer, LinkConsentInputSerializer
from rooms.selectors import room_get
from rooms.serializers import RoomOutputSerializer
from rooms.services import telemetry_record
from rooms.views import RoomListApi


class RoomInvitationsApi(APIView):
    @list_schema("invitations_list", InvitationOutputSerializer)
    def get(self, request, room_id):
        room = room_get(application=caller_application(request), room_id=room_id)
        return paginated_response(request, self, invitation_list(room=room), InvitationOutputSerializer)

    @extend_schema(
        operation_id="invitations_create",
        request=InvitationInputSerializer,
        responses={201: InvitationCreatedSerializer},
    )
    def post(self, request, room_id):
        room = room_get(application=caller_application(request), room_id=room_id)
        data = InvitationInputSerializer.validated(request.data)
        invitation, secret = invitation_create(room=room, audit=AuditContext.from_request(request), **data)
        return Response(created_invitation_data(invitation, invitation_url(secret)), status=status.HTTP_201_CREATED)


class InvitationDetailApi(APIView):
    @extend_schema(operation_id="invitations_retrieve", responses=InvitationOutputSerializer)
    def get(self, request, invitation_id):
        invitation = invitation_get(application=caller_application(request), invitation_id=invitation_id)
        return Response(InvitationOutputSerializer(invitation).data)

    @extend_schema(
        operation_id="invitations_revoke",
        responses={200: InvitationRevokedSerializer},
        description="Revoke the link (idempotent) and disconnect its holder if connected.",
    )
    def delete(self, request, invitation_id):
        invitation = invitation_get(application=caller_application(request), invitation_id=invitation_id)
        removed = invitation_revoke(invitation=invitation, audit=AuditContext.from_request(request))
        return Response({**InvitationOutputSerializer(invitation).data, "participant_removed": removed})


class RoomTokenApi(APIView):
    @extend_schema(operation_id="tokens_issue", request=TokenInputSerializer, responses={200: CredentialsSerializer})
    def post(self, request, room_id):
        room = room_get(application=caller_application(request), room_id=room_id)
        data = TokenInputSerializer.validated(request.data)
        issued = token_issue(room=room, audit=AuditContext.from_request(request), **data)
        return Response(credentials_data(issued))


class ParticipantRemoveApi(APIView):
    @extend_schema(
        operation_id="participants_remove",
        request=None,
        responses={200: ParticipantRemovedSerializer},
        description="Remove a participant: disconnect the identity, revoke its links and mint no token for it in "
        "this room again (403 participant_removed) until a link or token is created with readmit: true. A rejoin "
        "with a token minted earlier is removed again.",
    )
    def post(self, request, room_id, identity):
        room = room_get(application=caller_application(request), room_id=room_id)
        serializer = ParticipantIdentitySerializer(data={"identity": identity})
        serializer.is_valid(raise_exception=True)
        removed = participant_remove(
            room=room, identity=serializer.validated_data["identity"], audit=AuditContext.from_request(request)
        )
        return Response({"removed": removed})


# The base of the public /join/{secret}... views: the link's secret is the only credential, so
# neither authentication nor permission; throttled per link. (No docstring: a view's docstring
# becomes its operations' description in the schema.)
@extend_schema(auth=[])
class _PublicJoinApi(JoinThrottled, APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]


class JoinApi(_PublicJoinApi):
    """Public: a join link's secret is the only credential."""

    @extend_schema(
        operation_id="join_redeem",
        request=None,
        responses={200: JoinCredentialsSerializer, 202: JoinWaitingSerializer},
        description="Credentials for the link's holder; in a room with a waiting room, a guest not yet let in "
        "gets 202 with their lobby entry instead (and 403 lobby_denied once turned away).",
    )
    def post(self, request, secret):
        try:
            issued = invitation_redeem(secret=secret, audit=AuditContext.from_request(request))
        except LobbyWaiting as waiting:
            body = {"waiting": True, "lobby_entry": LobbyEntrySerializer(waiting.entry).data}
            return Response(body, status=status.HTTP_202_ACCEPTED)
        consent = consent_requirement(room=issued.room, identity=issued.identity)
        return Response({**credentials_data(issued), "consent": consent})


class JoinTelemetryApi(_PublicJoinApi):
    """Public: the join page reports what the browser sees of the call."""

    throttle_classes = [JoinTelemetryThrottle]

    @extend_schema(
        operation_id="join_telemetry",
        request=TelemetryInputSerializer,
        responses={202: TelemetryAcceptedSerializer},
        description="Connection states, ICE failures, candidate types and stats summaries from the join page, "
        "kept per connection and summarised per participant in GET /sessions/{id}. At most "
        "CONVENE_TELEMETRY_MAX_BYTES per body and CONVENE_TELEMETRY_RATE_LIMIT per link.",
    )
    def post(self, request, secret):
        if len(request.body) > settings.CONVENE_TELEMETRY_MAX_BYTES:
            raise PayloadTooLarge(details={"max_bytes": settings.CONVENE_TELEMETRY_MAX_BYTES})
        invitation = invitation_by_secret(secret=secret)
        if invitation.revoked_at is not None:
            raise Gone("This link has been revoked.", code="link_revoked")
        data = TelemetryInputSerializer.validated(request.data)
        telemetry_record(
            room=invitation.room,
            identity=invitation.identity,
            invitation=invitation,
            connection_id=data["connection_id"],
            provider=data.get("provider", ""),
            events=data["events"],
            user_agent=request.headers.get("User-Agent", ""),
        )
        return Response({"accepted": len(data["events"])}, status=status.HTTP_202_ACCEPTED)


class RoomLobbyApi(APIView):
    @extend_schema(operation_id="rooms_lobby", responses=RoomLobbySerializer)
    def get(self, request, room_id):
        room = room_get(application=caller_application(request), room_id=room_id)
        entries = LobbyEntrySerializer(lobby_list(room=room), many=True).data
        return Response({"room_id": room.pk, "results": entries})


class RoomLobbyDecisionApi(APIView):
    decision = ""

    @extend_schema(request=None, responses=LobbyEntrySerializer)
    def post(self, request, room_id, entry_id):
        room = room_get(application=caller_application(request), room_id=room_id)
        entry = lobby_entry_decide(
            room=room, entry_id=entry_id, decision=self.decision, audit=AuditContext.from_request(request)
        )
        return Response(LobbyEntrySerializer(entry).data)


class JoinLobbyDecisionApi(_PublicJoinApi):
    """Public: a host's link lets a guest in, or turns them away, from the host's join page."""

    decision = ""

    @extend_schema(request=None, responses=LobbyEntrySerializer)
    def post(self, request, secret, entry_id):
        host = invitation_by_secret(secret=secret)
        entry = lobby_entry_decide(
            room=host.room,
            entry_id=entry_id,
            decision=self.decision,
            audit=AuditContext.from_request(request),
            host=host,
        )
        return Response(LobbyEntrySerializer(entry).data)


class RoomAttendanceApi(APIView):
    @extend_schema(operation_id="rooms_attendance", responses=RoomAttendanceSerializer)
    def get(self, request, room_id):
        room = room_get(application=caller_application(request), room_id=room_id)
        rows = room_attendance(room=room, now=timezone.now())
        return Response(RoomAttendanceSerializer({"room_id": room.pk, "results": rows}).data)


class RoomCollectionApi(RoomListApi):
    @extend_schema(
        operation_id="rooms_create",
        request=RoomInputSerializer,
        responses={201: RoomCreatedSerializer, 200: RoomCreatedSerializer},
        description="Create a room. Idempotent on external_id: the same external_id returns the existing "
        "room with 200 (its join links are not shown again).",
    )
    def post(self, request):
        data = RoomInputSerializer.validated(request.data)
        room, created, links = room_create_with_links(
            application=caller_application(request),
            audit=AuditContext.from_request(request),
            **data,
        )
        body = {
            **RoomOutputSerializer(room).data,
            "participants": [created_invitation_data(i, invitation_url(s)) for i, s in links],
        }
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class JoinConsentApi(_PublicJoinApi):
    """Public: a link holder records their own decision."""

    @extend_schema(
        operation_id="join_consent",
        request=LinkConsentInputSerializer,
        responses={201: ConsentEventSerializer},
    )
    def post(self, request, secret):
        invitation = invitation_by_secret(secret=secret)
        data = LinkConsentInputSerializer.validated(request.data)
        event = consent_record_by_link(invitation=invitation, audit=AuditContext.from_request(request), **data)
        return Response(ConsentEventSerializer(event).data, status=status.HTTP_201_CREATED)
