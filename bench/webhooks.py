"""Convene's event-flow benchmark: webhook ingest under gunicorn, processing per Celery worker
process, and event-to-record lag, with PostgreSQL and Redis on loopback.

Run `.venv/bin/python -m bench.webhooks` (or `make bench-webhooks`); `--provider janus` posts Janus's
event handler bodies (basic auth, one `joined` event per post) to /webhooks/janus instead. Three phases:
1. ingest: wrk posts signed `participant_joined` webhooks (unique event ids, LiveKit's signing)
   as fast as the service answers, with no worker running: events/s and p50/p95/p99 of the 200;
2. processing: one Celery worker process (concurrency 1) drains the backlog the ingest left in
   Redis: events/s per worker process and SQL statements per processed event;
3. lag: with that worker running, events are posted at a steady rate below capacity; the lag is
   processed_at - received_at of each event (p50/p95/p99).
It prints figures next to the targets and never fails because of a figure.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import psycopg

from bench import dbstats, loadgen, profiling
from bench.cpu import CpuMeter, reference_loop_seconds, wait_for_quiet
from bench.stack import REPO_ROOT, Stack, _venv_tool
from providers.janus_events import participant_tag
from tests.fakes.livekit_webhooks import new_guid, sign_webhook, webhook_body

dbstats._OWN_STATEMENTS = (*dbstats._OWN_STATEMENTS, "bench-poll")
TARGETS = {"ingest": ">= 800 events/s, p99 < 100 ms", "processing": ">= 300 events/s per worker process"}
POLL = "SELECT count(*) FROM webhooks_inboundevent WHERE status = 'pending' /* bench-poll */"


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--provider", choices=("livekit", "janus"), default="livekit", help="whose webhooks")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration", type=float, default=15.0, help="measured seconds of ingest")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds of ingest before measuring (own events)")
    parser.add_argument("--quiet-wait", type=float, default=60.0, help="max seconds to wait for an idle machine")
    parser.add_argument("--events", type=int, default=30000, help="distinct signed events prepared")
    parser.add_argument("--rooms", type=int, default=20)
    parser.add_argument("--lag-rate", type=float, default=100.0, help="events/s posted in the lag phase")
    parser.add_argument("--lag-seconds", type=float, default=10.0)
    parser.add_argument("--pool", default="prefork", help="Celery pool of the one worker process (prefork, solo)")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=1,
        help="pool processes of the one Celery worker (1: the per-process figure; the Procfile runs 2)",
    )
    parser.add_argument("--ingest-only", action="store_true", help="measure the ingest phase alone")
    parser.add_argument(
        "--profile", action="store_true", help="sample gunicorn during ingest with py-spy (perturbs figures)"
    )
    parser.add_argument("--drain-timeout", type=float, default=600.0)
    parser.add_argument("--output", type=Path, default=Path(__file__).resolve().parent / "results" / "webhooks.json")
    return parser.parse_args(argv)


def create_rooms(base_url: str, api_key: str, count: int, provider: str = "livekit") -> list[str]:
    import urllib.request

    names = []
    for number in range(count):
        request = urllib.request.Request(
            f"{base_url}/api/v1/rooms",
            data=json.dumps({"external_id": f"bench-wh-{number}", "provider": provider}).encode(),
            headers={"Authorization": f"Api-Key {api_key}", "Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            names.append(json.load(response)["provider_room_name"])
    return names


def signed_events(room_names: list[str], count: int, key: str, secret: str, prefix: str) -> list[tuple[str, bytes]]:
    now = int(time.time())
    events = []
    for n in range(count):
        room = room_names[n % len(room_names)]
        body = webhook_body(
            "participant_joined",
            id=new_guid("EV_"),
            created_at=now,
            room={"sid": f"RM_{prefix}{n % len(room_names)}", "name": room},
            participant={"sid": f"PA_{prefix}{n}", "identity": f"user-{prefix}{n}", "joinedAt": str(now)},
        )
        events.append((sign_webhook(body, key, secret), body))
    return events


def janus_events(room_names: list[str], count: int, password: str, prefix: str) -> list[tuple[str, bytes]]:
    """Janus `joined` events as the sample event handler posts them (grouped: a JSON array)."""
    auth = "Basic " + base64.b64encode(f"janus:{password}".encode()).decode()
    now = int(time.time() * 1_000_000)
    events = []
    for n in range(count):
        data = {"event": "joined", "room": int(room_names[n % len(room_names)]), "id": n + 1, "display": f"U{n}"}
        data["token"] = (
            f"{now // 1_000_000 + 600},janus,janus.plugin.videoroom,{participant_tag(f'user-{prefix}{n}', 'guest')}:x"
        )
        event = {"emitter": "bench", "type": 64, "timestamp": now + n, "session_id": n, "handle_id": n}
        event["event"] = {"plugin": "janus.plugin.videoroom", "data": data}
        events.append((auth, json.dumps([event]).encode()))
    return events


def prepared_events(args, stack: Stack, rooms: list[str], count: int, prefix: str) -> list[tuple[str, bytes]]:
    if args.provider == "janus":
        return janus_events(rooms, count, stack.env["JANUS_WEBHOOK_PASSWORD"], prefix)
    return signed_events(rooms, count, stack.env["LIVEKIT_API_KEY"], stack.env["LIVEKIT_API_SECRET"], prefix)


def write_items(events, path: Path) -> None:
    path.write_text("".join(f"{auth}\t{body.decode()}\n" for auth, body in events))


def start_worker(stack: Stack, log_path: Path, pool: str, concurrency: int = 1) -> subprocess.Popen:
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            [
                _venv_tool("celery"),
                "-A",
                "config",
                "worker",
                f"--concurrency={concurrency}",
                f"--pool={pool}",
                "--loglevel=WARNING",
                "--without-heartbeat",
                "--without-mingle",
                "--without-gossip",
            ],
            cwd=REPO_ROOT,
            env={**os.environ, **stack.env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop_worker(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def wait_drained(database_url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    with psycopg.connect(database_url, autocommit=True) as conn:
        while conn.execute(POLL).fetchone()[0] > 0:
            if time.monotonic() > deadline:
                raise TimeoutError("the worker did not drain the backlog in time")
            time.sleep(0.5)


def worker_meter(stack: Stack, worker) -> CpuMeter:
    """CPU of a worker and of the services it leans on (PostgreSQL, Redis)."""
    return CpuMeter({"worker": worker.pid, "postgres": stack.postgres.process.pid, "redis": stack.redis.process.pid})


def finished_span(database_url: str, sql: str) -> tuple:
    """For `SELECT min(t), max(t), more...` over finished rows: (seconds from first to last, *more)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        first, last, *more = conn.execute(sql).fetchone()
    return ((last - first).total_seconds(), *more)


