"""`make run` as a newcomer runs it: scripts/run.sh (development server, a Celery worker with the
scheduler, SQLite and the file-system broker) in an environment without any Convene setting,
with its files in a temporary CONVENE_VAR_DIR.

A burst of signed webhooks at several connections, as a local LiveKit sends them, is all processed
within a minute; the development server's and the worker's log carries no secret; the embedded
mode writes nothing outside its var directory and no .env.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests

from devtools.localservers import free_port, wait_for_port
from tests.fakes.livekit_webhooks import WEBHOOK_CONTENT_TYPE, WEBHOOK_USER_AGENT, new_guid, sign_webhook
from tests.waiting import wait_until
from tests.webhooks.conftest import event_body, participant_info, room_info

REPO_ROOT = Path(__file__).resolve().parents[2]

# The development key pair is LiveKit's own (`livekit-server --dev`), shorter than the suite allows elsewhere.
pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")

BURST = 200
CONNECTIONS = 8
DEADLINE_SECONDS = 60
DEV_KEY, DEV_SECRET = "devkey", "secret"  # what DEBUG gives, as `livekit-server --dev` uses
# Settings a newcomer does not have; the test suite's own environment sets several of them.
CONVENE_SETTINGS = ("DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "LIVEKIT_", "DATABASE_", "REDIS_URL", "CELERY_", "SECURE_")


class MakeRun:
    """scripts/run.sh in its own process group, its output in a file."""

    def __init__(self, var_dir: Path, log_path: Path) -> None:
        self.var_dir, self.log_path, self.port = var_dir, log_path, free_port()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(CONVENE_SETTINGS)}
        self.env.update(CONVENE_VAR_DIR=str(var_dir), PORT=str(self.port), PYTHONDONTWRITEBYTECODE="1")
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self.absent_before: list[Path] = []

    def start(self) -> MakeRun:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                ["scripts/run.sh"],
                cwd=REPO_ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            wait_for_port(self.port, 120)  # run.sh migrates a new SQLite database first
            wait_until(lambda: self._alive() and " ready." in self.log(), timeout=60, what="the worker")
        except (TimeoutError, AssertionError) as exc:
            self.stop()
            raise RuntimeError(f"make run did not start: {exc}\n{self.log()[-3000:]}") from exc
        return self

    def _alive(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"run.sh exited with {self.process.returncode}:\n{self.log()[-3000:]}")
        return True

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 10)):
            try:
                os.killpg(self.process.pid, sig)
                self.process.wait(timeout=wait)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                continue

    def manage(self, *args: str) -> str:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=REPO_ROOT,
            env={**self.env, "DEBUG": "true"},
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        ).stdout

    def event_counts(self) -> dict[str, int]:
        with sqlite3.connect(self.var_dir / "convene.sqlite3", timeout=10) as db:
            return dict(db.execute("SELECT status, count(*) FROM webhooks_inboundevent GROUP BY status").fetchall())


@pytest.fixture(scope="module")
def make_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("make-run")
    outside_var = [REPO_ROOT / ".env", REPO_ROOT / "control"]  # make run writes only under var/, never these
    absent_before = [path for path in outside_var if not path.exists()]
    run = MakeRun(tmp / "var", tmp / "make-run.log").start()
    run.absent_before = absent_before
    try:
        yield run
    finally:
        run.stop()


def _room_with_link(run: MakeRun, **fields) -> tuple[SimpleNamespace, str, str]:
    api_key = json.loads(run.manage("create_application", new_guid("app-"), "--json"))["api_key"]
    response = requests.post(
        run.base_url + "/api/v1/rooms",
        headers={"Authorization": f"Api-Key {api_key}"},
        json={"title": "Embedded", "participants": [{"display_name": "Patient", "role": "guest"}], **fields},
        timeout=30,
    )
    assert response.status_code == 201, response.text
    room = response.json()
    secret = room["participants"][0]["url"].rsplit("/join/", 1)[1]
    return SimpleNamespace(provider_room_name=room["provider_room_name"]), secret, api_key


def _post_webhook(session: requests.Session, base_url: str, body: bytes) -> int:
    headers = {
        "Authorization": sign_webhook(body, DEV_KEY, DEV_SECRET),
        "Content-Type": WEBHOOK_CONTENT_TYPE,
        "User-Agent": WEBHOOK_USER_AGENT,
    }
    return session.post(base_url + "/webhooks/livekit", data=body, headers=headers, timeout=30).status_code


def test_a_burst_of_webhooks_is_processed_within_a_minute(make_run):
    room, _, _ = _room_with_link(make_run)
    room_sid = new_guid("RM_")
    bodies = [
        event_body("participant_joined", room=room_info(room, sid=room_sid), participant=participant_info(sid, sid))
        for sid in (new_guid("PA_") for _ in range(BURST))
    ]
    chunks = [bodies[i::CONNECTIONS] for i in range(CONNECTIONS)]

    def send(chunk: list[bytes]) -> list[int]:
        with requests.Session() as session:
            return [_post_webhook(session, make_run.base_url, body) for body in chunk]

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=CONNECTIONS) as pool:
        statuses = [status for chunk_statuses in pool.map(send, chunks) for status in chunk_statuses]
    answered = time.monotonic() - started
    assert statuses == [200] * BURST

    def all_final() -> bool:
        counts = make_run.event_counts()
        return sum(counts.values()) == BURST and not counts.get("pending") and not counts.get("processing")

    deadline = started + DEADLINE_SECONDS
    while not all_final() and time.monotonic() < deadline:
        time.sleep(0.25)
    took = time.monotonic() - started
    counts = make_run.event_counts()
    print(f"\nmake run: {BURST} webhooks answered in {answered:.1f}s, processed {counts} after {took:.1f}s")
    assert counts == {"done": BURST}, f"after {took:.1f}s: {counts}"


def test_the_development_server_and_worker_log_no_secret(make_run):
    _, secret, api_key = _room_with_link(make_run)
    joined = requests.post(f"{make_run.base_url}/api/v1/join/{secret}", timeout=30)
    assert joined.status_code == 200, joined.text
    page = requests.get(f"{make_run.base_url}/join/{secret}", timeout=30)  # the join page, and its event stream
    assert page.status_code == 200 and secret in page.text  # the page calls the API with it
    with requests.get(f"{make_run.base_url}/api/v1/join/{secret}/events", timeout=30, stream=True) as events:
        assert events.status_code == 200 and next(events.iter_lines())
    token = new_guid("download-token-")
    download = requests.get(f"{make_run.base_url}/api/v1/recordings/{uuid.uuid4()}/download?token={token}", timeout=30)
    assert download.status_code == 403, download.text  # not a token Convene made; in the log all the same
    body = event_body("room_started", room=room_info(SimpleNamespace(provider_room_name="elsewhere")))
    signature = sign_webhook(body, DEV_KEY, DEV_SECRET)
    with requests.Session() as session:
        assert _post_webhook(session, make_run.base_url, body) == 200

    log = make_run.log()
    secrets = {"join secret": secret, "join token": joined.json()["token"], "API key": api_key, "token": token}
    for name, value in secrets.items():
        leaked = [line for line in log.splitlines() if value in line]
        assert not leaked, f"the {name} is in make run's log: {leaked[:3]}"
    assert signature not in log
    assert '"POST /api/v1/join/[redacted] HTTP/1.1" 200' in log
    assert '"GET /join/[redacted] HTTP/1.1" 200' in log
    assert "/download?token=[redacted] HTTP/1.1" in log


def test_the_embedded_mode_writes_only_under_its_var_directory_and_no_env_file(make_run):
    assert [path for path in make_run.absent_before if path.exists()] == []
    written = {path.name for path in make_run.var_dir.iterdir()}
    assert {"convene.sqlite3", "celery-queue", "celery-control"} <= written, written
    assert any(name.startswith("celerybeat-schedule") for name in written), written
    assert any((make_run.var_dir / "celery-control").glob("*.exchange"))


def test_the_readmes_command_for_an_api_key_works_as_written_next_to_make_run(make_run):
    readme = (REPO_ROOT / "README.md").read_text()
    command = next(line for line in readme.splitlines() if "manage.py create_application" in line)
    command = command.replace('"My clinic"', new_guid("readme-"))
    result = subprocess.run(
        ["bash", "-c", command], cwd=REPO_ROOT, env=make_run.env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert set(json.loads(result.stdout)) == {"application_id", "api_key"}


def test_make_run_starts_a_private_janus_that_janus_rooms_use(make_run):
    room, secret, _ = _room_with_link(make_run, provider="janus")
    joined = requests.post(f"{make_run.base_url}/api/v1/join/{secret}", timeout=30).json()
    assert joined["provider"] == "janus" and joined["room_name"] == room.provider_room_name
    session = requests.post(
        joined["server_url"], json={"janus": "create", "transaction": "t", "token": joined["token"]}, timeout=10
    )
    assert session.json()["janus"] == "success"
