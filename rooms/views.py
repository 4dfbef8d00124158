"""Thin DRF views for rooms: validate, call one service or selector, serialize."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from core.audit import AuditContext
from core.auth import caller_application
from core.pagination import paginated_response
from core.schema import list_schema
from rooms.models import CloseReason
from rooms.selectors import room_get, room_list, session_get, session_list
from rooms.serializers import (
    RoomFilterSerializer,
    RoomOutputSerializer,
    RoomUpdateSerializer,
    SessionDetailSerializer,
    SessionFilterSerializer,
    SessionOutputSerializer,
)
from rooms.services import room_close, room_update, telemetry_by_participant


# GET /api/v1/rooms; access.views.RoomCollectionApi adds the create (a room with its join links).
# (A comment, not a docstring: drf-spectacular would publish a docstring as the operation's description.)
class RoomListApi(APIView):
    @list_schema("rooms_list", RoomOutputSerializer, filters=RoomFilterSerializer)
    def get(self, request):
        filters = RoomFilterSerializer.validated(request.query_params)
        rooms = room_list(application=caller_application(request), **filters)
        return paginated_response(request, self, rooms, RoomOutputSerializer)


class RoomDetailApi(APIView):
    @extend_schema(operation_id="rooms_retrieve", responses=RoomOutputSerializer)
    def get(self, request, room_id):
        return Response(RoomOutputSerializer(room_get(application=caller_application(request), room_id=room_id)).data)

    @extend_schema(operation_id="rooms_update", request=RoomUpdateSerializer, responses=RoomOutputSerializer)
    def patch(self, request, room_id):
        room = room_get(application=caller_application(request), room_id=room_id)
        data = RoomUpdateSerializer.validated(request.data, partial=True)
        room = room_update(room=room, audit=AuditContext.from_request(request), **data)
        return Response(RoomOutputSerializer(room).data)


class RoomCloseApi(APIView):
    @extend_schema(
        operation_id="rooms_close",
        request=None,
        responses=RoomOutputSerializer,
    )
    def post(self, request, room_id):
        room = room_get(application=caller_application(request), room_id=room_id)
        room = room_close(room=room, reason=CloseReason.CLOSED_BY_API, audit=AuditContext.from_request(request))
        return Response(RoomOutputSerializer(room).data)


class SessionListApi(APIView):
    @list_schema("sessions_list", SessionOutputSerializer, filters=SessionFilterSerializer)
    def get(self, request):
        filters = SessionFilterSerializer.validated(request.query_params)
        sessions = session_list(application=caller_application(request), **filters)
        return paginated_response(request, self, sessions, SessionOutputSerializer)


class SessionDetailApi(APIView):
    @extend_schema(operation_id="sessions_retrieve", responses=SessionDetailSerializer)
    def get(self, request, session_id):
        session = session_get(application=caller_application(request), session_id=session_id)
        quality = telemetry_by_participant(session=session)
        return Response(SessionDetailSerializer(session, context={"quality": quality}).data)
