"""POST /webhooks/<provider>: verify, store, answer. The status code is the contract:

2xx = stored (or a duplicate of something stored); 401 = bad signature, nothing stored;
400 = verified but unreadable; 413 = too large; 503 = we could not store it, retry.
Plain Django view: the raw body must be read before any parser touches it (LiveKit posts
`application/webhook+json`, which DRF's parsers refuse).
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

import providers
from core.clientip import request_ip
from core.errors import error_body
from providers.base import BadPayload, BadSignature
from providers.registry import configured_providers
from webhooks.services import inbound_events_store

logger = logging.getLogger(__name__)


def _read_body(request: HttpRequest, limit: int) -> bytes | None:
    """The raw body, or None when it is larger than the limit (checked before reading it all)."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        return None
    body = request.read(limit + 1)
    return None if len(body) > limit else body


@csrf_exempt
def webhook_receive(request: HttpRequest, provider_name: str) -> JsonResponse:
    if request.method != "POST":  # not @require_POST: its 405 has an empty body, not our error shape
        response = JsonResponse(error_body("method_not_allowed", "Only POST is allowed."), status=405)
        response["Allow"] = "POST"
        return response
    if provider_name not in configured_providers():
        return JsonResponse(error_body("not_found", "Unknown provider."), status=404)
    body = _read_body(request, settings.CONVENE_WEBHOOK_MAX_BYTES)
    if body is None:
        return JsonResponse(error_body("payload_too_large", "Webhook body too large."), status=413)
    provider = providers.get(provider_name)
    try:
        # The sender's address as the proxies in front report it (Janus is believed only from its network).
        provider.verify_webhook(body=body, headers=request.headers, remote_addr=request_ip(request) or "")
    except BadSignature as exc:
        logger.warning("webhook refused provider=%s reason=%s", provider_name, exc)
        return JsonResponse(error_body("bad_signature", "Webhook signature does not verify."), status=401)
    try:
        events = provider.parse_webhook(body=body)
    except BadPayload as exc:
        logger.warning("webhook unreadable provider=%s reason=%s", provider_name, exc)
        return JsonResponse(error_body("bad_payload", "Webhook body is not a valid event."), status=400)
    try:
        result = inbound_events_store(provider_name=provider_name, body=body, events=events)
    except DatabaseError as exc:
        logger.error("webhook not stored provider=%s error=%s; answering 503", provider_name, type(exc).__name__)
        return JsonResponse(error_body("unavailable", "Cannot store the event now; retry."), status=503)
    return JsonResponse({"stored": len(result.stored), "duplicates": result.duplicates})
