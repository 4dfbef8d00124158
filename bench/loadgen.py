"""Load generators for bench/run.py: wrk with bench/scenario.lua (preferred: a few % of one core
at these rates), or an asyncio/aiohttp client with the same closed-loop shape when wrk cannot be
installed. Both return the same figures; neither judges them."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

SCENARIO_LUA = Path(__file__).resolve().parent / "scenario.lua"


@dataclass(frozen=True)
class Load:
    """One scenario's load: `mode` is "join" (items are link secrets) or "token" (room ids)."""

    base_url: str
    mode: str
    items_file: Path
    api_key: str
    connections: int
    threads: int
    duration_seconds: float
    clients: int = 0  # distinct X-Forwarded-For addresses; 0 sends none (every request from 127.0.0.1)


def ensure_wrk() -> str | None:
    """wrk's path, installing it with apt-get when missing and running as root; else None."""
    found = shutil.which("wrk")
    if found or os.geteuid() != 0 or not shutil.which("apt-get"):
        return found
    print("wrk is missing: installing it with apt-get", flush=True)
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "timeout": 300}
    subprocess.run(["apt-get", "update", "-qq"], check=False, **quiet)
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=False, env=environment, **quiet)
    return shutil.which("wrk")


def run_wrk(wrk: str, load: Load) -> dict:
    seconds = max(1, round(load.duration_seconds))
    command = [
        wrk,
        f"-t{load.threads}",
        f"-c{load.connections}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        "-s",
        str(SCENARIO_LUA),
        load.base_url,
        "--",
        load.mode,
        str(load.items_file),
        load.api_key,
        str(load.clients),
    ]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    for line in completed.stdout.splitlines():
        if line.startswith("BENCH_RESULT "):
            raw = json.loads(line.removeprefix("BENCH_RESULT "))
            return _figures(
                requests=raw["requests"],
                seconds=raw["duration_us"] / 1e6,
                non_2xx_by_status=raw["non_2xx_by_status"],
                socket_errors=sum(raw["socket_errors"].values()),
                latency_ms={name: value / 1000 for name, value in raw["latency_us"].items()},
            )
    raise RuntimeError(f"wrk gave no result (exit {completed.returncode}):\n{completed.stdout}\n{completed.stderr}")


def run_aiohttp(load: Load) -> dict:
    return asyncio.run(_aiohttp_closed_loop(load))


async def _aiohttp_closed_loop(load: Load) -> dict:
    import aiohttp

    items = [line for line in load.items_file.read_text().splitlines() if line]
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    socket_errors = 0
    counter = 0
    deadline = time.perf_counter() + load.duration_seconds

    def next_request() -> tuple[str, dict, bytes]:
        nonlocal counter
        counter += 1
        item = items[counter % len(items)]
        headers = {}
        if load.clients:
            n = counter % load.clients
            headers["X-Forwarded-For"] = f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"
        if load.mode == "join":
            return f"{load.base_url}/api/v1/join/{item}", headers, b""
        user = counter % 5000
        body = json.dumps({"identity": f"bench-user-{user}", "display_name": f"Bench User {user}", "role": "guest"})
        headers.update({"Authorization": f"Api-Key {load.api_key}", "Content-Type": "application/json"})
        return f"{load.base_url}/api/v1/rooms/{item}/tokens", headers, body.encode()

    async def client(session: aiohttp.ClientSession) -> None:
        nonlocal socket_errors
        while time.perf_counter() < deadline:
            url, headers, body = next_request()
            started = time.perf_counter()
            try:
                async with session.post(url, headers=headers, data=body) as response:
                    await response.read()
            except (aiohttp.ClientError, TimeoutError):
                socket_errors += 1
                continue
            latencies.append((time.perf_counter() - started) * 1000)
            if not 200 <= response.status <= 299:
                statuses[str(response.status)] = statuses.get(str(response.status), 0) + 1

    started = time.perf_counter()
    connector = aiohttp.TCPConnector(limit=load.connections)
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await asyncio.gather(*(client(session) for _ in range(load.connections)))
    latencies.sort()
    return _figures(
        requests=len(latencies),
        seconds=time.perf_counter() - started,
        non_2xx_by_status=statuses,
        socket_errors=socket_errors,
        latency_ms={
            "p50": _percentile(latencies, 50),
            "p95": _percentile(latencies, 95),
            "p99": _percentile(latencies, 99),
            "max": latencies[-1] if latencies else 0.0,
            "mean": sum(latencies) / len(latencies) if latencies else 0.0,
        },
    )


def _percentile(ordered: list[float], percent: float) -> float:
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, int(len(ordered) * percent / 100))]


def _figures(*, requests, seconds, non_2xx_by_status, socket_errors, latency_ms) -> dict:
    non_2xx = sum(non_2xx_by_status.values())
    return {
        "requests": requests,
        "seconds": round(seconds, 3),
        "errors": non_2xx + socket_errors,
        "non_2xx_by_status": non_2xx_by_status,
        "socket_errors": socket_errors,
        "requests_per_second": round(requests / seconds, 1) if seconds else 0.0,
        "latency_ms": {name: round(value, 2) for name, value in latency_ms.items()},
    }
