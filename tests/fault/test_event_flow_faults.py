"""Fault tests of the webhook event flow against a real stack on loopback (see conftest.py).

Webhooks in: duplicates, Redis down, PostgreSQL down, a burst with the worker stopped; tasks: a
worker killed mid-task, a broker that never answers, two workers on the same rows. Each
event here is a participant_joined with its own participant sid, so "applied once" is checked
three ways: the row is done with attempts == 1, one ParticipantSession per sid, and one committed
transaction wrote it (the fault_effects trigger).
"""

from __future__ import annotations

import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor

from tests.fakes.livekit_webhooks import new_guid
from tests.fault.conftest import Stack, child_pids, wait_until

FAST_ANSWER_SECONDS = 2.0  # "answered quickly", with Redis down or the worker stopped
# What the beat schedule runs (webhooks.sweep_inbound_events), with rows of any age counted as late.
SWEEP_NOW = "from webhooks.services import inbound_events_sweep; print(inbound_events_sweep())"
BLOCKED_ON_ROOM = (
    "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query ILIKE '%rooms_room%'"
    " AND pid <> pg_backend_pid()"
)


def _post_until_slow(stack: Stack, bodies: list[bytes], *, limit: float, **kwargs):
    """Post one after another; stop at the first answer slower than `limit` (no need to wait for
    the rest to be just as slow)."""
    answers = []
    for body in bodies:
        answers.append(stack.post(body, **kwargs))
        if answers[-1].seconds >= limit:
            break
    return answers


def _sweep(stack: Stack) -> int:
    out = stack.manage("shell", "-c", SWEEP_NOW, env={"CONVENE_EVENT_SWEEP_AFTER_SECONDS": "0"})
    return int(out.strip().splitlines()[-1])


