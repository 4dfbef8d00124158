"""Recordings: start (behind the consent gate) and stop through the provider, the lifecycle that follows
the provider's events, and reconciliation with what the provider reports.

Start writes our row first (requested), then calls the provider, then records the outcome. A
stop caused by the event flow (a withdrawal, a joiner without consent) is marked in the same
transaction as its cause and sent to the provider right after commit.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

import providers
from core.audit import SYSTEM, AuditContext
from core.errors import Conflict, Gone, ServiceUnavailable
from core.models import ActorType
from core.services import audit_record_on
from outbound import emit
from outbound.catalogue import EventType
from providers.base import (
    EventIgnored,
    NeutralEvent,
    ProviderError,
    ProviderNotFound,
    ProviderRecording,
    ProviderRejected,
    ProviderStateConflict,
)
from recordings import storage
from recordings.models import (
    ACTIVE_RECORDING_STATUSES,
    FINAL_RECORDING_STATUSES,
    Recording,
    RecordingStatus,
    RecordingTrigger,
    StopReason,
    recording_status_for_provider_state,
)
from recordings.selectors import consent_missing
from rooms.models import CallSession, RecordingPolicy, Room

logger = logging.getLogger(__name__)

# What webhooks out report when a recording's status moves into one of these.
RECORDING_EVENTS = {
    RecordingStatus.ACTIVE: EventType.RECORDING_STARTED,
    RecordingStatus.COMPLETE: EventType.RECORDING_READY,
    RecordingStatus.FAILED: EventType.RECORDING_FAILED,
    RecordingStatus.ABORTED: EventType.RECORDING_FAILED,
}


def recording_report_status(recording: Recording, *, before: str) -> None:
    """recording.started / ready / failed (webhooks out), when the status moved into one of those."""
    event_type = RECORDING_EVENTS.get(recording.status)
    if event_type is not None and recording.status != before:
        emit.recording_reported(recording, event_type=event_type)


_ORDER = {
    RecordingStatus.REQUESTED: 0,
    RecordingStatus.STARTING: 1,
    RecordingStatus.ACTIVE: 2,
    RecordingStatus.ENDING: 3,
    RecordingStatus.COMPLETE: 4,
    RecordingStatus.FAILED: 4,
    RecordingStatus.ABORTED: 4,
}


def recording_transition(recording: Recording, to: str) -> bool:
    """Move forward only; final states stay final. Returns whether the status changed."""
    if recording.status in FINAL_RECORDING_STATUSES or _ORDER[to] <= _ORDER[recording.status]:
        return False
    recording.status = to
    return True


def recording_start(
    *, room: Room, trigger: RecordingTrigger = RecordingTrigger.API, audit: AuditContext = SYSTEM
) -> Recording:
    """Start recording the room if everyone present has consented (409 consent_missing naming who
    has not, and no provider call otherwise). At most one active recording per room."""
    if room.recording_policy == RecordingPolicy.OFF:
        raise Conflict("Recording is off for this room.", code="recording_disabled")
    if room.is_closed:
        raise Gone("This room is closed.", code="room_closed")
    recording = _recording_create(room=room, trigger=trigger, audit=audit)
    _provider_start(recording)
    return recording


def _recording_create(*, room: Room, trigger: RecordingTrigger, audit: AuditContext) -> Recording:
    with transaction.atomic():
        room = Room.objects.select_for_update().get(pk=room.pk)
        missing, people, latest = consent_missing(room=room)
        if not people:
            raise Conflict("Nobody is in the room to record.", code="nobody_present")
        if missing:
            raise Conflict(
                "Not everyone present has consented to recording.", code="consent_missing", details={"missing": missing}
            )
        actor = (ActorType.SYSTEM, RecordingTrigger.AUTO) if trigger == RecordingTrigger.AUTO else None
        target = storage.current()
        try:
            with transaction.atomic():
                recording = Recording.objects.create(
                    room=room,
                    call_session=people[0].call_session,
                    provider=room.provider,
                    trigger=trigger,
                    started_by="system:auto" if trigger == RecordingTrigger.AUTO else _actor_label(audit),
                    storage=target.kind,
                    consent_snapshot=_snapshot(people, latest),
                )
        except IntegrityError:
            raise Conflict("This room is already being recorded.", code="recording_active") from None
        recording.location = target.location_for(recording)
        recording.save(update_fields=["location"])
        audit_record_on(
            recording,
            action="recording.start",
            audit=audit,
            actor=actor,
            details={"room": str(room.pk), "trigger": trigger},
        )
    return recording


def _actor_label(audit: AuditContext) -> str:
    return f"{audit.actor_type}:{audit.actor_id}"


def _snapshot(people, latest) -> list[dict]:
    return [
        {
            "identity": p.identity,
            "participant_sid": p.provider_participant_id,
            "consent_event_id": latest[p.identity].pk,
            "notice_version": latest[p.identity].notice_version,
            "granted_at": latest[p.identity].created_at.isoformat(),
        }
        for p in people
    ]


def _provider_start(recording: Recording) -> None:
    spec = storage.current().recording_spec(recording.location)
    try:
        result = providers.get(recording.provider).start_recording(room=recording.room.as_provider_ref(), spec=spec)
    except ProviderError as exc:
        with transaction.atomic():
            locked = Recording.objects.select_for_update().get(pk=recording.pk)
            before = locked.status
            if recording_transition(locked, RecordingStatus.FAILED):
                locked.error = f"start refused: {exc}"
                locked.save(update_fields=["status", "error", "updated_at"])
                recording_report_status(locked, before=before)
        recording.refresh_from_db()
        raise ServiceUnavailable(
            "The media server did not start the recording.",
            code="provider_unavailable",
            details={"recording_id": str(recording.pk)},
        ) from exc
    with transaction.atomic():
        locked = Recording.objects.select_for_update().get(pk=recording.pk)
        locked.provider_recording_id = locked.provider_recording_id or result.recording_id
        _apply_state(locked, result)
        locked.save()
        stop_requested = locked.stop_requested_at is not None and locked.is_active
    recording.refresh_from_db()
    if stop_requested:  # a withdrawal arrived while the provider was starting it
        _provider_stop(recording)


def recording_stop(*, recording: Recording, reason: StopReason, audit: AuditContext = SYSTEM) -> Recording:
    """Stop on request (API). A recording that is no longer active is a 409."""
    with transaction.atomic():
        locked = Recording.objects.select_for_update().get(pk=recording.pk)
        if not locked.is_active:
            raise Conflict(
                "This recording is not active.", code="recording_not_active", details={"status": locked.status}
            )
        _mark_stop(locked, reason)
        audit_record_on(recording, action="recording.stop", audit=audit, details={"reason": reason})
    _provider_stop(locked)
    locked.refresh_from_db()
    return locked


def _mark_stop(recording: Recording, reason: StopReason) -> None:
    if recording.stop_requested_at is None:
        recording.stop_requested_at, recording.stop_reason = timezone.now(), reason
        recording.save(update_fields=["stop_requested_at", "stop_reason", "updated_at"])


_CONSENT_GATE = AuditContext.system("consent_gate")  # stops a recording when consent is withdrawn


def recording_stop_for_room(*, room: Room, reason: StopReason) -> Recording | None:
    """Inside the caller's transaction: mark the room's active recording stopped for `reason` and
    send the stop to the provider once the transaction commits."""
    active = room.recordings.select_for_update().filter(status__in=ACTIVE_RECORDING_STATUSES).first()
    if active is None:
        return None
    _mark_stop(active, reason)
    audit_record_on(active, action="recording.stop", audit=_CONSENT_GATE, details={"reason": reason})
    from recordings.tasks import stop_recording

    logger.info("recording stop requested recording=%s reason=%s", active.pk, reason)
    transaction.on_commit(lambda: stop_recording.apply_async((str(active.pk),)), robust=True)
    return active


def recording_provider_stop(*, recording_id) -> bool:
    """Send a marked stop to the provider (task entry). True when nothing more is needed."""
    recording = Recording.objects.filter(pk=recording_id).select_related("room").first()
    if recording is None or not recording.is_active:
        return True
    return _provider_stop(recording)


def _provider_stop(recording: Recording) -> bool:
    """Send the stop. False only when the provider could not be reached (the task retries); a
    refusal is permanent and retrying it would only repeat it."""
    if not recording.provider_recording_id:
        return True  # the start path stops it as soon as the provider gives it an id
    try:
        answer = providers.get(recording.provider).stop_recording(recording_id=recording.provider_recording_id)
    except ProviderNotFound:
        return True
    except ProviderStateConflict:
        # It already ended (its end raced the stop): done; its state is the provider's to report.
        logger.info("recording already ended at the provider recording=%s", recording.pk)
        _refresh_from_provider(recording)
        return True
    except ProviderRejected as exc:
        logger.warning("provider refused the stop recording=%s error=%s; the reconciler retries", recording.pk, exc)
        return True
    except ProviderError as exc:
        logger.warning("provider stop failed recording=%s error=%s", recording.pk, exc)
        return False
    if recording.is_per_track or answer.source_dir:
        # A server that writes raw tracks (Janus) has closed them when it answers the stop, and
        # sends no event about it: its answer is the end.
        with transaction.atomic():
            locked = Recording.objects.select_for_update().select_related("room__application").get(pk=recording.pk)
            if _apply_state(locked, answer):
                locked.save()
    return True


def recording_apply_event(*, room: Room, event: NeutralEvent) -> EventIgnored | None:
    """Event flow (recording.started/updated/ended), in any order relative to room events."""
    info = event.recording
    if info is None:
        return EventIgnored("no recording in event")
    recording = _match(room, info)
    if recording is None:
        return EventIgnored("recording not started by Convene")
    if _apply_state(recording, info):
        recording.save()
    return None


def _match(room: Room, info: ProviderRecording) -> Recording | None:
    """By provider id; else the room's active recording still waiting for its id (the event beat
    the start call's answer, or a failed egress came with an empty id)."""
    if info.recording_id:
        found = (
            Recording.objects.select_for_update()
            .filter(provider=room.provider, provider_recording_id=info.recording_id)
            .first()
        )
        if found is not None:
            return found
    waiting = Recording.objects.select_for_update().filter(room=room, status__in=ACTIVE_RECORDING_STATUSES)
    if info.recording_id:
        waiting = waiting.filter(provider_recording_id="")
    recording = waiting.order_by("-created_at").first()
    if recording is not None and info.recording_id:
        recording.provider_recording_id = info.recording_id
    return recording


