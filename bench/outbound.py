"""Webhooks out benchmark: deliveries per second per Celery worker process against a loopback
receiver, and the lag from a change to its delivery at a steady rate of changes, with PostgreSQL
(durable) and Redis on loopback.

Run `.venv/bin/python -m bench.outbound`. Two phases:
1. throughput: N deliveries already in the outbox (one endpoint, the receiver on 127.0.0.1) and
   their doorbells in Redis; one worker process (concurrency 1) starts and drains them:
   deliveries/s = N / (last delivered_at - first delivered_at);
2. lag: the worker running, signed `participant_joined` webhooks posted to gunicorn at a steady
   rate (100/s); each is processed by the worker, which writes a participant.joined delivery in the
   same transaction and delivers it. Lag = delivered_at - created_at of each delivery (the change's
   transaction writes created_at), p50/p95/p99.
It prints figures next to the targets and never fails because of a figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import aiohttp
import psycopg

from bench.cpu import CpuMeter, reference_loop_seconds, wait_for_quiet
from bench.stack import Stack
from bench.webhooks import (  # the event-flow bench's helpers
    finished_span,
    run_and_save,
    start_worker,
    stop_worker,
    worker_meter,
)
from tests.fakes.livekit_webhooks import new_guid, sign_webhook, webhook_body

TARGETS = {"throughput": ">= 300 deliveries/s per worker process", "lag": "p99 < 1000 ms at 100 changes/s"}
SEED = """
import json
from core.models import Application
from outbound.models import WebhookDelivery
from outbound.services.endpoints import webhook_endpoint_create
from outbound.services.outbox import deliveries_enqueue, event_body, new_event_id
application = Application.objects.get(name="bench")
endpoint = webhook_endpoint_create(application=application, url={url!r}, events=["participant.joined", "ping"])
rows = []
for n in range({count}):
    event_id = new_event_id("ping")
    body = event_body(event_id=event_id, event_type="ping", occurred_at=endpoint.created_at, room=None, data={{"n": n}})
    rows.append(WebhookDelivery(endpoint=endpoint, event_id=event_id, event_type="ping", payload=body,
                                next_attempt_at=endpoint.created_at))