def _wait_for(predicate, timeout: float) -> bool:
    """Like wait_until, but a synchronisation point, not an assertion: False at the deadline."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def _ran_again(log: str) -> bool:
    """The log shows a second delivery of the task, and that delivery finished or was retried."""
    _, _, after_second = log.partition("received")[2].partition("received")
    return bool(after_second) and ("succeeded" in after_second or " retry: " in after_second)


def _blocked_backends(stack: Stack) -> list[int]:
    with stack.db() as conn:
        return [row[0] for row in conn.execute(BLOCKED_ON_ROOM).fetchall()]


def test_same_event_delivered_five_times_concurrently_is_stored_and_applied_once(stack):
    sid = new_guid("PA_")
    event_id, body = stack.joined(sid, room_sid=new_guid("RM_"))
    authorization = stack.signed(body)
    with ThreadPoolExecutor(max_workers=5) as pool:
        answers = list(pool.map(lambda _: stack.post(body, authorization=authorization), range(5)))
    assert [a.status for a in answers] == [200] * 5, [a.body for a in answers]
    assert sum(a.body["stored"] for a in answers) == 1
    assert sum(a.body["duplicates"] for a in answers) == 4
    wait_until(lambda: stack.all_final([event_id]), timeout=30, what="the event to be processed")
    stack.assert_processed_once([event_id], [sid])


def test_postgres_down_answers_503_and_the_same_delivery_is_stored_when_it_is_back(stack):
    sid = new_guid("PA_")
    event_id, body = stack.joined(sid, room_sid=new_guid("RM_"))
    authorization = stack.signed(body)  # LiveKit's retries resend the same body and header
    stack.postgres.stop()
    try:
        # Two deliveries, so that both gunicorn workers (each with a now dead connection) are likely hit.
        down = [stack.post(body, authorization=authorization, timeout=15) for _ in range(2)]
    finally:
        stack.postgres.start()
    print(f"\nW7 answers with PostgreSQL down: {[(a.status, round(a.seconds, 3)) for a in down]}")
    assert [a.status for a in down] == [503, 503], [a.body for a in down]
    assert max(a.seconds for a in down) < 5.0  # DATABASE_CONNECT_TIMEOUT (3 s) bounds a connect

    answers = [stack.post(body, authorization=authorization) for _ in range(2)]
    assert [a.status for a in answers] == [200, 200], [a.body for a in answers]
    assert sum(a.body["stored"] for a in answers) == 1
    wait_until(lambda: stack.all_final([event_id]), timeout=30, what="the event to be processed")
    stack.assert_processed_once([event_id], [sid])


def test_burst_with_the_worker_stopped_is_answered_quickly_and_drains_when_it_starts(stack):
    count = 200
    room_sid = new_guid("RM_")
    sids = [new_guid("PA_") for _ in range(count)]
    events = [stack.joined(sid, room_sid=room_sid) for sid in sids]
    event_ids = [event_id for event_id, _ in events]
    stack.worker.stop()

    burst_started = time.monotonic()
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(lambda event: stack.post(event[1]), events))
    burst_seconds = time.monotonic() - burst_started
    failures = [(a.status, a.body) for a in answers if a.status != 200]
    assert not failures, failures[:5]
    slowest = max(a.seconds for a in answers)
    assert slowest < FAST_ANSWER_SECONDS, f"slowest answer {slowest:.3f}s"
    rows = stack.events(event_ids)
    assert len(rows) == count
    assert {r["status"] for r in rows.values()} == {"pending"}

    drain_started = time.monotonic()
    stack.worker = stack.start_worker(wait=False)
    wait_until(lambda: stack.all_final(event_ids), timeout=150, what="the backlog to drain", interval=0.5)
    drain_seconds = time.monotonic() - drain_started
    rows = stack.events(event_ids)
    first_received = min(r["received_at"] for r in rows.values())
    last_processed = max(r["processed_at"] for r in rows.values())
    print(
        f"\nW9 burst of {count}: posted in {burst_seconds:.2f}s (slowest answer {slowest:.3f}s); "
        f"worker start to drained {drain_seconds:.2f}s; "
        f"lag first post to last processed {(last_processed - first_received).total_seconds():.2f}s"
    )
    stack.assert_processed_once(event_ids, sids)


def test_two_workers_and_duplicate_messages_process_each_event_once(stack):
    count = 60
    room_sid = new_guid("RM_")
    sids = [new_guid("PA_") for _ in range(count)]
    events = [stack.joined(sid, room_sid=room_sid) for sid in sids]
    event_ids = [event_id for event_id, _ in events]
    stack.worker.stop()
    with ThreadPoolExecutor(max_workers=4) as pool:
        assert {a.status for a in pool.map(lambda event: stack.post(event[1]), events)} == {200}
    pks = [row["pk"] for row in stack.events(event_ids).values()]
    assert len(pks) == count
    # Each id published twice more, back to back: with the after-commit message, three copies,
    # and two workers receive the two back-to-back copies at the same moment.
    doubled = [pk for pk in sorted(pks) for _ in range(2)]
    sent = stack.shell(
        f"from webhooks.services import inbound_events_enqueue; print(inbound_events_enqueue(event_ids={doubled}))"
    )
    assert int(sent.strip().splitlines()[-1]) == 2 * count

    first, second = stack.start_worker(wait=False), stack.start_worker(wait=False)
    stack.worker = first
    stack.extra.append(second)
    stack.wait_worker_ready(first)
    stack.wait_worker_ready(second)
    wait_until(lambda: stack.all_final(event_ids), timeout=90, what="the events to be processed", interval=0.5)
    stack.assert_processed_once(event_ids, sids)
    # Both workers took part (otherwise this was no concurrency test).
    for worker in (first, second):
        assert "received" in worker.log(), f"{worker.name} received no task"


def test_worker_sigkilled_mid_task_redelivered_after_visibility_timeout_and_applied_once(stack):
    """The whole worker (main process and pool child) is SIGKILLed while the task is blocked inside
    its transaction. Nothing acks or rejects the message: a new worker restores it from Redis's
    unacked set once the visibility timeout (CELERY_VISIBILITY_TIMEOUT, 5 s for that worker) passes."""
    visibility = 5
    sid = new_guid("PA_")
    event_id, body = stack.joined(sid, room_sid=new_guid("RM_"))
    killed = stack.worker
    lock = stack.db(autocommit=False)
    try:
        lock.execute("SELECT id FROM rooms_room WHERE id = %s FOR UPDATE", (stack.room.id,))
        assert stack.post(body).status == 200
        wait_until(lambda: _blocked_backends(stack), timeout=20, what="the task to block on the room row")
        delivered_before = time.monotonic()
        killed.kill_group()
        assert not killed.alive()
        assert stack.events([event_id])[event_id]["status"] == "pending"
    finally:
        lock.rollback()
        lock.close()
    # The killed child's database session notices it is orphaned once its lock wait ends.
    wait_until(lambda: not _blocked_backends(stack), timeout=20, what="the orphaned session to end")
    assert stack.events([event_id])[event_id]["status"] == "pending"  # its transaction rolled back
    assert stack.effect_counts([sid]) == {sid: 0}

    # A worker restores unacked messages older than its visibility timeout when it starts.
    time.sleep(max(0.0, delivered_before + visibility + 0.5 - time.monotonic()))
    stack.worker = stack.start_worker(env={"CELERY_VISIBILITY_TIMEOUT": str(visibility)})
    try:
        wait_until(lambda: stack.all_final([event_id]), timeout=30, what="the redelivered event to be processed")
        stack.assert_processed_once([event_id], [sid])
    finally:
        stack.worker.stop()  # back to a worker with the production visibility timeout


def test_pool_child_sigkilled_mid_task_is_requeued_and_applied_once(stack):
    """Only the pool child is SIGKILLed; the worker's main process sees it lost, and with late ack
    and reject-on-worker-lost requeues the message at once. No sweeper runs here: the requeued
    message alone must get the event applied (once)."""
    sid = new_guid("PA_")
    event_id, body = stack.joined(sid, room_sid=new_guid("RM_"))
    worker = stack.worker
    lock = stack.db(autocommit=False)
    try:
        lock.execute("SELECT id FROM rooms_room WHERE id = %s FOR UPDATE", (stack.room.id,))
        worker.mark()
        assert stack.post(body).status == 200
        wait_until(lambda: _blocked_backends(stack), timeout=20, what="the task to block on the room row")
        children = child_pids(worker.process.pid)
        assert len(children) == 1, children
        os.kill(children[0], signal.SIGKILL)
        # Hold the lock while the requeued message is delivered and run (as when a killed worker's
        # database session is still waiting); release it at the latest after 15 s.
        _wait_for(lambda: _ran_again(worker.log(since_mark=True)), timeout=15)
    finally:
        lock.rollback()
        lock.close()
    assert "WorkerLostError" in worker.log(since_mark=True)
    assert worker.log(since_mark=True).count("received") >= 2, "the message was not redelivered"
    wait_until(lambda: stack.all_final([event_id]), timeout=20, what="the requeued event to be processed")
    stack.assert_processed_once([event_id], [sid])


def test_broker_that_never_answers_does_not_hang_the_webhook(stack, black_hole_broker):
    hung = {"REDIS_URL": black_hole_broker.url, "CELERY_BROKER_URL": black_hole_broker.url}
    gunicorn = stack.start_gunicorn(env=hung)
    stack.extra.append(gunicorn)
    sids = [new_guid("PA_") for _ in range(3)]
    events = [stack.joined(sid, room_sid=new_guid("RM_")) for sid in sids]
    answers = _post_until_slow(stack, [body for _, body in events], limit=3.0, base_url=gunicorn.base_url, timeout=40)
    print(f"\nC4 answers with a silent broker: {[(a.status, round(a.seconds, 3)) for a in answers]}")
    assert black_hole_broker.accepted, "gunicorn never reached the silent broker"
    assert [a.status for a in answers] == [200] * len(answers), [a.body for a in answers]
    assert max(a.seconds for a in answers) < 3.0, [round(a.seconds, 3) for a in answers]
    event_ids = [event_id for event_id, _ in events]
    assert {r["status"] for r in stack.events(event_ids).values()} == {"pending"}
    # Left for the sweeper, which (with the real broker) gets each applied once.
    assert _sweep(stack) >= len(event_ids)
    wait_until(lambda: stack.all_final(event_ids), timeout=30, what="the swept events to be processed")
    stack.assert_processed_once(event_ids, sids)


def test_redis_down_webhooks_answered_fast_then_swept_and_processed_once(stack):
    count = 20
    room_sid = new_guid("RM_")
    sids = [new_guid("PA_") for _ in range(count)]
    events = [stack.joined(sid, room_sid=room_sid) for sid in sids]
    event_ids = [event_id for event_id, _ in events]
    port = stack.redis.port
    stack.redis.stop()
    try:
        answers = _post_until_slow(stack, [body for _, body in events], limit=FAST_ANSWER_SECONDS, timeout=30)
    finally:
        stack.redis.start()
    assert stack.redis.port == port and stack.redis.url.endswith(f":{port}/0")  # same address again
    seconds = [round(a.seconds, 3) for a in answers]
    print(f"\nW6 answer times with Redis down (s): {seconds}")
    assert all(200 <= a.status < 300 for a in answers), [(a.status, a.body) for a in answers]
    assert len(answers) == count and max(seconds) < FAST_ANSWER_SECONDS, seconds
    rows = stack.events(event_ids)
    assert len(rows) == count
    assert {(r["status"], r["attempts"]) for r in rows.values()} == {("pending", 0)}

    assert _sweep(stack) >= count
    wait_until(lambda: stack.all_final(event_ids), timeout=60, what="the swept events to be processed")
    stack.assert_processed_once(event_ids, sids)
