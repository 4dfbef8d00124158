"""The audit log's API (GET /api/v1/audit-events): a thin view over core.services.audit_event_list."""

from __future__ import annotations

from rest_framework.permissions import IsAuthenticated
from rest_framework.views import APIView

from core.audit import AuditContext
from core.pagination import paginated_response
from core.schema import list_schema
from core.serializers import AuditEventSerializer, AuditFilterSerializer
from core.services import audit_event_list


class AuditEventListApi(APIView):
    permission_classes = [IsAuthenticated]

    @list_schema("audit_events_list", AuditEventSerializer, filters=AuditFilterSerializer)
    def get(self, request):
        filters = AuditFilterSerializer.validated(request.query_params)
        events = audit_event_list(caller=request.user, audit=AuditContext.from_request(request), **filters)
        return paginated_response(request, self, events, AuditEventSerializer)
