"""Celery entry points for access: thin callers of access.services."""

from celery import shared_task

from access.services import participant_removal_retry, participant_removals_due
from access.services.attendance import attendance_no_shows_report


@shared_task(name="tokens.remove_participant")
def remove_participant(removal_id: str) -> bool | None:
    """One background try at disconnecting a barred identity. A failed try schedules the
    next one on the row (backoff); the sweep below rings for it when it is due."""
    return participant_removal_retry(removal_id=removal_id)


@shared_task(name="tokens.sweep_participant_removals")
def sweep_participant_removals() -> int:
    """Periodic: a task for every pending removal whose next try is due, so that a removal is
    retried until it succeeds or its room closes, across broker outages and worker restarts."""
    due = participant_removals_due()
    for removal_id in due:
        remove_participant.apply_async((removal_id,))
    return len(due)


@shared_task(name="outbound.report_no_shows")  # the name it had in outbound: beat schedules and queued tasks keep it
def report_no_shows() -> int:
    return attendance_no_shows_report()
