"""Webhooks out against a real stack on loopback (tests/fault/conftest.py's Stack: gunicorn, a
Celery worker process, PostgreSQL, Redis) and a real receiver on 127.0.0.1. Events come from the
real flow: signed LiveKit webhooks posted to gunicorn, processed by the worker, which writes the
outbox rows and delivers them."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest

from devtools.localservers import free_port
from tests.fakes.livekit_webhooks import new_guid
from tests.fault.conftest import Stack, child_pids, wait_until
from tests.outbound.receiver import Receiver, verified

WEBHOOK_ENV = {
    "CONVENE_WEBHOOK_ALLOW_PRIVATE_URLS": "true",
    "CONVENE_WEBHOOK_RETRY_SCHEDULE": ",".join(["1"] * 30),
    "CONVENE_WEBHOOK_TIMEOUT_SECONDS": "2",  # the lease of an attempt: 2 + 5 s
}
CREATE_ENDPOINT = """
import json
from core.models import Application
from outbound.services.endpoints import webhook_endpoint_create
application = Application.objects.get(name="fault-tests")
endpoint = webhook_endpoint_create(application=application, url={url!r}, events={events!r})
print(json.dumps({{"id": str(endpoint.pk), "secret": endpoint.secret}}))
"""
SWEEP = "from outbound.services.delivery import webhook_deliveries_sweep; print(webhook_deliveries_sweep())"


@pytest.fixture(scope="module")
def outbound_stack():
    stack = Stack()
    try:
        stack.start()
        stack.env.update(WEBHOOK_ENV)  # every process (re)started from here on has them
        stack.gunicorn.stop(timeout=10)
        stack.worker.stop(timeout=10)
        stack.gunicorn, stack.worker = stack.start_gunicorn(), stack.start_worker()
        yield stack
    finally:
        stack.close()


@pytest.fixture
def stack(outbound_stack: Stack) -> Stack:
    outbound_stack.ensure_healthy()
    with outbound_stack.db() as conn:
        conn.execute("UPDATE outbound_webhookendpoint SET enabled = false")  # each test its own endpoint
    outbound_stack.shell("from django.core.cache import cache; cache.clear()")
    return outbound_stack


def _endpoint(stack: Stack, url: str, events: list[str] | None = None) -> dict:
    return json.loads(stack.shell(CREATE_ENDPOINT.format(url=url, events=events or [])).strip().splitlines()[-1])


def _join(stack: Stack, count: int) -> list[str]:
    """Post `count` participant_joined webhooks (one call session); returns the participant sids."""
    room_sid, sids = new_guid("RM_"), []
    for _ in range(count):
        sid = new_guid("PA_")
        _, body = stack.joined(sid, room_sid=room_sid)
        assert stack.post(body).status == 200
        sids.append(sid)
    return sids


def _deliveries(stack: Stack, endpoint_id: str) -> list[tuple]:
    with stack.db() as conn:
        return conn.execute(
            "SELECT event_id, status, attempts FROM outbound_webhookdelivery WHERE endpoint_id = %s ORDER BY id",
            (endpoint_id,),
        ).fetchall()


def _joined_identities(receiver: Receiver, secret: str) -> set[str]:
    return {verified(r, secret)["data"]["identity"] for r in receiver.events("participant.joined")}


def test_a_receiver_answering_500_then_200_gets_the_same_webhook_id_twice_then_no_more(stack):
    with Receiver(statuses=[500]) as receiver:
        endpoint = _endpoint(stack, receiver.url, ["participant.joined"])
        (sid,) = _join(stack, 1)
        receiver.wait_for(2, timeout=30)
        wait_until(lambda: _deliveries(stack, endpoint["id"])[0][1] == "delivered", timeout=15, what="delivered")
        stack.shell(SWEEP)  # a sweep after success rings for nothing
        first, second = receiver.events()
        assert first.webhook_id == second.webhook_id
        assert verified(second, endpoint["secret"])["data"]["identity"] == f"id-{sid}"
        time.sleep(2)  # retries are 1 s apart here: a third request would have come by now
        assert len(receiver.events()) == 2
        assert [row[1:] for row in _deliveries(stack, endpoint["id"])] == [("delivered", 2)]


def test_a_receiver_down_for_a_while_gets_every_event_once_it_is_back(stack):
    port = free_port()
    endpoint = _endpoint(stack, f"http://127.0.0.1:{port}/hooks", ["participant.joined"])
    sids = _join(stack, 5)
    wait_until(
        lambda: len(rows := _deliveries(stack, endpoint["id"])) == 5 and all(r[2] >= 2 for r in rows),
        timeout=60,
        what="every delivery to fail at least twice",
    )
    with Receiver(port=port) as receiver:
        wait_until(
            lambda: all(r[1] == "delivered" for r in _deliveries(stack, endpoint["id"])),
            timeout=60,
            what="every delivery once the receiver is back",
        )
        assert _joined_identities(receiver, endpoint["secret"]) == {f"id-{sid}" for sid in sids}
        assert len({r.webhook_id for r in receiver.events()}) == 5


def test_the_worker_killed_mid_delivery_loses_nothing(stack):
    with Receiver(delay=3) as receiver:
        endpoint = _endpoint(stack, receiver.url, ["participant.joined"])
        (sid,) = _join(stack, 1)
        receiver.wait_for(1, timeout=30)  # the worker is waiting for the answer now
        for pid in child_pids(stack.worker.process.pid):
            os.kill(pid, signal.SIGKILL)
        stack.worker.kill_group()
        receiver.delay = 0
        stack.worker = stack.start_worker()
        # The attempt's lease (timeout + 5 s) runs out; the sweeper (beat, here by hand) rings again.
        wait_until(
            lambda: stack.shell(SWEEP) and _deliveries(stack, endpoint["id"])[0][1] == "delivered",
            timeout=60,
            interval=1,
            what="the delivery after the kill",
        )
        ids = {r.webhook_id for r in receiver.events()}
        # The attempt cut short by the kill, then the one that was answered: one webhook id.
        assert len(receiver.events()) == 2 and len(ids) == 1
        assert _joined_identities(receiver, endpoint["secret"]) == {f"id-{sid}"}
