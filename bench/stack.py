"""The system under test for bench/run.py: throwaway PostgreSQL (with pg_stat_statements) and
Redis on 127.0.0.1, a migrated database, an application with its API key, and Convene under
gunicorn with production settings. Everything it starts, it stops; it changes nothing outside."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from devtools.localservers import PostgresServer, RedisServer, free_port, wait_for_port

REPO_ROOT = Path(__file__).resolve().parent.parent

# Raised so that the per-address join throttle (30/min by default) does not cap the benchmark:
# every request comes from 127.0.0.1. The throttle's cache round trip is still made and measured.
JOIN_RATE_LIMIT = "1000000/min"


def production_env(*, database_url: str, redis_url: str, num_proxies: int) -> dict[str, str]:
    """The environment of a production-mode Convene (DEBUG off, strong secrets) on loopback.

    With num_proxies=1 the service trusts one proxy's X-Forwarded-For, as behind a load balancer:
    the load generator then presents many client addresses, so each client's throttle history
    stays as short as a real joiner's (DRF keeps one timestamp per request per client).
    """
    return {
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "LIVEKIT_URL": "http://127.0.0.1:9",  # token minting is local; nothing calls LiveKit here
        "LIVEKIT_API_KEY": "bench-livekit-key",
        "LIVEKIT_API_SECRET": secrets.token_urlsafe(32),
        # Janus rooms can be made and its events taken; nothing listens there (room creation is retried on join).
        "JANUS_URL": "http://127.0.0.1:9/janus",
        "JANUS_ADMIN_KEY": secrets.token_urlsafe(32),
        "JANUS_TOKEN_SECRET": secrets.token_urlsafe(32),
        "JANUS_WEBHOOK_PASSWORD": secrets.token_urlsafe(32),
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "CONVENE_JOIN_RATE_LIMIT": JOIN_RATE_LIMIT,
        "NUM_PROXIES": str(num_proxies),
        "LOG_LEVEL": "WARNING",
    }


def public_settings(env: dict[str, str]) -> dict[str, str]:
    """The settings worth printing: everything except secrets and local addresses."""
    hidden = {"SECRET_KEY", "LIVEKIT_API_SECRET", "DATABASE_URL", "REDIS_URL"}
    hidden |= {"JANUS_ADMIN_KEY", "JANUS_TOKEN_SECRET", "JANUS_WEBHOOK_PASSWORD"}
    return {name: value for name, value in env.items() if name not in hidden}


def _venv_tool(name: str) -> str:
    candidate = Path(sys.executable).parent / name
    found = str(candidate) if candidate.exists() else shutil.which(name)
    if not found:
        raise FileNotFoundError(f"{name} not found next to {sys.executable} nor on PATH")
    return found


@dataclass
class Gunicorn:
    workers: int
    port: int
    log_path: Path
    process: subprocess.Popen
    command: list[str] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


class Stack:
    """Use as a context manager: `with Stack() as stack: ...`; leaving it stops every server."""

    def __init__(self, *, num_proxies: int = 0) -> None:
        self.num_proxies = num_proxies
        self.postgres: PostgresServer | None = None
        self.redis: RedisServer | None = None
        self.gunicorn: Gunicorn | None = None
        self.env: dict[str, str] = {}
        self.log_dir = Path(tempfile.mkdtemp(prefix="convene-bench-"))
        self.api_key = ""
        self.pg_stat_statements = False

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def start(self) -> None:
        self.postgres = PostgresServer(durable=True).start()  # commits wait for the WAL flush
        self.pg_stat_statements = self._enable_pg_stat_statements()
        self.redis = RedisServer().start()
        self.env = production_env(
            database_url=self.postgres.url, redis_url=self.redis.url, num_proxies=self.num_proxies
        )
        self.manage("migrate", "--no-input")
        created = json.loads(self.manage("create_application", "bench", "--json"))
        self.api_key = created["api_key"]

    def _enable_pg_stat_statements(self) -> bool:
        """Load pg_stat_statements (a restart is needed) so queries per request can be counted."""
        import psycopg

        try:
            with psycopg.connect(self.postgres.url, autocommit=True) as conn:
                conn.execute("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'")
            self.postgres.stop()
            self.postgres.start()
            with psycopg.connect(self.postgres.url, autocommit=True) as conn:
                conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        except (psycopg.Error, TimeoutError) as exc:
            print(f"note: pg_stat_statements unavailable ({exc}); DB queries per request not counted")
            if self.postgres.process is None:
                self.postgres.start()
            return False
        return True

    def manage(self, *args: str) -> str:
        completed = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=REPO_ROOT,
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            timeout=300,
        )
        if completed.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{completed.stderr[-3000:]}")
        return completed.stdout

    def start_gunicorn(self, *, workers: int) -> Gunicorn:
        self.stop_gunicorn()
        port = free_port()
        log_path = self.log_dir / f"gunicorn-{workers}w.log"
        # As the Procfile runs it (sync workers, access log on), bound to loopback.
        command = [
            _venv_tool("gunicorn"),
            "config.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--worker-class",
            "sync",
            "--access-logfile",
            "-",
            "--access-logformat",
            '%(h)s %(t)s "%(r)s" %(s)s %(b)s %(D)s',  # the default, with the time taken in µs
            "--forwarded-allow-ips",
            "127.0.0.1",
        ]
        with open(log_path, "ab") as log:
            # A session of its own, so a worker left behind by a killed master can be killed too.
            process = subprocess.Popen(
                command,
                cwd=REPO_ROOT,
                env={**os.environ, **self.env},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.gunicorn = Gunicorn(workers=workers, port=port, log_path=log_path, process=process, command=command)
        try:
            wait_for_port(port, 30)
            self._wait_healthy(self.gunicorn)
        except (TimeoutError, RuntimeError) as exc:
            tail = log_path.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"gunicorn did not start: {exc}\n{tail}") from exc
        return self.gunicorn

    @staticmethod
    def _wait_healthy(gunicorn: Gunicorn, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if gunicorn.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {gunicorn.process.returncode}")
            try:
                with urllib.request.urlopen(gunicorn.base_url + "/healthz", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        raise TimeoutError("/healthz did not answer 200")

    def stop_gunicorn(self) -> None:
        if self.gunicorn is None:
            return
        process = self.gunicorn.process
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)  # graceful: the master stops its workers
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        self.gunicorn = None

    def close(self) -> None:
        try:
            self.stop_gunicorn()
        finally:
            for server in (self.redis, self.postgres):
                if server is not None:
                    server.cleanup()
            shutil.rmtree(self.log_dir, ignore_errors=True)
