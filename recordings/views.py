"""Thin DRF views for consent, recordings and their review."""

from __future__ import annotations

from django.http import FileResponse, HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from core.audit import AuditContext
from core.auth import caller_application
from core.pagination import paginated_response
from core.schema import list_schema
from recordings.models import StopReason
from recordings.selectors import consent_notice_list, recording_get, room_consents
from recordings.serializers import (
    AppConsentInputSerializer,
    ConsentEventSerializer,
    ConsentNoticeInputSerializer,
    ConsentNoticeSerializer,
    LegalHoldInputSerializer,
    PlaybackSerializer,
    RecordingDetailSerializer,
    RecordingFilterSerializer,
    RecordingSerializer,
    RoomConsentsSerializer,
)
from recordings.services import review
from recordings.services.consent import consent_notice_publish, consent_record
from recordings.services.recording import recording_start, recording_stop
from recordings.streaming import ranged_file_response
from rooms.selectors import room_get


class ConsentNoticesApi(APIView):
    @list_schema("consent_notices_list", ConsentNoticeSerializer)
    def get(self, request):
        notices = consent_notice_list(application=caller_application(request))
        return paginated_response(request, self, notices, ConsentNoticeSerializer)

    @extend_schema(
        operation_id="consent_notices_publish",
        request=ConsentNoticeInputSerializer,
        responses={201: ConsentNoticeSerializer, 200: ConsentNoticeSerializer},
        description="Publish the next version of the notice people agree to. The text of the notice "
        "already in force is answered with that notice and 200 (nothing new is published).",
    )
    def post(self, request):
        data = ConsentNoticeInputSerializer.validated(request.data)
        notice, created = consent_notice_publish(
            application=caller_application(request),
            audit=AuditContext.from_request(request),
            **data,
        )
        return Response(
            ConsentNoticeSerializer(notice).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


class RoomConsentsApi(APIView):
    @extend_schema(operation_id="consents_list", responses=RoomConsentsSerializer)
    def get(self, request, room_id):
        room = room_get(application=caller_application(request), room_id=room_id)
        return Response(RoomConsentsSerializer(room_consents(room=room)).data)

    @extend_schema(
        operation_id="consents_record", request=AppConsentInputSerializer, responses={201: ConsentEventSerializer}
    )
    def post(self, request, room_id):
        room = room_get(application=caller_application(request), room_id=room_id)
        data = AppConsentInputSerializer.validated(request.data)
        event = consent_record(room=room, audit=AuditContext.from_request(request), **data)
        return Response(ConsentEventSerializer(event).data, status=status.HTTP_201_CREATED)


class RoomRecordingsApi(APIView):
    @extend_schema(operation_id="recordings_start", request=None, responses={201: RecordingSerializer})
    def post(self, request, room_id):
        room = room_get(application=caller_application(request), room_id=room_id)
        recording = recording_start(room=room, audit=AuditContext.from_request(request))
        return Response(RecordingSerializer(recording).data, status=status.HTTP_201_CREATED)


class RecordingStopApi(APIView):
    @extend_schema(operation_id="recordings_stop", request=None, responses=RecordingSerializer)
    def post(self, request, recording_id):
        recording = recording_get(applications=[caller_application(request)], recording_id=recording_id)
        recording = recording_stop(recording=recording, reason=StopReason.API, audit=AuditContext.from_request(request))
        return Response(RecordingSerializer(recording).data)


class RecordingListApi(APIView):
    permission_classes = [IsAuthenticated]

    @list_schema("recordings_list", RecordingSerializer, filters=RecordingFilterSerializer)
    def get(self, request):
        filters = RecordingFilterSerializer.validated(request.query_params)
        recordings = review.recording_review_list(
            caller=request.user, audit=AuditContext.from_request(request), **filters
        )
        return paginated_response(request, self, recordings, RecordingSerializer)


class RecordingDetailApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="recordings_retrieve", responses=RecordingDetailSerializer)
    def get(self, request, recording_id):
        recording = review.recording_review_view(
            caller=request.user, audit=AuditContext.from_request(request), recording_id=recording_id
        )
        return Response(RecordingDetailSerializer(recording).data)

    @extend_schema(operation_id="recordings_delete", responses=RecordingSerializer)
    def delete(self, request, recording_id):
        recording = review.recording_review_delete(
            caller=request.user, audit=AuditContext.from_request(request), recording_id=recording_id
        )
        return Response(RecordingSerializer(recording).data)


class RecordingLegalHoldApi(APIView):
    """The application's key or one of its reviewers; audited like every change to a recording."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="recordings_legal_hold", request=LegalHoldInputSerializer, responses=RecordingSerializer
    )
    def post(self, request, recording_id):
        data = LegalHoldInputSerializer.validated(request.data)
        recording = review.recording_review_legal_hold(
            caller=request.user,
            audit=AuditContext.from_request(request),
            recording_id=recording_id,
            **data,
        )
        return Response(RecordingSerializer(recording).data)


class RecordingPlaybackApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="recordings_playback", request=None, responses=PlaybackSerializer)
    def post(self, request, recording_id):
        url, expires_at = review.recording_review_playback(
            caller=request.user, audit=AuditContext.from_request(request), recording_id=recording_id
        )
        response = Response({"url": url, "expires_at": expires_at})
        response["Cache-Control"] = "no-store"
        return response


class RecordingDownloadApi(APIView):
    """The signed, expiring URL a playback request returns for locally stored recordings."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="recordings_download",
        auth=[],
        parameters=[OpenApiParameter("token", str, required=True)],
        responses={
            (200, "video/mp4"): bytes,
            (206, "video/mp4"): bytes,
            (200, "video/webm"): bytes,
            (206, "video/webm"): bytes,
        },
    )
    def get(self, request, recording_id) -> HttpResponse | FileResponse:
        path = review.recording_review_download(
            audit=AuditContext.from_request(request),
            token=request.query_params.get("token", ""),
            recording_id=recording_id,
        )
        return ranged_file_response(request, path)
