"""Django's PostgreSQL backend, health-checking a reused connection only when it has been idle.

With CONN_HEALTH_CHECKS, Django pings a reused connection (SELECT 1) before the first query of
every request and, through config.celery, every task: one more round trip each time, about a third
of the time of the webhook intake on a small machine. A connection that worked a moment ago is
very likely still good, so it is trusted when its last query was less than
DATABASE_HEALTH_CHECK_IDLE_SECONDS ago and raised no error; an idler one is pinged as before. If
the database restarted within that moment anyway, the one request that finds the broken connection
fails (the API answers 503, a webhook 503 so that LiveKit retries, a task is retried) and Django
drops the connection when that request or task ends.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    last_used_at = float("-inf")

    def create_cursor(self, name=None):
        self.last_used_at = time.monotonic()
        return super().create_cursor(name)

    def close_if_health_check_failed(self) -> None:
        if (
            self.connection is not None
            and not self.errors_occurred
            and time.monotonic() - self.last_used_at < settings.DATABASE_HEALTH_CHECK_IDLE_SECONDS
        ):
            self.health_check_done = True
        super().close_if_health_check_failed()
