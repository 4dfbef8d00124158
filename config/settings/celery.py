"""Celery (config/celery.py reads every CELERY_* setting): the broker, delivery guarantees, the beat
schedule. With no broker configured, an embedded file-system broker under CONVENE_VAR_DIR lets
`make run` process background work with a local worker and no Redis."""

from __future__ import annotations

from datetime import timedelta

from config.settings.access import CONVENE_REMOVAL_SWEEP_INTERVAL_SECONDS
from config.settings.cache import REDIS_URL
from config.settings.env import VAR_DIR, env, secret
from config.settings.recordings import CONVENE_RECORDING_PROCESS_SWEEP_SECONDS, CONVENE_RETENTION_INTERVAL_SECONDS
from config.settings.webhooks import (
    CONVENE_EVENT_SWEEP_INTERVAL_SECONDS,
    CONVENE_RECONCILE_INTERVAL_SECONDS,
    CONVENE_WEBHOOK_SWEEP_INTERVAL_SECONDS,
)

# A URL that carries a password is a secret too: it may come from CELERY_BROKER_URL_FILE.
CELERY_BROKER_URL = secret("CELERY_BROKER_URL") or REDIS_URL or "filesystem://"
CELERY_BROKER_URL_IS_EMBEDDED = CELERY_BROKER_URL.startswith("filesystem://")
if CELERY_BROKER_URL.startswith("redis://"):
    CELERY_BROKER_TRANSPORT = "core.broker:Transport"  # kombu's, without a client object per command

CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
# Celery's Django fixup closes the database connection before and after every task (a new
# PostgreSQL connection per task) unless this is set. Connections are instead checked before each
# task (config/celery.py) and recycled by CONN_MAX_AGE.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Longer than the longest task (CELERY_TASK_TIME_LIMIT) plus the longest retry countdown
# (CONVENE_EVENT_RETRY_MAX_SECONDS), in seconds.
CELERY_VISIBILITY_TIMEOUT = env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)
if CELERY_BROKER_URL_IS_EMBEDDED:
    _queue_dir = VAR_DIR / "celery-queue"
    _queue_dir.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT = "core.broker:FilesystemTransport"  # kombu's, writing each message atomically
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        "processed_folder": str(VAR_DIR / "celery-processed"),
        "store_processed": False,
        "control_folder": str(VAR_DIR / "celery-control"),  # kombu's default is ./control
        # Seconds between the worker's looks at the folder once it has nothing to do, and after each
        # task (prefetch 1): each worker process takes at most about one task per interval.
        "polling_interval": env.float("CELERY_BROKER_POLLING_INTERVAL", default=0.05),
    }
else:
    # The visibility timeout must exceed the longest task and any countdown, or Redis hands an
    # unacknowledged message to a second worker while the first is still on it.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": CELERY_VISIBILITY_TIMEOUT,
        # A publish that cannot reach Redis fails within a second (the row waits for the sweeper):
        # short socket timeouts, and no reconnect loop inside the publish (kombu retries forever by
        # default, which would hold a web worker on every webhook while Redis is down).
        # core/taskqueue.py copies these bounds for its own connection.
        "socket_connect_timeout": 1,
        "socket_timeout": 1,
        "max_retries": 0,
    }


def _every(task: str, seconds: float) -> dict:
    return {"task": task, "schedule": timedelta(seconds=seconds)}


CELERY_BEAT_SCHEDULE = {
    "rooms-sweep-windows": _every("rooms.tasks.rooms_sweep_windows", 60),
    "webhooks-sweep": _every("webhooks.sweep_inbound_events", CONVENE_EVENT_SWEEP_INTERVAL_SECONDS),
    "recordings-retention": _every("recordings.delete_expired_recordings", CONVENE_RETENTION_INTERVAL_SECONDS),
    "recordings-postprocess-sweep": _every("recordings.sweep_postprocessing", CONVENE_RECORDING_PROCESS_SWEEP_SECONDS),
    "tokens-sweep-participant-removals": _every(
        "tokens.sweep_participant_removals", CONVENE_REMOVAL_SWEEP_INTERVAL_SECONDS
    ),
    "outbound-sweep-deliveries": _every("outbound.sweep_deliveries", CONVENE_WEBHOOK_SWEEP_INTERVAL_SECONDS),
    "outbound-report-no-shows": _every("outbound.report_no_shows", 60),
    "webhooks-reconcile": _every("webhooks.reconcile_providers", CONVENE_RECONCILE_INTERVAL_SECONDS),
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
