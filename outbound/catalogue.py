"""The event catalogue of webhooks out: each type, and the object each payload carries.

Payloads describe what Convene keeps, never a secret: no join-link secret, no token, no media URL.
"""

from __future__ import annotations

from typing import Any

from django.db import models


class EventType(models.TextChoices):
    ROOM_OPENED = "room.opened"
    ROOM_LIVE = "room.live"
    ROOM_CLOSED = "room.closed"
    PARTICIPANT_JOINED = "participant.joined"
    PARTICIPANT_LEFT = "participant.left"
    ATTENDANCE_NO_SHOW = "attendance.no_show"
    CONSENT_GRANTED = "consent.granted"
    CONSENT_WITHDRAWN = "consent.withdrawn"
    RECORDING_STARTED = "recording.started"
    RECORDING_READY = "recording.ready"
    RECORDING_FAILED = "recording.failed"
    RECORDING_DELETED = "recording.deleted"


PING = "ping"  # POST /webhook-endpoints/{id}/test: sent to that endpoint alone, whatever it subscribed to


def _time(value) -> str | None:
    return value.isoformat() if value is not None else None


def room_object(room) -> dict[str, Any]:
    return {
        "id": str(room.pk),
        "external_id": room.external_id,
        "title": room.title,
        "status": room.status,
        "opens_at": _time(room.opens_at),
        "closes_at": _time(room.closes_at),
        "closed_at": _time(room.closed_at),
        "close_reason": room.close_reason,
    }


def participant_object(participant) -> dict[str, Any]:
    return {
        "id": str(participant.pk),
        "call_session_id": str(participant.call_session_id),
        "identity": participant.identity,
        "invitation_id": str(participant.invitation_id) if participant.invitation_id else None,
        "role": participant.role,
        "kind": participant.kind,
        "joined_at": _time(participant.joined_at),
        "left_at": _time(participant.left_at),
        "disconnect_reason": participant.disconnect_reason,
    }


def no_show_object(attendance) -> dict[str, Any]:
    return {"invitation_id": attendance.invitation_id, "identity": attendance.identity, "role": attendance.role}


def consent_object(event) -> dict[str, Any]:
    return {
        "id": event.pk,
        "identity": event.identity,
        "invitation_id": str(event.invitation_id) if event.invitation_id else None,
        "decision": event.decision,
        "notice_version": event.notice_version,
        "method": event.method,
        "created_at": _time(event.created_at),
    }


def recording_object(recording) -> dict[str, Any]:
    """Where the recording is stored is not said: playback goes through the audited API."""
    return {
        "id": str(recording.pk),
        "call_session_id": str(recording.call_session_id) if recording.call_session_id else None,
        "status": recording.status,
        "trigger": recording.trigger,
        "started_at": _time(recording.started_at),
        "ended_at": _time(recording.ended_at),
        "duration_seconds": recording.duration_seconds,
        "size_bytes": recording.size_bytes,
        "error": recording.error,
        "deleted_at": _time(recording.deleted_at),
        "deletion_reason": recording.deletion_reason,
    }
