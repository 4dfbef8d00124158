"""Call telemetry from the join page: store what a browser reported about its connection, and
summarise it per participant (medians and worst values, reconnects, TURN relay) for support.
It never trusts the browser for anything but its own experience of the call."""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from rooms.models import CallSession, ConnectionTelemetry, ParticipantSession, Room

SAMPLE_FIELDS = (
    "rtt_ms",
    "jitter_ms",
    "packet_loss_pct",
    "bitrate_in_kbps",
    "bitrate_out_kbps",
    "frames_decoded",
    "quality_limitation",
    "candidate_type",
)
# For each measure, which end is the bad one.
WORST = {"rtt_ms": max, "jitter_ms": max, "packet_loss_pct": max, "bitrate_in_kbps": min, "bitrate_out_kbps": min}


def telemetry_record(
    *,
    room: Room,
    identity: str,
    connection_id,
    events: list[dict[str, Any]],
    provider: str = "",
    invitation=None,
    user_agent: str = "",
) -> ConnectionTelemetry:
    """Fold a batch of the page's events into its connection's row (made on the first batch)."""
    now = timezone.now()
    with transaction.atomic():
        row = _locked_row(room=room, identity=identity, connection_id=connection_id, invitation=invitation, now=now)
        row.provider = provider or row.provider
        row.user_agent = user_agent[:300] or row.user_agent
        row.reports += 1
        row.last_report_at = now
        for event in events:
            _apply(row, event)
        row.samples = row.samples[-ConnectionTelemetry.MAX_SAMPLES :]
        row.states = row.states[-ConnectionTelemetry.MAX_STATES :]
        row.save()
    return row


def _locked_row(*, room: Room, identity: str, connection_id, invitation, now: datetime) -> ConnectionTelemetry:
    lookup = {"room": room, "identity": identity, "connection_id": connection_id}
    row = ConnectionTelemetry.objects.select_for_update().filter(**lookup).first()
    if row is not None:
        return row
    try:
        with transaction.atomic():
            return ConnectionTelemetry.objects.create(
                **lookup, invitation=invitation, first_report_at=now, last_report_at=now
            )
    except IntegrityError:  # the page's previous batch made it in the meantime
        return ConnectionTelemetry.objects.select_for_update().get(**lookup)


def _apply(row: ConnectionTelemetry, event: dict[str, Any]) -> None:
    kind, at = event["type"], event["at"].isoformat()
    if kind == "stats":
        row.samples.append({"at": at, **{name: event.get(name) for name in SAMPLE_FIELDS}})
        _note_candidate(row, event.get("candidate_type") or "")
    elif kind == "joined":
        row.participant_sid = event.get("participant_sid") or row.participant_sid
    elif kind == "connection_state":
        row.states.append([at, event.get("state", "")])
    elif kind == "reconnecting":
        row.reconnects += 1
    elif kind == "ice_failed":
        row.ice_failures += 1
    elif kind == "connect_failed":
        row.connect_failures += 1
    elif kind == "ended":
        row.end_reason = event.get("reason", "")


def _note_candidate(row: ConnectionTelemetry, candidate_type: str) -> None:
    if candidate_type and candidate_type not in row.candidate_types:
        row.candidate_types = [*row.candidate_types, candidate_type]
    row.relay_used = row.relay_used or candidate_type == "relay"


def telemetry_summary(rows: Iterable[ConnectionTelemetry]) -> dict[str, Any] | None:
    """One participant's quality over their connections: median and worst of each measure."""
    rows = list(rows)
    if not rows:
        return None
    samples = [sample for row in rows for sample in row.samples]
    summary: dict[str, Any] = {
        "connections": len(rows),
        "samples": len(samples),
        "reconnects": sum(row.reconnects for row in rows),
        "ice_failures": sum(row.ice_failures for row in rows),
        "connect_failures": sum(row.connect_failures for row in rows),
        "relay_used": any(row.relay_used for row in rows),
        "candidate_types": sorted({kind for row in rows for kind in row.candidate_types}),
        "quality_limitations": sorted({s["quality_limitation"] for s in samples if s.get("quality_limitation")}),
    }
    for name, worst in WORST.items():
        values = [s[name] for s in samples if isinstance(s.get(name), int | float)]
        summary[name] = {"median": statistics.median(values), "worst": worst(values)} if values else None
    return summary


def telemetry_by_participant(*, session: CallSession) -> dict[Any, dict[str, Any] | None]:
    """Each participant session's quality summary: the telemetry its page reported under its
    participant sid, or else the same identity's reports made while it was connected."""
    participants: list[ParticipantSession] = list(session.participants.all())
    rows = list(ConnectionTelemetry.objects.filter(room_id=session.room_id, first_report_at__gte=session.started_at))
    by_sid = {row.participant_sid: row for row in rows if row.participant_sid}
    result = {}
    for participant in participants:
        matched = (
            [by_sid[participant.provider_participant_id]]
            if participant.provider_participant_id in by_sid
            else [
                row
                for row in rows
                if row.identity == participant.identity
                and not row.participant_sid
                and (participant.left_at is None or row.first_report_at <= participant.left_at)
            ]
        )
        result[participant.pk] = telemetry_summary(matched)
    return result
