"""The webhook payloads in the OpenAPI schema: one entry per event type, with its object's shape
and an example. drf-spectacular writes OpenAPI 3.0 here, which has no `webhooks` section (3.1
does): the postprocessing hook moves them to the `x-webhooks` extension; their shapes are
components either way (`…EventRequest`)."""

from __future__ import annotations

import functools

from drf_spectacular.utils import OpenApiResponse, OpenApiWebhook, extend_schema, inline_serializer
from rest_framework import serializers

from outbound.catalogue import PING, EventType

ROOM_REF = {"id": "7d1f0c1e-3b9a-4c55-9d8e-1c2b3a4d5e6f", "external_id": "appt-2041"}
ROOM = {
    **ROOM_REF,
    "title": "Follow-up visit",
    "status": "open",
    "opens_at": "2026-12-01T09:00:00+00:00",
    "closes_at": "2026-12-01T09:30:00+00:00",
    "closed_at": None,
    "close_reason": "",
}
PARTICIPANT = {
    "id": "4c0e2b9f-9a51-4c1f-8a7e-0b6d7c8e9f10",
    "call_session_id": "0b7e4c1a-5d2f-4e3a-9b8c-7d6e5f4a3b2c",
    "identity": "patient-88",
    "invitation_id": "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b",
    "role": "guest",
    "kind": "standard",
    "joined_at": "2026-12-01T09:01:12+00:00",
    "left_at": None,
    "disconnect_reason": "",
}
RECORDING = {
    "id": "5f4e3d2c-1b0a-4f9e-8d7c-6b5a4f3e2d1c",
    "call_session_id": "0b7e4c1a-5d2f-4e3a-9b8c-7d6e5f4a3b2c",
    "status": "complete",
    "trigger": "api",
    "started_at": "2026-12-01T09:02:00+00:00",
    "ended_at": "2026-12-01T09:24:30+00:00",
    "duration_seconds": 1350,
    "size_bytes": 184320000,
    "error": "",
    "deleted_at": None,
    "deletion_reason": "",
}
CONSENT = {
    "id": 311,
    "identity": "patient-88",
    "invitation_id": "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b",
    "decision": "granted",
    "notice_version": 3,
    "method": "join_page",
    "created_at": "2026-12-01T09:01:40+00:00",
}
NO_SHOW = {"invitation_id": "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d", "identity": "interpreter-3", "role": "guest"}

KIND_SAMPLES = {"participant": PARTICIPANT, "recording": RECORDING, "consent": CONSENT, "no_show": NO_SHOW}

# (event type, what the object is, its example, when it is sent)
CATALOGUE = {
    EventType.ROOM_OPENED: ("room", ROOM, "The room became joinable: created open, or its window was reached."),
    EventType.ROOM_LIVE: ("room", {**ROOM, "status": "live"}, "A call session started in the room."),
    EventType.ROOM_CLOSED: (
        "room",
        {**ROOM, "status": "closed", "closed_at": "2026-12-01T09:45:00+00:00", "close_reason": "window_ended"},
        "The room was closed (API, window ended): no more joins.",
    ),
    EventType.PARTICIPANT_JOINED: (
        "participant",
        PARTICIPANT,
        "Someone connected (one connection; a reconnect is a new one).",
    ),
    EventType.PARTICIPANT_LEFT: (
        "participant",
        {**PARTICIPANT, "left_at": "2026-12-01T09:25:02+00:00", "disconnect_reason": "CLIENT_INITIATED"},
        "A connection ended.",
    ),
    EventType.ATTENDANCE_NO_SHOW: (
        "no_show",
        NO_SHOW,
        "Nobody joined with this link by the window start plus CONVENE_NO_SHOW_GRACE_MINUTES (sent once per link).",
    ),
    EventType.CONSENT_GRANTED: ("consent", CONSENT, "A recording consent was recorded."),
    EventType.CONSENT_WITHDRAWN: (
        "consent",
        {**CONSENT, "decision": "withdrawn"},
        "A consent was withdrawn (an active recording is being stopped).",
    ),
    EventType.RECORDING_STARTED: (
        "recording",
        {**RECORDING, "status": "active", "ended_at": None, "duration_seconds": None, "size_bytes": None},
        "The media server is recording.",
    ),
    EventType.RECORDING_READY: (
        "recording",
        RECORDING,
        "The recording is complete and stored (no media URL: use the playback API).",
    ),
    EventType.RECORDING_FAILED: (
        "recording",
        {**RECORDING, "status": "failed", "error": "egress failed: no space left", "size_bytes": None},
        "The recording failed or was aborted.",
    ),
    EventType.RECORDING_DELETED: (
        "recording",
        {**RECORDING, "deleted_at": "2027-01-01T03:00:00+00:00", "deletion_reason": "retention"},
        "The recording was deleted (retention or on request).",
    ),
}


