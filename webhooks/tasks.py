"""Celery entry points of the event flow. Tasks take primary keys and own the retry policy."""

from celery import shared_task
from django.conf import settings
from django.db import DatabaseError

from webhooks.services import (
    Outcome,
    inbound_event_process,
    inbound_events_sweep,
    retry_countdown,
)


@shared_task(bind=True, name="webhooks.process_inbound_event", max_retries=None)
def process_inbound_event(self, event_id: int) -> str:
    try:
        outcome = inbound_event_process(event_id=event_id)
    except DatabaseError as exc:
        # Not even the failure could be recorded (the database is unreachable, or this worker's
        # connection broke): nothing was applied. Try again; the broken connection is dropped
        # before the next task.
        raise self.retry(countdown=retry_countdown(self.request.retries), exc=exc) from exc
    if outcome == Outcome.RETRY:
        # The row's attempt counter, not Celery's, decides when to give up (CONVENE_EVENT_MAX_ATTEMPTS).
        raise self.retry(countdown=retry_countdown(self.request.retries))
    if outcome == Outcome.BUSY and self.request.retries < settings.CONVENE_EVENT_MAX_ATTEMPTS:
        # Locked elsewhere; past the limit the sweeper rings again for it if it is still pending.
        raise self.retry(countdown=retry_countdown(self.request.retries))
    return outcome


@shared_task(name="webhooks.sweep_inbound_events")
def sweep_inbound_events() -> int:
    return inbound_events_sweep()
