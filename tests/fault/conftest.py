"""A real Convene stack on loopback for fault tests: its own PostgreSQL and Redis (devtools/localservers),
a migrated database with one application and room, gunicorn and Celery workers as subprocesses with
production settings. The tests break pieces of it on purpose (stop Redis, stop PostgreSQL, SIGKILL a
worker) and look at the result over HTTP and in the stack's own database with psycopg.

None of this touches pytest-django's test database: nothing here uses the Django ORM in this process,
so these tests need no `db` fixture and no marker. Every process started here is stopped at teardown;
every wait has a deadline; everything binds to 127.0.0.1 only. FAULT_KEEP_LOGS=1 keeps the gunicorn
and worker logs (their directory is printed nowhere: look for /tmp/convene-fault-*).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import psycopg
import pytest
import requests

from devtools.localservers import PostgresServer, RedisServer, free_port, wait_for_port
from tests.fakes.livekit_webhooks import WEBHOOK_CONTENT_TYPE, WEBHOOK_USER_AGENT, new_guid, sign_webhook
from tests.waiting import wait_until
from tests.webhooks.conftest import event_body, participant_info, room_info

REPO_ROOT = Path(__file__).resolve().parents[2]

VENV_BIN = Path(sys.executable).parent
TASK_NAME = "webhooks.process_inbound_event"

# Counts every write to a participant session, with the transaction that made it. A committed
# effect of one participant_joined is one transaction; a rolled-back one leaves nothing here.
EFFECTS_SQL = """
CREATE TABLE fault_effects (
    id bigserial PRIMARY KEY,
    sid text NOT NULL,
    op text NOT NULL,
    tx bigint NOT NULL DEFAULT txid_current(),
    at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE FUNCTION fault_effect() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO fault_effects (sid, op) VALUES (NEW.provider_participant_id, TG_OP);
    RETURN NULL;
END $$;
CREATE TRIGGER fault_effect AFTER INSERT OR UPDATE ON rooms_participantsession
    FOR EACH ROW EXECUTE FUNCTION fault_effect();
"""

SEED_CODE = """
import json
from core.services import application_create
from rooms.services.rooms import room_create
application, _ = application_create(name="fault-tests")
room, _, _ = room_create(application=application, title="Fault room")
print(json.dumps({"room_id": str(room.pk), "room_name": room.provider_room_name}))
"""


def procfile_command(kind: str) -> str:
    """The command line of a process type in the repository's Procfile."""
    for line in (REPO_ROOT / "Procfile").read_text().splitlines():
        name, separator, command = line.partition(":")
        if separator and name.strip() == kind:
            return command.strip()
    raise LookupError(f"no {kind!r} process in the Procfile")


def child_pids(pid: int) -> list[int]:
    """Direct children of `pid`, read from /proc (no psutil needed)."""
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            children.append(int(entry.name))
    return children


@dataclass
class Proc:
    name: str
    process: subprocess.Popen
    log_path: Path
    port: int | None = None
    log_mark: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self, since_mark: bool = False) -> str:
        text = self.log_path.read_text(errors="replace")
        return text[self.log_mark :] if since_mark else text

    def mark(self) -> None:
        """Remember where the log ends now; `log(since_mark=True)` reads what came after."""
        self.log_mark = len(self.log_path.read_text(errors="replace"))

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, *, timeout: float = 20) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        self.kill_group()

    def kill_group(self) -> None:
        """SIGKILL the process group this Proc leads (its own session): the process and its children."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass


@dataclass
class Posted:
    status: int
    seconds: float
    body: dict = field(default_factory=dict)


class Stack:
    def __init__(self) -> None:
        self.postgres = PostgresServer()
        self.redis = RedisServer()
        self.log_dir = Path(tempfile.mkdtemp(prefix="convene-fault-"))
        self.env: dict[str, str] = {}
        self.room = SimpleNamespace(id="", provider_room_name="")
        self.gunicorn: Proc | None = None
        self.worker: Proc | None = None
        self.extra: list[Proc] = []
        self._names = 0

    # --- lifecycle -------------------------------------------------------------------------------

    def start(self, *, procfile: bool = False) -> Stack:
        """Start the servers and the web and worker processes: this file's own command lines, or
        with `procfile` the Procfile's `web` and `worker` entries as a platform runs them."""
        self.postgres.start()
        self.redis.start()
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_", "CELERY_"))},
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DEBUG": "false",
            "SECRET_KEY": secrets.token_urlsafe(48),
            "ALLOWED_HOSTS": "127.0.0.1",
            "SECURE_SSL_REDIRECT": "false",
            "LIVEKIT_URL": "http://127.0.0.1:9",
            "LIVEKIT_API_KEY": "fault-livekit-key",
            "LIVEKIT_API_SECRET": secrets.token_urlsafe(32),
            "DATABASE_URL": self.postgres.url,
            "REDIS_URL": self.redis.url,
            "LOG_LEVEL": "INFO",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        self.manage("migrate", "--no-input")
        seeded = json.loads(self.shell(SEED_CODE).strip().splitlines()[-1])
        self.room = SimpleNamespace(id=seeded["room_id"], provider_room_name=seeded["room_name"])
        with self.db() as conn:
            conn.execute(EFFECTS_SQL)
        if procfile:
            self.gunicorn = self.start_procfile("web")
            self.worker = self.start_procfile("worker")
        else:
            self.gunicorn = self.start_gunicorn()
            self.worker = self.start_worker()
        return self

    def close(self) -> None:
        procs = [*self.extra, self.worker, self.gunicorn]
        for proc in procs:
            if proc is not None:
                proc.stop(timeout=10)
        self.redis.cleanup()
        self.postgres.cleanup()
        if not os.environ.get("FAULT_KEEP_LOGS"):
            shutil.rmtree(self.log_dir, ignore_errors=True)

    def ensure_healthy(self) -> None:
        """Undo what a failed test may have left broken: servers up, gunicorn and one worker running."""
        if self.postgres.process is None:
            self.postgres.start()
        if self.redis.process is None:
            self.redis.start()
        for proc in self.extra:
            proc.stop(timeout=10)
        self.extra.clear()
        if self.gunicorn is None or not self.gunicorn.alive():
            self.gunicorn = self.start_gunicorn()
        if self.worker is None or not self.worker.alive():
            if self.worker is not None:
                self.worker.kill_group()
            self.worker = self.start_worker()

    # --- subprocesses ----------------------------------------------------------------------------

    def _name(self, prefix: str) -> str:
        self._names += 1
        return f"{prefix}{self._names}"

    def _popen(self, name: str, command: list[str], env: dict[str, str]) -> tuple[subprocess.Popen, Path]:
        log_path = self.log_dir / f"{name}.log"
        with open(log_path, "ab") as log:
            process = subprocess.Popen(
                command,
                cwd=REPO_ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, so its children can be killed with it
            )
        return process, log_path

    def manage(self, *args: str, env: dict[str, str] | None = None, timeout: float = 120) -> str:
        completed = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=REPO_ROOT,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if completed.returncode != 0:
            raise RuntimeError(f"manage.py {args[0]} failed ({completed.returncode}):\n{completed.stderr[-4000:]}")
        return completed.stdout

    def shell(self, code: str, *, timeout: float = 60) -> str:
        return self.manage("shell", "-c", code, timeout=timeout)

    def start_gunicorn(self, *, env: dict[str, str] | None = None) -> Proc:
        port = free_port()
        name = self._name("gunicorn")
        command = [
            str(VENV_BIN / "gunicorn"),
            "config.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--graceful-timeout",
            "5",
        ]
        process, log_path = self._popen(name, command, {**self.env, **(env or {})})
        proc = Proc(name=name, process=process, log_path=log_path, port=port)
        return self._wait_web_ready(proc)

    def start_procfile(self, kind: str) -> Proc:
        """The Procfile's `kind` command, run by a shell with the virtualenv first on PATH. Its
        `--bind 0.0.0.0:…` becomes 127.0.0.1: nothing a test starts listens beyond loopback."""
        command = procfile_command(kind)
        port = free_port() if kind == "web" else None
        if port is not None:
            assert command.count("0.0.0.0:") == 1, command
            command = command.replace("0.0.0.0:", "127.0.0.1:")
        env = {
            **self.env,
            "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            **({"PORT": str(port)} if port else {}),
            "WEB_CONCURRENCY": "2",
            "CELERY_CONCURRENCY": "1",
        }
        name = self._name(f"procfile-{kind}")
        process, log_path = self._popen(name, ["bash", "-c", f"exec {command}"], env)
        proc = Proc(name=name, process=process, log_path=log_path, port=port)
        if port is None:
            self.wait_worker_ready(proc)
            return proc
        return self._wait_web_ready(proc)

    def _wait_web_ready(self, proc: Proc) -> Proc:
        try:
            wait_for_port(proc.port, 30)
            wait_until(lambda: self._healthy(proc), timeout=30, what=f"{proc.name} /healthz")
        except (TimeoutError, AssertionError) as exc:
            proc.stop(timeout=5)
            raise RuntimeError(f"{proc.name} did not start: {exc}\n{proc.log()[-3000:]}") from exc
        return proc

    @staticmethod
    def _healthy(proc: Proc) -> bool:
        if not proc.alive():
            raise RuntimeError(f"{proc.name} exited with {proc.process.returncode}:\n{proc.log()[-3000:]}")
        try:
            return requests.get(proc.base_url + "/healthz", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def start_worker(self, *, env: dict[str, str] | None = None, wait: bool = True) -> Proc:
        name = self._name("worker")
        command = [
            str(VENV_BIN / "celery"),
            "-A",
            "config",
            "worker",
            "--concurrency=1",
            "--pool=prefork",
            "-Q",
            "celery",
            "--without-heartbeat",
            "--without-mingle",
            "--without-gossip",
            "--loglevel=INFO",
            "-n",
            f"{name}@127.0.0.1",
        ]
        process, log_path = self._popen(name, command, {**self.env, **(env or {})})
        proc = Proc(name=name, process=process, log_path=log_path)
        if wait:
            self.wait_worker_ready(proc)
        return proc

    @staticmethod
    def wait_worker_ready(proc: Proc, timeout: float = 45) -> None:
        def ready() -> bool:
            if not proc.alive():
                raise RuntimeError(f"{proc.name} exited with {proc.process.returncode}:\n{proc.log()[-3000:]}")
            return " ready." in proc.log()

        wait_until(ready, timeout=timeout, what=f"{proc.name} ready")

    # --- HTTP ------------------------------------------------------------------------------------

    def signed(self, body: bytes) -> str:
        return sign_webhook(body, self.env["LIVEKIT_API_KEY"], self.env["LIVEKIT_API_SECRET"])

    def post(
        self, body: bytes, *, authorization: str | None = None, base_url: str | None = None, timeout: float = 15
    ) -> Posted:
        headers = {
            "Authorization": authorization or self.signed(body),
            "Content-Type": WEBHOOK_CONTENT_TYPE,
            "User-Agent": WEBHOOK_USER_AGENT,
        }
        started = time.monotonic()
        response = requests.post(
            (base_url or self.gunicorn.base_url) + "/webhooks/livekit", data=body, headers=headers, timeout=timeout
        )
        elapsed = time.monotonic() - started
        try:
            payload = response.json()
        except ValueError:
            payload = {"raw": response.text[:500]}
        return Posted(status=response.status_code, seconds=elapsed, body=payload)

    # --- events and the stack's database ---------------------------------------------------------

    def joined(self, participant_sid: str, *, room_sid: str, event_id: str | None = None) -> tuple[str, bytes]:
        """A participant_joined body for this stack's room; returns (provider event id, body)."""
        event_id = event_id or new_guid("EV_")
        body = event_body(
            "participant_joined",
            event_id=event_id,
            room=room_info(self.room, sid=room_sid),
            participant=participant_info(participant_sid, f"id-{participant_sid}", name="Fault"),
        )
        return event_id, body

    def db(self, *, autocommit: bool = True) -> psycopg.Connection:
        return psycopg.connect(self.postgres.url, autocommit=autocommit, connect_timeout=5)

    def events(self, event_ids: list[str]) -> dict[str, dict]:
        with self.db() as conn:
            rows = conn.execute(
                "SELECT provider_event_id, id, status, attempts, last_error, received_at, processed_at"
                " FROM webhooks_inboundevent WHERE provider = 'livekit' AND provider_event_id = ANY(%s)",
                (event_ids,),
            ).fetchall()
        return {
            r[0]: {
                "pk": r[1],
                "status": r[2],
                "attempts": r[3],
                "last_error": r[4],
                "received_at": r[5],
                "processed_at": r[6],
            }
            for r in rows
        }

    def participant_counts(self, sids: list[str]) -> dict[str, int]:
        with self.db() as conn:
            rows = conn.execute(
                "SELECT provider_participant_id, count(*) FROM rooms_participantsession"
                " WHERE provider_participant_id = ANY(%s) GROUP BY 1",
                (sids,),
            ).fetchall()
        return {sid: 0 for sid in sids} | dict(rows)

    def effect_counts(self, sids: list[str]) -> dict[str, int]:
        """Committed transactions that wrote each participant session: 1 when its event took effect once."""
        with self.db() as conn:
            rows = conn.execute(
                "SELECT sid, count(DISTINCT tx) FROM fault_effects WHERE sid = ANY(%s) GROUP BY 1", (sids,)
            ).fetchall()
        return {sid: 0 for sid in sids} | dict(rows)

    def all_final(self, event_ids: list[str]) -> bool:
        rows = self.events(event_ids)
        return len(rows) == len(event_ids) and all(r["status"] != "pending" for r in rows.values())

    def assert_processed_once(self, event_ids: list[str], sids: list[str]) -> None:
        rows = self.events(event_ids)
        assert len(rows) == len(event_ids), f"{len(event_ids) - len(rows)} events not stored"
        wrong = {
            eid: (r["status"], r["attempts"], r["last_error"])
            for eid, r in rows.items()
            if (r["status"], r["attempts"]) != ("done", 1)
        }
        if wrong:  # the worker's log says why an attempt failed
            print("worker log (tail):\n" + self.worker.log()[-6000:])
        assert not wrong, f"events not done exactly once (status, attempts, error): {wrong}"
        sessions = self.participant_counts(sids)
        assert set(sessions.values()) == {1}, f"participant sessions per sid: {sessions}"
        effects = self.effect_counts(sids)
        assert set(effects.values()) == {1}, f"committed effects per sid: {effects}"


@pytest.fixture(scope="module")
def fault_stack():
    stack = Stack()
    try:
        stack.start()
        yield stack
    finally:
        stack.close()


@pytest.fixture
def stack(fault_stack: Stack) -> Stack:
    """The module's stack, repaired before each test (a failed test may have left a server down)."""
    fault_stack.ensure_healthy()
    return fault_stack


class BlackHoleBroker:
    """A TCP server on 127.0.0.1 that accepts connections and never answers (nor closes them)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="black-hole-broker", daemon=True)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def __enter__(self) -> BlackHoleBroker:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for conn in self.accepted:
            conn.close()
        self.sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted.append(conn)  # held open, never read, never written


@pytest.fixture
def black_hole_broker():
    with BlackHoleBroker() as broker:
        yield broker
