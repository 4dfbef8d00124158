"""Django's PostgreSQL backend, health-checking a reused connection only when there is a reason.

With CONN_HEALTH_CHECKS, Django pings a reused connection (SELECT 1) before the first query of
every request and, through config.celery, every task: one more round trip each time, on the hot
paths too (bench/README.md). Here the ping is skipped when nothing suggests the connection broke:

- its last query ran less than DATABASE_HEALTH_CHECK_IDLE_SECONDS ago and raised no error, and
- its socket has nothing to read: an idle connection gets no data from the server, so a readable
  socket means the server closed it or sent an error (a restart, pg_terminate_backend, an idle
  timeout). Checking costs one poll system call, not a round trip.

Otherwise Django's ping runs. A connection that broke without a word from the server
(a network path lost within that moment) fails the one request that uses it (the API and the
webhook answer 503, a task is retried), and Django drops it when that request or task ends.

It also hands out prepared cursors (`prepared_cursor()`) for the hot paths' fixed statements
(core.orm_bypass): with Django's default client-side binding, PostgreSQL parses and plans every
statement afresh (bench/README.md). A prepared cursor binds on the
server and has psycopg prepare each statement once per connection (its cache keeps the last 100),
then only execute it. Everything else keeps Django's default. DATABASE_PREPARED_STATEMENTS=false
turns this off, for a pooler that cannot carry prepared statements (PgBouncer in transaction mode
before 1.21, or without max_prepared_statements).
"""

from __future__ import annotations

import select
import sys
import time

from django.conf import settings
from django.db.backends.postgresql import base, operations
from django.db.backends.postgresql.psycopg_any import errors
from psycopg import pq


class PreparedCursor(base.ServerBindingCursor):
    """Server-side binding, and every statement prepared (psycopg names it and keeps it for the
    connection's lifetime, up to its cache size).

    A migration that changes the type of a column a prepared SELECT returns (a deploy's ALTER
    COLUMN ... TYPE, run by another process) makes PostgreSQL refuse that statement from then on
    ("cached plan must not change result type"). psycopg forgets its statements on a ROLLBACK, so
    inside a transaction the failure happens once and the rollback mends it. Outside one nothing
    would: there the statements are dropped (DEALLOCATE ALL, which psycopg notices) and the
    statement, refused before it ran, is prepared and run again."""

    def execute(self, query, params=None, *, prepare=None, binary=None):
        prepare = True if prepare is None else prepare
        try:
            return super().execute(query, params, prepare=prepare, binary=binary)
        except errors.FeatureNotSupported as exc:
            if not str(exc).startswith(_STALE_PLAN) or self.connection.info.transaction_status != _IDLE:
                raise
        super().execute("DEALLOCATE ALL", prepare=False)
        return super().execute(query, params, prepare=prepare, binary=binary)


_STALE_PLAN = "cached plan must not change result type"
_IDLE = pq.TransactionStatus.IDLE


class DatabaseOperations(operations.DatabaseOperations):
    def last_executed_query(self, cursor, sql, params):
        if isinstance(cursor, PreparedCursor):
            # What Django logs under server-side binding: the statement with its values inlined
            # (only when queries are logged: DEBUG, tests). A prepared execution keeps no text.
            try:
                return self.compose_sql(sql, params)
            except errors.DataError:
                return None
        return super().last_executed_query(cursor, sql, params)


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations
    last_used_at = float("-inf")
    _next_cursor_prepared = False

    def prepared_cursor(self):
        """A cursor (Django's wrapper, so query logging and execute wrappers still apply) whose
        statements are prepared on the server once per connection."""
        if not settings.DATABASE_PREPARED_STATEMENTS:
            return self.cursor()
        self._next_cursor_prepared = True
        try:
            return self.cursor()
        finally:
            self._next_cursor_prepared = False

    def get_new_connection(self, conn_params):
        conn = super().get_new_connection(conn_params)
        if settings.DATABASE_PREPARED_STATEMENTS and conn.prepare_threshold is None:
            # Django turns psycopg's preparing off (None) unless OPTIONS sets a threshold. A
            # PreparedCursor asks for it on every statement (prepare=True), and the client-side
            # binding cursors Django uses otherwise never prepare: the threshold only has to
            # allow it.
            conn.prepare_threshold = sys.maxsize
        return conn

    def create_cursor(self, name=None):
        self.last_used_at = time.monotonic()
        if name is None and self._next_cursor_prepared:
            # Django's own path (it registers the time zone loader per cursor when needed), with
            # the prepared cursor class in place of the connection's client-side binding one.
            default, self.connection.cursor_factory = self.connection.cursor_factory, PreparedCursor
            try:
                return super().create_cursor(name)
            finally:
                self.connection.cursor_factory = default
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
