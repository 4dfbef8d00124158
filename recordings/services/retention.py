"""Deleting recordings: on schedule once retention has passed, or on demand; never under legal
hold, which is set and released here too. The audit row is written first; then the stored object
is deleted (already gone counts as done); then the row becomes a tombstone. A failure leaves the
recording for the next run."""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from core.audit import SYSTEM, AuditContext
from core.errors import Conflict
from core.models import AuditOutcome
from core.services import audit_record_or_refuse
from outbound import emit
from recordings import storage
from recordings.models import FINAL_RECORDING_STATUSES, DeletionReason, Recording
from recordings.services.postprocess import recording_sources_delete

logger = logging.getLogger(__name__)


def recording_delete(*, recording: Recording, reason: DeletionReason, audit: AuditContext = SYSTEM) -> Recording:
    with transaction.atomic():
        locked = Recording.objects.select_for_update().select_related("room__application").get(pk=recording.pk)
        refusal = _refusal(locked)
        if refusal is None:
            audit_record_or_refuse(locked, action="recording.delete", audit=audit, details={"reason": reason})
            if locked.deleted_at is not None:
                return locked  # already a tombstone: the request is audited, nothing else to do
            if locked.location:
                storage.for_recording(locked).delete(locked.location)
            recording_sources_delete(recording=locked)
            locked.deleted_at, locked.deletion_reason = timezone.now(), reason
            locked.save(update_fields=["deleted_at", "deletion_reason", "updated_at"])
            emit.recording_deleted(locked)
    if refusal is not None:  # audited outside the transaction so the refusal's row is kept
        audit_record_or_refuse(
            locked,
            action="recording.delete",
            audit=audit,
            outcome=AuditOutcome.DENIED,
            details={"reason": reason, "refused": refusal.code},
        )
        raise refusal
    logger.info("recording deleted recording=%s reason=%s", locked.pk, reason)
    return locked


def _refusal(recording: Recording) -> Conflict | None:
    if recording.deleted_at is not None:
        return None
    if recording.legal_hold:
        return Conflict("This recording is under legal hold.", code="legal_hold")
    if recording.status not in FINAL_RECORDING_STATUSES:
        return Conflict("Stop the recording before deleting it.", code="recording_active")
    return None


def recording_legal_hold_set(
    *, recording: Recording, legal_hold: bool, reason: str, audit: AuditContext = SYSTEM
) -> Recording:
    """Put a recording under legal hold (never deleted, by retention or on demand) or release it
    (retention applies again: one whose date has passed goes at the next run). The one rule for the
    API and the admin: audited first, refused without an audit row; a tombstone cannot be held."""
    row = {"action": "recording.legal_hold", "audit": audit}
    details = {"legal_hold": legal_hold, "reason": reason}
    with transaction.atomic():
        locked = Recording.objects.select_for_update().select_related("room__application").get(pk=recording.pk)
        refused = legal_hold and locked.deleted_at is not None
        if not refused:
            audit_record_or_refuse(locked, details={**details, "was": locked.legal_hold}, **row)
            if locked.legal_hold != legal_hold or locked.legal_hold_reason != reason:
                locked.legal_hold, locked.legal_hold_reason = legal_hold, reason
                locked.legal_hold_changed_at = timezone.now()
                locked.save(update_fields=["legal_hold", "legal_hold_reason", "legal_hold_changed_at", "updated_at"])
    if refused:  # audited outside the transaction so the refusal's row is kept
        audit_record_or_refuse(locked, outcome=AuditOutcome.DENIED, details=details, **row)
        raise Conflict("This recording was deleted: there is nothing left to hold.", code="recording_deleted")
    logger.info("recording legal hold recording=%s legal_hold=%s", locked.pk, legal_hold)
    return locked


_RETENTION = AuditContext.system("retention")


def recordings_delete_expired(*, now: datetime | None = None) -> dict[str, int]:
    """Periodic: delete every recording whose retention has passed. Idempotent."""
    now = now or timezone.now()
    due = Recording.objects.filter(
        retention_until__lte=now, deleted_at__isnull=True, legal_hold=False, status__in=FINAL_RECORDING_STATUSES
    )
    deleted = failed = 0
    for recording in due.iterator():
        try:
            recording_delete(recording=recording, reason=DeletionReason.RETENTION, audit=_RETENTION)
            deleted += 1
        except Exception as exc:  # one bad object must not stop the others; it is retried next run
            logger.warning("retention delete failed recording=%s error=%s", recording.pk, type(exc).__name__)
            failed += 1
    return {"deleted": deleted, "failed": failed}
