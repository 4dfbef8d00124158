"""Celery entry points of webhooks out. Tasks take primary keys; the delivery row, not Celery,
holds the retry schedule: a short wait is a countdown, a longer one (or a lease left by a worker
that died mid-attempt) is the sweeper's."""

from celery import shared_task
from django.db import DatabaseError

from outbound.services.delivery import AttemptStatus, webhook_deliveries_sweep, webhook_delivery_attempt

# Countdowns stay well under the broker's visibility timeout (CELERY_VISIBILITY_TIMEOUT).
COUNTDOWN_MAX_SECONDS = 300


@shared_task(bind=True, name="outbound.deliver_webhook", max_retries=None)
def deliver_webhook(self, delivery_id: int) -> str:
    try:
        outcome = webhook_delivery_attempt(delivery_id=delivery_id)
    except DatabaseError as exc:
        # Nothing could be recorded; the row is still due (or leased, then the sweeper's).
        raise self.retry(countdown=5, exc=exc) from exc
    if outcome.status == AttemptStatus.RETRY and outcome.due_in is not None and outcome.due_in <= COUNTDOWN_MAX_SECONDS:
        deliver_webhook.apply_async((delivery_id,), countdown=outcome.due_in, retry=False)
    return outcome.status


@shared_task(name="outbound.sweep_deliveries")
def sweep_deliveries() -> int:
    return webhook_deliveries_sweep()
