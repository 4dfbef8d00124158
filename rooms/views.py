"""Thin DRF views for rooms: validate, call one service or selector, serialize."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from core.audit import AuditContext
from core.auth import caller_application
from core.pagination import Pagination
from core.schema import paginated
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
    @extend_schema(
        operation_id="rooms_list",
        parameters=[RoomFilterSerializer],
        responses=paginated(RoomOutputSerializer),
    )
    def get(self, request):
        filters = RoomFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        rooms = room_list(
            application=caller_application(request),
            status=filters.validated_data.get("status"),
            external_id=filters.validated_data.get("external_id"),
        )
        paginator = Pagination()
        page = paginator.paginate_queryset(rooms, request, view=self)
        return paginator.get_paginated_response(RoomOutputSerializer(page, many=True).data)


class RoomDetailApi(APIView):
    @extend_schema(operation_id="rooms_retrieve", responses=RoomOutputSerializer)
    def get(self, request, room_id):
        return Response(RoomOutputSerializer(room_get(application=caller_application(request), room_id=room_id)).data)

    @extend_schema(operation_id="rooms_update", request=RoomUpdateSerializer, responses=RoomOutputSerializer)
    def patch(self, request, room_id):
        room = room_get(application=caller_application(request), room_id=room_id)
        serializer = RoomUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        room = room_update(room=room, audit=AuditContext.from_request(request), **serializer.validated_data)
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
    @extend_schema(
        operation_id="sessions_list", parameters=[SessionFilterSerializer], responses=paginated(SessionOutputSerializer)
    )
    def get(self, request):
        filters = SessionFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        data = filters.validated_data
        sessions = session_list(
            application=caller_application(request),
            room_id=data.get("room"),
            started_after=data.get("started_after"),
            started_before=data.get("started_before"),
        )
        paginator = Pagination()
        page = paginator.paginate_queryset(sessions, request, view=self)
        return paginator.get_paginated_response(SessionOutputSerializer(page, many=True).data)


class SessionDetailApi(APIView):
    @extend_schema(operation_id="sessions_retrieve", responses=SessionDetailSerializer)
    def get(self, request, session_id):
        session = session_get(application=caller_application(request), session_id=session_id)
        quality = telemetry_by_participant(session=session)
        return Response(SessionDetailSerializer(session, context={"quality": quality}).data)
