"""Two browsers in a call through the join page on a real Janus. Media cannot flow on loopback
alone (libnice gathers no loopback candidates), so the call runs in a private network namespace
made here: `lo` up and a veth pair whose inside end holds 127.0.0.2/32 (Janus's ICE interface);
PostgreSQL, Redis, Convene, Janus and Chromium all run inside it (janus_page_call.py), and nothing
leaves the machine. Needs root (CI runs as root), `ip`, Janus and Chromium."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


def test_two_browsers_call_each_other_through_the_join_page_on_janus():
    netns = f"convene-page-{secrets.token_hex(3)}"
    _ip("netns", "add", netns)
    try:
        inside = ("netns", "exec", netns, "ip")
        _ip(*inside, "link", "set", "lo", "up")
        _ip(*inside, "link", "add", "veth0", "type", "veth", "peer", "name", "veth1")
        _ip(*inside, "addr", "add", "127.0.0.2/32", "dev", "veth0")
        _ip(*inside, "link", "set", "veth1", "up")
        _ip(*inside, "link", "set", "veth0", "up")
        env = {**os.environ, "CONVENE_TEST_ICE_INTERFACES": "veth0"}
        env.pop("DATABASE_URL", None)
        env.pop("REDIS_URL", None)
        command = [
            *("ip", "netns", "exec", netns),
            *(sys.executable, "-m", "devtools.localservers", "--"),
            *(sys.executable, "-m", "pytest", str(REPO / "tests" / "e2e" / "janus_page_call.py"), "-q", "-s"),
        ]
        run = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
        print(run.stdout[-3000:])
        assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-3000:]
    finally:
        subprocess.run(["ip", "netns", "del", netns], capture_output=True, timeout=10)