def example(event_type: str) -> dict:
    """A whole payload as Convene sends it."""
    _, data, _ = CATALOGUE[event_type]
    return {
        "id": "msg_2Qm7yV0c9K4hR1aXz8LpT3bN",
        "type": EventType(event_type).value,
        "occurred_at": "2026-12-01T09:01:12.481000+00:00",
        "room": ROOM_REF,
        "data": data,
    }


class WebhookRoomRefSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    external_id = serializers.CharField(allow_null=True, help_text="Your id of the room (POST /rooms).")


@functools.cache
def _object_class(kind: str) -> type[serializers.Serializer]:
    """One shape per kind of object, from the fields of its example (a room: the closed one's)."""
    sample = CATALOGUE[EventType.ROOM_CLOSED][1] if kind == "room" else KIND_SAMPLES[kind]
    fields = {
        name: serializers.IntegerField(allow_null=True)
        if isinstance(value, int) and not isinstance(value, bool)
        else serializers.CharField(allow_null=True, allow_blank=True)
        for name, value in sample.items()
    }
    title = "".join(part.title() for part in kind.split("_"))
    return type(f"Webhook{title}Serializer", (serializers.Serializer,), fields)


def _envelope(event_type: str, kind: str) -> serializers.Serializer:
    name = "".join(part.title() for part in event_type.replace(".", "_").split("_"))
    return inline_serializer(
        name=f"{name}Event",
        fields={
            "id": serializers.CharField(help_text="Also the webhook-id header: the same on every retry."),
            "type": serializers.ChoiceField(choices=[event_type]),
            "occurred_at": serializers.DateTimeField(),
            "room": WebhookRoomRefSerializer(allow_null=True),
            "data": _object_class(kind)(),
        },
    )


def _webhook(event_type: str) -> OpenApiWebhook:
    kind, _, when = CATALOGUE[event_type]
    event_type = EventType(event_type).value  # a plain str in the schema
    return OpenApiWebhook(
        name=event_type,
        decorator=extend_schema(
            summary=event_type,
            description=when + " Signed per Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature).",
            request=_envelope(event_type, kind),
            responses={200: OpenApiResponse(description="Any 2xx acknowledges it; anything else is retried.")},
        ),
    )


# drf-spectacular's WEBHOOKS setting imports this list by its path: one webhook per event type.
WEBHOOKS = [_webhook(event_type) for event_type in EventType]

assert PING not in CATALOGUE  # a ping is sent only on request, to one endpoint


def webhooks_as_extension(result, generator, request, public):
    """drf-spectacular postprocessing hook: each webhook's example payload, and, since OpenAPI 3.0
    has no `webhooks` section, the webhooks kept as `x-webhooks` (3.1 documents take them as they are)."""
    for event_type, path_item in result.get("webhooks", {}).items():
        content = path_item["post"]["requestBody"]["content"]["application/json"]
        content["examples"] = {event_type: {"value": example(event_type)}}  # not carried over by drf-spectacular
    if str(result.get("openapi", "")).startswith("3.0") and "webhooks" in result:
        result["x-webhooks"] = result.pop("webhooks")
    return result