def _apply_state(recording: Recording, info: ProviderRecording) -> bool:
    """Fold what the provider reports into the row; times only fill or extend, never regress.

    A per-track recording (the provider names the folder of its raw files) that the provider has
    finished writing is not complete yet: it stays ending until its composite is made and stored.
    A new status is reported (webhooks out) with the row as it will be saved.
    """
    before = recording.status
    changed = False
    if info.source_dir and not recording.source_dir:
        recording.source_dir, recording.source_prefix, changed = info.source_dir, info.source_prefix, True
    state = recording_status_for_provider_state(info.state)
    if recording.is_per_track and state == RecordingStatus.COMPLETE:
        state = RecordingStatus.ENDING
    if recording_transition(recording, state):
        changed = True
        if recording.is_per_track and recording.status == RecordingStatus.ENDING:
            _postprocess_after_commit(recording)
    if info.started_at and recording.started_at is None:
        recording.started_at, changed = info.started_at, True
    if info.ended_at and recording.ended_at is None:
        recording.ended_at, changed = info.ended_at, True
    if info.error and not recording.error:
        recording.error, changed = info.error[:2000], True
    if info.files and not recording.is_per_track:
        first = info.files[0]
        recording.location = first.location or recording.location
        recording.size_bytes = first.size_bytes if first.size_bytes is not None else recording.size_bytes
        recording.duration_seconds = (
            first.duration_seconds if first.duration_seconds is not None else (recording.duration_seconds)
        )
        changed = True
    changed = recording_retention_fill(recording) or changed
    if recording.call_session_id is None:
        recording.call_session = CallSession.objects.filter(room=recording.room, ended_at__isnull=True).first()
    recording_report_status(recording, before=before)
    return changed