def percentiles(values: list[float]) -> dict:
    ordered = sorted(values)
    pick = loadgen._percentile
    return {"p50": round(pick(ordered, 50), 1), "p95": round(pick(ordered, 95), 1), "p99": round(pick(ordered, 99), 1)}


async def post_steadily(base_url: str, events, rate: float, provider: str = "livekit") -> None:
    content_type = "application/json" if provider == "janus" else "application/webhook+json"
    async with aiohttp.ClientSession() as session:
        start = time.monotonic()
        for n, (auth, body) in enumerate(events):
            delay = start + n / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            headers = {"Authorization": auth, "Content-Type": content_type}
            async with session.post(f"{base_url}/webhooks/{provider}", data=body, headers=headers) as response:
                if response.status != 200:
                    raise RuntimeError(f"lag phase: webhook answered {response.status}")


def run(args) -> dict:
    work = Path(tempfile.mkdtemp(prefix="convene-bench-wh-"))
    with Stack() as stack:
        stack.start()
        gunicorn = stack.start_gunicorn(workers=args.workers)
        rooms = create_rooms(gunicorn.base_url, stack.api_key, args.rooms, args.provider)
        counters = dbstats.ServerCounters(
            database_url=stack.postgres.url, redis_url=stack.redis.url, pg_stat_statements=stack.pg_stat_statements
        )
        # 1. ingest, no worker
        wrk = loadgen.ensure_wrk()
        if wrk is None:
            raise RuntimeError("wrk is needed for the ingest phase (apt-get install wrk)")

        def load_for(prefix: str, count: int, seconds: float) -> loadgen.Load:
            items = work / f"events-{prefix}.txt"
            write_items(prepared_events(args, stack, rooms, count, prefix), items)
            return loadgen.Load(
                base_url=gunicorn.base_url,
                mode="webhook-janus" if args.provider == "janus" else "webhook",
                items_file=items,
                api_key="",
                connections=args.connections,
                threads=1,
                duration_seconds=seconds,
            )

        measured = load_for("a", args.events, args.duration)
        busy_before = wait_for_quiet(max_wait_seconds=args.quiet_wait) if args.quiet_wait > 0 else None
        yardstick = reference_loop_seconds()
        if args.warmup > 0:  # first requests in each worker open connections and fill caches
            loadgen.run_wrk(wrk, load_for("w", max(1000, int(args.warmup * 1500)), args.warmup))
        cpu = CpuMeter(
            {"gunicorn": gunicorn.process.pid, "postgres": stack.postgres.process.pid, "redis": stack.redis.process.pid}
        )
        counters.reset()
        cpu.start()
        if args.profile:
            raw = args.output.parent / "profile-webhook-ingest.txt"
            raw.parent.mkdir(parents=True, exist_ok=True)
            recorder = profiling.start_recording(pid=gunicorn.process.pid, seconds=args.duration, output=raw)
        ingest = loadgen.run_wrk(wrk, measured)
        ingest["cpu"] = {
            **cpu.stop(requests=ingest["requests"]),
            "machine_busy_percent_before": busy_before,
            "reference_loop_seconds": yardstick,
        }
        if args.profile:
            profiling.finish_recording(recorder, args.duration)
            ingest["profile"] = {"raw": str(raw), **profiling.summarise(raw, top=40)}
        ingest.update(counters.per_request(ingest["requests"]))
        with psycopg.connect(stack.postgres.url, autocommit=True) as conn:
            stored = conn.execute(POLL).fetchone()[0]
        if args.ingest_only:
            return _result(args, ingest, stored, None, None)
        # 2. processing by one worker process
        if args.quiet_wait > 0:
            wait_for_quiet(max_wait_seconds=args.quiet_wait)
        yardstick = reference_loop_seconds()
        counters.reset()
        worker = start_worker(stack, work / "worker.log", args.pool, args.concurrency)
        cpu = worker_meter(stack, worker)
        cpu.start()
        try:
            wait_drained(stack.postgres.url, args.drain_timeout)
            worker_cpu = cpu.stop(requests=stored)
            seconds, done = finished_span(
                stack.postgres.url,
                "SELECT min(processed_at), max(processed_at), count(*) FROM webhooks_inboundevent "
                "WHERE status = 'done' /* bench-poll */",
            )
            processing = {
                "events": done,
                "seconds": round(seconds, 2),
                "events_per_second_per_worker": round(done / seconds, 1) if seconds else None,
            }
            processing["cpu"] = {**worker_cpu, "reference_loop_seconds": yardstick}
            processing.update(counters.per_request(done))
            # 3. lag at a steady rate, worker running
            with psycopg.connect(stack.postgres.url, autocommit=True) as conn:
                watermark = conn.execute("SELECT coalesce(max(id), 0) FROM webhooks_inboundevent").fetchone()[0]
            steady = prepared_events(args, stack, rooms, int(args.lag_rate * args.lag_seconds), "b")
            asyncio.run(post_steadily(gunicorn.base_url, steady, args.lag_rate, args.provider))
            wait_drained(stack.postgres.url, args.drain_timeout)
            with psycopg.connect(stack.postgres.url, autocommit=True) as conn:
                lags = [
                    row[0] * 1000
                    for row in conn.execute(
                        "SELECT extract(epoch FROM processed_at - received_at) FROM webhooks_inboundevent "
                        "WHERE id > %s /* bench-poll */",
                        (watermark,),
                    )
                ]
        finally:
            stop_worker(worker)
    return _result(args, ingest, stored, processing, lags)


