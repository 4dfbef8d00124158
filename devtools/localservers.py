"""Throwaway PostgreSQL and Redis servers on 127.0.0.1 for the test suite and the benchmarks.

Each server lives in its own temporary directory on a free loopback port, can be stopped and
started again (fault tests do), and is always stopped on exit. Used as a library by tests and
bench/, and as a command: `python -m devtools.localservers [--no-redis] -- CMD ...` runs CMD with
DATABASE_URL and REDIS_URL pointing at fresh servers.
"""

from __future__ import annotations

import argparse
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PG_BIN_DIRS = ("/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/17/bin")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            sock.settimeout(0.2)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def stop_process(process: subprocess.Popen | None, sig: int = signal.SIGTERM, timeout: float = 10) -> None:
    """Ask a child to stop with `sig`, then kill it if it has not within `timeout` seconds."""
    if process and process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _pg_bin(name: str) -> str:
    for directory in PG_BIN_DIRS:
        candidate = Path(directory) / name
        if candidate.exists():
            return str(candidate)
    found = shutil.which(name)
    if not found:
        raise FileNotFoundError(f"PostgreSQL's {name} not found (install postgresql)")
    return found


def _demote():
    """As root, PostgreSQL must run as an unprivileged user: use the `postgres` account."""
    if os.geteuid() != 0:
        return None, None
    account = pwd.getpwnam("postgres")
    return account.pw_uid, account.pw_gid


class PostgresServer:
    """durable=False (tests): no fsync, for speed; durable=True (benchmarks): PostgreSQL's own
    defaults, so every commit waits for its WAL flush as in production."""

    def __init__(self, *, database: str = "convene", durable: bool = False):
        self.database = database
        self.durable = durable
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="convene-pg-"))
        self.data = self.root / "data"
        self.uid, self.gid = _demote()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"postgres://convene@127.0.0.1:{self.port}/{self.database}"

    def _run_as_owner(self, args: list[str], **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run(args, user=self.uid, group=self.gid, check=True, capture_output=True, **kwargs)

    def initialise(self) -> PostgresServer:
        if self.uid is not None:
            os.chown(self.root, self.uid, self.gid)
        self._run_as_owner(
            [_pg_bin("initdb"), "-D", str(self.data), "-U", "convene", "--auth=trust", "--encoding=UTF8", "--no-sync"],
            timeout=120,
        )
        return self

    def start(self) -> PostgresServer:
        if not self.data.exists():
            self.initialise()
        options = [
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-k",
            str(self.root),
            "-c",
            "max_connections=200",
        ]
        if not self.durable:
            options += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
        self.process = subprocess.Popen(
            [_pg_bin("postgres"), "-D", str(self.data), *options],
            user=self.uid,
            group=self.gid,
            stdout=subprocess.DEVNULL,
            stderr=open(self.root / "log", "ab"),
        )
        wait_for_port(self.port, 30)
        deadline = time.monotonic() + 30
        while (
            subprocess.run(
                [_pg_bin("pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)], capture_output=True
            ).returncode
            != 0
        ):
            if time.monotonic() > deadline:
                raise TimeoutError("PostgreSQL did not become ready")
            time.sleep(0.1)
        subprocess.run(
            [_pg_bin("createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "convene", self.database],
            capture_output=True,
        )
        return self

    def stop(self) -> None:
        stop_process(self.process, signal.SIGINT, timeout=20)  # SIGINT: PostgreSQL's fast shutdown
        self.process = None

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


class RedisServer:
    def __init__(self):
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="convene-redis-"))
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.process = subprocess.Popen(
            [
                binary,
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--dir",
                str(self.root),
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "yes",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port, 15)
        return self

    def stop(self) -> None:
        stop_process(self.process)
        self.process = None

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-redis", action="store_true")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give a command after --")
    postgres = PostgresServer().start()
    redis = None if args.no_redis else RedisServer().start()
    env = {**os.environ, "DATABASE_URL": postgres.url}
    if redis:
        env["REDIS_URL"] = redis.url
    print(
        f"localservers: PostgreSQL on 127.0.0.1:{postgres.port}"
        + (f", Redis on 127.0.0.1:{redis.port}" if redis else ""),
        flush=True,
    )
    try:
        return subprocess.run(command, env=env).returncode
    finally:
        postgres.cleanup()
        if redis:
            redis.cleanup()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