ids = [row.pk for row in WebhookDelivery.objects.bulk_create(rows, batch_size=1000)]
print(json.dumps({{"endpoint": str(endpoint.pk), "enqueued": deliveries_enqueue(delivery_ids=ids)}}))
"""
PENDING = "SELECT count(*) FROM outbound_webhookdelivery WHERE status = 'pending'"


class Receiver:
    """A keep-alive HTTP/1.1 receiver on 127.0.0.1 answering 204 to every POST, in this process."""

    def __init__(self) -> None:
        self.count = 0

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(inner):
                inner.rfile.read(int(inner.headers.get("Content-Length") or 0))
                self.count += 1
                inner.send_response(204)
                inner.send_header("Content-Length", "0")
                inner.end_headers()

            def log_message(inner, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=6000, help="deliveries in the throughput phase")
    parser.add_argument("--lag-rate", type=float, default=100.0, help="changes/s in the lag phase")
    parser.add_argument("--lag-seconds", type=float, default=10.0)
    parser.add_argument(
        "--lag-concurrency",
        type=int,
        default=2,
        help="pool processes of the worker in the lag phase (2: as the Procfile runs it; it also processes"
        " the webhooks that make the changes)",
    )
    parser.add_argument("--pool", default="prefork")
    parser.add_argument("--quiet-wait", type=float, default=60.0, help="max seconds to wait for an idle machine")
    parser.add_argument("--drain-timeout", type=float, default=300.0)
    parser.add_argument("--output", type=Path, default=Path(__file__).resolve().parent / "results" / "outbound.json")
    return parser.parse_args(argv)


def wait_drained(database_url: str, timeout: float, expected: int) -> None:
    deadline = time.monotonic() + timeout
    with psycopg.connect(database_url, autocommit=True) as conn:
        while True:
            total = conn.execute("SELECT count(*) FROM outbound_webhookdelivery").fetchone()[0]
            if total >= expected and conn.execute(PENDING).fetchone()[0] == 0:
                return
            if time.monotonic() > deadline:
                raise TimeoutError("the worker did not deliver everything in time")
            time.sleep(0.5)


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))], 1)


def create_room(base_url: str, api_key: str) -> str:
    request = urllib.request.Request(
        f"{base_url}/api/v1/rooms",
        data=json.dumps({"external_id": "bench-outbound"}).encode(),
        headers={"Authorization": f"Api-Key {api_key}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)["provider_room_name"]


async def post_steadily(base_url: str, room: str, key: str, secret: str, rate: float, count: int) -> None:
    async with aiohttp.ClientSession() as session:
        start = time.monotonic()
        for n in range(count):
            delay = start + n / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            now = int(time.time())
            body = webhook_body(
                "participant_joined",
                id=new_guid("EV_"),
                created_at=now,
                room={"sid": "RM_bench", "name": room},
                participant={"sid": f"PA_{n}", "identity": f"user-{n}", "joinedAt": str(now)},
            )
            headers = {"Authorization": sign_webhook(body, key, secret), "Content-Type": "application/webhook+json"}
            async with session.post(f"{base_url}/webhooks/livekit", data=body, headers=headers) as response:
                if response.status != 200:
                    raise RuntimeError(f"lag phase: webhook answered {response.status}")


def run(args) -> dict:
    work = Path(tempfile.mkdtemp(prefix="convene-bench-out-"))
    with Stack() as stack, Receiver() as receiver:
        stack.start()
        stack.env["CONVENE_WEBHOOK_ALLOW_PRIVATE_URLS"] = "true"  # the receiver is on 127.0.0.1
        seeded = json.loads(
            stack.manage("shell", "-c", SEED.format(url=receiver.url, count=args.deliveries)).strip().splitlines()[-1]
        )
        busy_before = wait_for_quiet(max_wait_seconds=args.quiet_wait) if args.quiet_wait > 0 else None
        yardstick = reference_loop_seconds()
        worker = start_worker(stack, work / "worker.log", args.pool)
        cpu = worker_meter(stack, worker)
        cpu.start()
        try:
            wait_drained(stack.postgres.url, args.drain_timeout, args.deliveries)
            used = cpu.stop(requests=args.deliveries)
            seconds, delivered, attempts = finished_span(
                stack.postgres.url,
                "SELECT min(delivered_at), max(delivered_at), count(*), sum(attempts)"
                " FROM outbound_webhookdelivery WHERE status = 'delivered'",
            )
            throughput = {
                "deliveries": delivered,
                "attempts": attempts,
                "received": receiver.count,
                "seconds": round(seconds, 2),
                "deliveries_per_second_per_worker": round(delivered / seconds, 1) if seconds else None,
                "enqueued": seeded["enqueued"],
                "cpu": {**used, "machine_busy_percent_before": busy_before, "reference_loop_seconds": yardstick},
            }
            worker_share = used["percent_of_one_core"]["worker"] / 100
            throughput["worker_cpu_ms_per_delivery"] = round(1000 * worker_share * seconds / max(delivered, 1), 2)
            stop_worker(worker)
            worker = start_worker(stack, work / "worker-lag.log", args.pool, args.lag_concurrency)
            gunicorn = stack.start_gunicorn(workers=2)
            room = create_room(gunicorn.base_url, stack.api_key)
            count = int(args.lag_rate * args.lag_seconds)
            key, secret = stack.env["LIVEKIT_API_KEY"], stack.env["LIVEKIT_API_SECRET"]
            lag_cpu = CpuMeter(
                {
                    "gunicorn": gunicorn.process.pid,
                    "worker": worker.pid,
                    "postgres": stack.postgres.process.pid,
                    "redis": stack.redis.process.pid,
                }
            )
            lag_cpu.start()
            asyncio.run(post_steadily(gunicorn.base_url, room, key, secret, args.lag_rate, count))
            wait_drained(stack.postgres.url, args.drain_timeout, args.deliveries + count)
            lag_used = lag_cpu.stop(requests=count)
            with psycopg.connect(stack.postgres.url, autocommit=True) as conn:
                lags = [
                    row[0] * 1000
                    for row in conn.execute(
                        "SELECT extract(epoch FROM delivered_at - created_at) FROM outbound_webhookdelivery"
                        " WHERE event_type = 'participant.joined' AND status = 'delivered'"
                    )
                ]
                # The part before the change: from the webhook's arrival to its processing (the change).
                before_change = [
                    row[0] * 1000
                    for row in conn.execute(
                        "SELECT extract(epoch FROM processed_at - received_at) FROM webhooks_inboundevent"
                    )
                ]
        finally:
            stop_worker(worker)
    lag = {"rate_changes_per_second": args.lag_rate, "deliveries": len(lags), "concurrency": args.lag_concurrency}
    lag.update({f"p{p}": percentile(lags, p) for p in (50, 95, 99)} if lags else {})
    lag["cpu"] = lag_used
    if before_change:
        lag["webhook_to_change"] = {f"p{p}": percentile(before_change, p) for p in (50, 95, 99)}
    return {"throughput": throughput, "lag_ms": lag, "nproc": os.cpu_count()}


def report(result: dict) -> None:
    throughput, lag = result["throughput"], result["lag_ms"]
    print(f"Convene webhooks-out benchmark  nproc={result['nproc']}")
    print(
        f"throughput  {throughput['deliveries']} deliveries in {throughput['seconds']} s by 1 worker process:"
        f" {throughput['deliveries_per_second_per_worker']} deliveries/s ({throughput['attempts']} attempts,"
        f" {throughput['received']} received)   target {TARGETS['throughput']}"
    )
    cpu = throughput["cpu"]
    shares = ", ".join(f"{name} {value:g}" for name, value in cpu["percent_of_one_core"].items())
    per_delivery = throughput["worker_cpu_ms_per_delivery"]
    print(
        f"            CPU % of one core: {shares}; machine {cpu['machine_busy_percent']}% busy (before:"
        f" {cpu['machine_busy_percent_before']}%); worker CPU {per_delivery} ms/delivery, i.e."
        f" {round(1000 / per_delivery, 1) if per_delivery else None} deliveries/s for a worker process with a core"
        f" of its own; machine speed: reference loop {cpu['reference_loop_seconds']:g} s"
    )
    print(
        f"lag         {lag['deliveries']} changes at {lag['rate_changes_per_second']}/s (participant_joined webhooks,"
        f" one worker with {lag['concurrency']} pool processes):"
        f" change -> delivered p50 {lag.get('p50')} ms, p95 {lag.get('p95')} ms, p99 {lag.get('p99')} ms"
        f"   target {TARGETS['lag']}"
    )
    shares = ", ".join(f"{name} {value:g}" for name, value in lag["cpu"]["percent_of_one_core"].items())
    print(
        f"            CPU % of one core: {shares}; machine {lag['cpu']['machine_busy_percent']}% busy;"
        f" service CPU per change (web, worker, PostgreSQL, Redis) {lag['cpu']['service_cpu_ms_per_request']} ms"
    )
    if lag.get("webhook_to_change"):
        print(f"            before that, webhook received -> change recorded: {lag['webhook_to_change']} ms")


def main(argv: list[str]) -> int:
    run_and_save(argv, parse_args=parse_args, run=run, report=report)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