def recording_retention_fill(recording: Recording) -> bool:
    """Every final recording gets a deletion date: a failed egress may still have uploaded a part."""
    if recording.status in FINAL_RECORDING_STATUSES and recording.retention_until is None:
        ended = recording.ended_at or timezone.now()
        recording.retention_until = ended + timedelta(days=recording.room.application.recording_retention_days)
        return True
    return False


def _postprocess_after_commit(recording: Recording) -> None:
    from recordings.tasks import postprocess_recording

    recording_id = str(recording.pk)
    logger.info("recording raw tracks written recording=%s: post-processing", recording_id)
    transaction.on_commit(lambda: postprocess_recording.apply_async((recording_id,)), robust=True)


def recordings_reconcile(*, provider_name: str) -> int:
    """Ask the provider about recordings we still think are active (their end was never
    reported), and retry stops it may not have received. Returns how many changed."""
    changed = 0
    active = (
        Recording.objects.filter(provider=provider_name, status__in=ACTIVE_RECORDING_STATUSES)
        .exclude(provider_recording_id="")
        .exclude(Q(status=RecordingStatus.ENDING) & ~Q(source_dir=""))  # post-processing: ours now
        .select_related("room", "room__application")
    )
    for recording in active:
        refreshed = _refresh_from_provider(recording)
        if refreshed is None:
            continue
        locked, row_changed = refreshed
        changed += row_changed
        if locked.is_active and locked.stop_requested_at is not None:
            _provider_stop(locked)
    return changed


def _refresh_from_provider(recording: Recording) -> tuple[Recording, bool] | None:
    """Fold what the provider reports about one recording into its row: (the row, whether it
    changed), or None when the provider could not be asked."""
    try:
        reported = providers.get(recording.provider).list_recordings(recording_id=recording.provider_recording_id)
    except ProviderNotFound:
        reported = []  # LiveKit answers not_found for an egress it no longer knows
    except ProviderError as exc:
        logger.warning("recording reconcile skipped recording=%s error=%s", recording.pk, exc)
        return None
    with transaction.atomic():
        locked = Recording.objects.select_for_update().select_related("room__application").get(pk=recording.pk)
        if locked.is_per_track and locked.status == RecordingStatus.ENDING:
            return locked, False  # the provider is done with it; post-processing has it
        before = locked.status
        if not reported and locked.is_per_track and recording_transition(locked, RecordingStatus.ENDING):
            # Its raw files are closed (the room or the server is gone): make the composite of them.
            _postprocess_after_commit(locked)
            locked.save()
            recording_report_status(locked, before=before)
            return locked, True
        if not reported and recording_transition(locked, RecordingStatus.FAILED):
            locked.error = locked.error or "the media server has no record of this recording"
            locked.save()
            recording_report_status(locked, before=before)
            return locked, True
        if reported and _apply_state(locked, reported[0]):
            locked.save()
            return locked, True
    return locked, False
