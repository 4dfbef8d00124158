"""Celery entry point of the reconciler, scheduled by beat (CONVENE_RECONCILE_INTERVAL_SECONDS)."""

from celery import shared_task

from reconciler.services import reconcile_all


# The name predates the app (the reconciler lived in webhooks): kept so that queued tasks and
# beat schedules written before the move still find this function.
@shared_task(name="webhooks.reconcile_providers")
def reconcile_providers() -> dict:
    return reconcile_all()