def _result(args, ingest: dict, stored: int, processing: dict | None, lags: list[float] | None) -> dict:
    return {
        "ingest": ingest,
        "stored_pending_after_ingest": stored,
        "processing": processing,
        "lag_ms": None
        if lags is None
        else {"rate_events_per_second": args.lag_rate, "events": len(lags), **percentiles(lags)},
        "provider": args.provider,
        "gunicorn_workers": args.workers,
        "concurrency": args.concurrency,
        "connections": args.connections,
        "nproc": os.cpu_count(),
    }


def report(result: dict) -> None:
    ingest, processing, lag = result["ingest"], result["processing"], result["lag_ms"]
    latency = ingest["latency_ms"]
    print(
        f"Convene webhook benchmark ({result['provider']})  nproc={result['nproc']}"
        f"  gunicorn sync workers={result['gunicorn_workers']}"
        f"  wrk connections={result['connections']}"
    )
    print(
        f"ingest      {ingest['requests']} events, {ingest['errors']} errors,"
        f" {ingest['requests_per_second']} events/s,"
        f" p50 {latency['p50']} ms, p95 {latency['p95']} ms, p99 {latency['p99']} ms,"
        f" {ingest.get('db_queries_per_request')} SQL/event, {ingest.get('redis_commands_per_request')} Redis/event"
        f"   target {TARGETS['ingest']}"
    )
    _print_cpu(ingest["cpu"], "gunicorn")
    if ingest.get("profile"):
        profile = ingest["profile"]
        samples = profile["samples"]
        print(f"            profile of gunicorn ({samples} samples, figures perturbed): inclusive, then self")
        for row in profile["inclusive"][:40]:
            print(f"            {row['percent']:>6.1f}%  {row['frame']}")
        for row in profile["self"][:15]:
            print(f"            {row['percent']:>6.1f}%  {row['frame']}")
    if processing is None:
        return
    print(
        f"processing  {processing['events']} events in {processing['seconds']} s by 1 worker"
        f" ({result['concurrency']} pool process{'es' if result['concurrency'] > 1 else ''}):"
        f" {processing['events_per_second_per_worker']} events/s, {processing.get('db_queries_per_request')}"
        f" SQL/event   target {TARGETS['processing']}"
    )
    _print_cpu(processing["cpu"], "worker")
    print(
        f"lag         {lag['events']} events at {lag['rate_events_per_second']}/s, worker running:"
        f" received -> recorded p50 {lag['p50']} ms, p95 {lag['p95']} ms, p99 {lag['p99']} ms"
    )


