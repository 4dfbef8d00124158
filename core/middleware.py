"""Request ids: make one per request (or take the trusted proxy's), echo it, keep it for audit rows.

A client's own X-Request-ID is not believed by default: it lands in the append-only audit log, where
a chosen value could pass one request off as another. Only when CONVENE_TRUST_REQUEST_ID is set (a
proxy in front sets or replaces the header on every request) is a well-formed incoming id kept.
"""

from __future__ import annotations

import re
import uuid

from django.conf import settings

_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def request_id_for(incoming: str) -> str:
    if settings.CONVENE_TRUST_REQUEST_ID and _SAFE_REQUEST_ID.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.request_id = request_id_for(request.headers.get("X-Request-ID", ""))
        response = self.get_response(request)
        response["X-Request-ID"] = request.request_id
        return response
