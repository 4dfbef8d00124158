"""Django's PostgreSQL backend, health-checking a reused connection only when there is a reason.

With CONN_HEALTH_CHECKS, Django pings a reused connection (SELECT 1) before the first query of
every request and, through config.celery, every task: one more round trip each time, about a third
of the time of the webhook intake on a small machine. Here the ping is skipped when nothing
suggests the connection broke:

- its last query ran less than DATABASE_HEALTH_CHECK_IDLE_SECONDS ago and raised no error, and
- its socket has nothing to read: an idle connection gets no data from the server, so a readable
  socket means the server closed it or sent an error (a restart, pg_terminate_backend, an idle
  timeout). Checking costs one poll system call, not a round trip.

Otherwise Django's ping runs as before. A connection that broke without a word from the server
(a network path lost within that moment) fails the one request that uses it (the API and the
webhook answer 503, a task is retried), and Django drops it when that request or task ends.
"""

from __future__ import annotations

import select
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
            and not self.health_check_done
            and not self.errors_occurred
            and time.monotonic() - self.last_used_at < settings.DATABASE_HEALTH_CHECK_IDLE_SECONDS
            and not self._server_said_something()
        ):
            self.health_check_done = True
        super().close_if_health_check_failed()

    def _server_said_something(self) -> bool:
        try:
            readable, _, _ = select.select([self.connection.fileno()], [], [], 0)
        except (OSError, ValueError, self.Database.Error):
            return True  # no usable socket: let the health check decide
        return bool(readable)
