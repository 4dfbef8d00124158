"""Server-side counts for bench/run.py: SQL statements (pg_stat_statements, so everything the
server ran is counted, BEGIN/COMMIT and Django's connection health check included) and Redis
commands (INFO commandstats) over one measured window. Reads statistics only."""

from __future__ import annotations

import psycopg
import redis

# The benchmark's own statistics queries are not the service's.
_OWN_STATEMENTS = ("pg_stat_statements",)
# Foreign-key checks PostgreSQL runs inside an INSERT/UPDATE: counted apart, Django never sends them.
_FOREIGN_KEY_CHECK = 'SELECT 1 FROM ONLY "'

_OWN_REDIS_COMMANDS = {"config|resetstat", "info", "config"}


class ServerCounters:
    def __init__(self, *, database_url: str, redis_url: str, pg_stat_statements: bool) -> None:
        self.database_url = database_url
        self.redis = redis.Redis.from_url(redis_url)
        self.pg_stat_statements = pg_stat_statements

    def reset(self) -> None:
        self.redis.config_resetstat()
        if self.pg_stat_statements:
            with psycopg.connect(self.database_url, autocommit=True) as conn:
                conn.execute("SELECT pg_stat_statements_reset()")

    def per_request(self, requests: int) -> dict:
        """Statements and commands since reset(), divided by the number of requests served."""
        divisor = max(requests, 1)
        result: dict = {"redis_commands_per_request": round(self._redis_calls() / divisor, 2)}
        if not self.pg_stat_statements:
            unavailable = ("db_queries_per_request", "db_foreign_key_checks_per_request", "db_time_ms_per_request")
            return {**result, **dict.fromkeys(unavailable), "db_statements": []}
        statements = self._statements()
        checks = sum(calls for calls, _, query in statements if query.startswith(_FOREIGN_KEY_CHECK))
        sent = sum(calls for calls, _, _ in statements) - checks
        result["db_queries_per_request"] = round(sent / divisor, 2)
        result["db_foreign_key_checks_per_request"] = round(checks / divisor, 2)
        result["db_time_ms_per_request"] = round(sum(row[1] for row in statements) / divisor, 3)
        result["db_statements"] = [
            {
                "calls_per_request": round(row_calls / divisor, 2),
                "mean_ms": round(total_ms / row_calls, 3) if row_calls else 0.0,
                "query": " ".join(query.split())[:160],
            }
            for row_calls, total_ms, query in statements
        ]
        return result

    def _statements(self) -> list[tuple[int, float, str]]:
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT calls, total_exec_time, query FROM pg_stat_statements ORDER BY calls DESC, total_exec_time DESC"
            ).fetchall()
        return [row for row in rows if not any(marker in row[2] for marker in _OWN_STATEMENTS)]

    def _redis_calls(self) -> int:
        stats = self.redis.info("commandstats")
        return sum(
            values["calls"]
            for name, values in stats.items()
            if name.removeprefix("cmdstat_") not in _OWN_REDIS_COMMANDS
        )

    def close(self) -> None:
        self.redis.close()