def _print_cpu(cpu: dict, main_tree: str) -> None:
    shares = ", ".join(f"{name} {value:g}" for name, value in cpu["percent_of_one_core"].items())
    print(
        f"            CPU % of one core: {shares}; machine {cpu['machine_busy_percent']}% busy"
        f" (before: {cpu.get('machine_busy_percent_before')}%); CPU/event: service (+PostgreSQL, Redis)"
        f" {cpu['service_cpu_ms_per_request']:g} ms; machine speed: reference loop {cpu['reference_loop_seconds']:g} s"
    )
    if cpu["percent_of_one_core"].get("other", 0) > 25:
        other = cpu["percent_of_one_core"]["other"]
        print(f"            note: other processes took {other:g}% of a core: figures understated")


def run_and_save(argv: list[str], *, parse_args, run, report) -> dict:
    """A bench's command line: parse it, run, print the figures, write them as JSON to --output."""
    args = parse_args(argv)
    result = run(args)
    report(result)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2, default=str))
    return result


def main(argv: list[str]) -> int:
    result = run_and_save(argv, parse_args=parse_args, run=run, report=report)
    if result["ingest"]["errors"] > 0.01 * max(result["ingest"]["requests"], 1):
        print("more than 1% of webhook posts failed: the run is broken", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
