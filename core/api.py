"""The audit log's API (GET /api/v1/audit-events): a thin view over core.services.audit_event_list."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.permissions import IsAuthenticated
from rest_framework.views import APIView

from core.audit import AuditContext
from core.pagination import Pagination
from core.schema import paginated
from core.serializers import AuditEventSerializer, AuditFilterSerializer
from core.services import audit_event_list


class AuditEventListApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="audit_events_list", parameters=[AuditFilterSerializer], responses=paginated(AuditEventSerializer)
    )
    def get(self, request):
        filters = AuditFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        events = audit_event_list(
            caller=request.user,
            audit=AuditContext.from_request(request),
            object_id=filters.validated_data.get("object_id", ""),
            action=filters.validated_data.get("action", ""),
        )
        paginator = Pagination()
        page = paginator.paginate_queryset(events, request, view=self)
        return paginator.get_paginated_response(AuditEventSerializer(page, many=True).data)
