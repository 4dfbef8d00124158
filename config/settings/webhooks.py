"""Webhooks in (webhooks/: receive, store, process, reconcile) and webhooks out (outbound/)."""

from __future__ import annotations

from config.settings.cache import REDIS_URL
from config.settings.env import env

# In: the largest body accepted (bytes); processing attempts and their backoff (seconds, exponential,
# jittered, capped); the sweep re-rings events pending longer than SWEEP_AFTER, every SWEEP_INTERVAL.
CONVENE_WEBHOOK_MAX_BYTES = env.int("CONVENE_WEBHOOK_MAX_BYTES", default=1024 * 1024)
CONVENE_EVENT_MAX_ATTEMPTS = env.int("CONVENE_EVENT_MAX_ATTEMPTS", default=5)
CONVENE_EVENT_RETRY_BASE_SECONDS = env.float("CONVENE_EVENT_RETRY_BASE_SECONDS", default=2.0)
CONVENE_EVENT_RETRY_MAX_SECONDS = env.float("CONVENE_EVENT_RETRY_MAX_SECONDS", default=300.0)
CONVENE_EVENT_SWEEP_AFTER_SECONDS = env.int("CONVENE_EVENT_SWEEP_AFTER_SECONDS", default=30)
CONVENE_EVENT_SWEEP_INTERVAL_SECONDS = env.int("CONVENE_EVENT_SWEEP_INTERVAL_SECONDS", default=30)
# Processing an event commits without waiting for its WAL flush (PostgreSQL, that transaction
# only) unless it queued work for after the commit: if the server crashes within the next ~0.6 s,
# the event is pending again and the sweeper has it reprocessed. The webhook itself is always
# stored with a synchronous commit. webhooks/services.py inbound_event_process.
CONVENE_EVENT_ASYNC_COMMIT = env.bool("CONVENE_EVENT_ASYNC_COMMIT", default=True)
# How often the reconciler compares Convene's records with the media servers'.
CONVENE_RECONCILE_INTERVAL_SECONDS = env.int("CONVENE_RECONCILE_INTERVAL_SECONDS", default=300)

# Out. Private, loopback and link-local URLs (and plain http:// outside DEBUG) are refused unless
# allowed: only for tests and a receiver on the same private network.
CONVENE_WEBHOOK_ALLOW_PRIVATE_URLS = env.bool("CONVENE_WEBHOOK_ALLOW_PRIVATE_URLS", default=False)
CONVENE_WEBHOOK_CONNECT_TIMEOUT_SECONDS = env.float("CONVENE_WEBHOOK_CONNECT_TIMEOUT_SECONDS", default=3.0)
CONVENE_WEBHOOK_TIMEOUT_SECONDS = env.float("CONVENE_WEBHOOK_TIMEOUT_SECONDS", default=10.0)
# Seconds after each failed attempt (each within +-20%): 8 attempts over about 27 hours.
CONVENE_WEBHOOK_RETRY_SCHEDULE = [
    float(s)
    for s in env.list("CONVENE_WEBHOOK_RETRY_SCHEDULE", default=["5", "300", "1800", "7200", "18000", "36000", "36000"])
]
CONVENE_WEBHOOK_DISABLE_AFTER_SECONDS = env.int("CONVENE_WEBHOOK_DISABLE_AFTER_SECONDS", default=5 * 24 * 3600)
CONVENE_WEBHOOK_SECRET_GRACE_SECONDS = env.int("CONVENE_WEBHOOK_SECRET_GRACE_SECONDS", default=24 * 3600)
CONVENE_WEBHOOK_SWEEP_INTERVAL_SECONDS = env.int("CONVENE_WEBHOOK_SWEEP_INTERVAL_SECONDS", default=10)
# How long an application's webhook subscriptions are cached. A change drops them at once from a
# shared cache (Redis); a per-process cache (no Redis) can only let them expire.
CONVENE_WEBHOOK_SUBSCRIPTION_CACHE_SECONDS = env.int(
    "CONVENE_WEBHOOK_SUBSCRIPTION_CACHE_SECONDS", default=300 if REDIS_URL else 2
)
