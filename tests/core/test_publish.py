"""core.taskqueue.publish_task: the event flow's doorbell sends the message apply_async would send,
with one LPUSH, and falls back to apply_async whenever the message is not a plain one."""

from __future__ import annotations

import base64
import dataclasses
import json
import threading
import time
from unittest import mock

import pytest
import redis
from celery import shared_task

from config.celery import app
from core import taskqueue
from core.taskqueue import publish_task
from devtools.localservers import RedisServer
from tests.fault.conftest import BlackHoleBroker
from webhooks.tasks import process_inbound_event

# Fields that differ from one message to the next, whoever builds it.
TIMEOUTS = {"socket_connect_timeout": 1, "socket_timeout": 1}
PER_MESSAGE = {"headers": ("id", "root_id", "argsrepr"), "properties": ("correlation_id", "delivery_tag")}


@shared_task(name="tests.publish.with_result", ignore_result=False)
def _with_result(value: int) -> int:
    return value


@pytest.fixture
def broker(settings):
    assert settings.REDIS_URL and app.conf.broker_url.startswith("redis://"), "make test runs the suite with Redis"
    client = redis.Redis.from_url(app.conf.broker_url)
    yield client
    client.close()


def _take(client: redis.Redis, argsrepr: str) -> list[dict]:
    """The messages for these arguments in the default queue, removed from it."""
    found = []
    for raw in client.lrange("celery", 0, -1):
        message = json.loads(raw)
        if message["headers"]["argsrepr"] == argsrepr:
            found.append(message)
            client.lrem("celery", 0, raw)
    return found


def _without_per_message_fields(message: dict) -> dict:
    stripped = {**message, "headers": dict(message["headers"]), "properties": dict(message["properties"])}
    for part, names in PER_MESSAGE.items():
        for name in names:
            stripped[part].pop(name)
    stripped.pop("body")
    return stripped


def test_the_doorbell_is_the_message_apply_async_sends(broker):
    process_inbound_event.apply_async((987654321,), retry=False)
    publish_task(process_inbound_event, (987654321,))
    ours, celerys = _take(broker, "(987654321,)")  # LPUSH puts the newest first
    assert ours["headers"]["task"] == "webhooks.process_inbound_event"
    assert _without_per_message_fields(ours) == _without_per_message_fields(celerys)
    assert base64.b64decode(ours["body"]) == base64.b64decode(celerys["body"])
    assert json.loads(base64.b64decode(ours["body"]))[:2] == [[987654321], {}]
    # Its own identity: the task id names it everywhere Celery looks, and differs from Celery's.
    assert ours["headers"]["id"] == ours["headers"]["root_id"] == ours["properties"]["correlation_id"]
    assert ours["headers"]["id"] != celerys["headers"]["id"]
    assert ours["properties"]["delivery_tag"] not in (celerys["properties"]["delivery_tag"], ours["headers"]["id"])


def test_the_reply_to_is_the_publishing_threads_even_when_another_thread_built_the_template(broker, monkeypatch):
    """Celery's reply_to is its per-thread app id: a template built in one thread (a gunicorn
    thread, the live test server's) carries that thread's id, which no other thread may send."""
    monkeypatch.setattr(taskqueue, "_publisher_by_pid", {})
    builder = threading.Thread(target=publish_task, args=(process_inbound_event, (987654330,)))
    builder.start()
    builder.join(timeout=10)
    [from_other_thread] = _take(broker, "(987654330,)")
    process_inbound_event.apply_async((987654331,), retry=False)
    publish_task(process_inbound_event, (987654332,))
    [celerys] = _take(broker, "(987654331,)")
    [ours] = _take(broker, "(987654332,)")
    assert ours["properties"]["reply_to"] == celerys["properties"]["reply_to"] == app.thread_oid
    assert from_other_thread["properties"]["reply_to"] != app.thread_oid


def test_each_doorbell_has_its_own_task_id_and_arguments(broker):
    for event_id in (987654322, 987654323):
        publish_task(process_inbound_event, (event_id,))
    first, second = _take(broker, "(987654322,)") + _take(broker, "(987654323,)")
    assert first["headers"]["id"] != second["headers"]["id"]
    assert [json.loads(base64.b64decode(m["body"]))[0] for m in (first, second)] == [[987654322], [987654323]]


def test_eager_mode_goes_through_apply_async(broker):
    before, app.conf.task_always_eager = app.conf.task_always_eager, True
    try:
        with mock.patch.object(process_inbound_event, "apply_async") as apply_async:
            publish_task(process_inbound_event, (987654324,))
    finally:
        app.conf.task_always_eager = before
    apply_async.assert_called_once_with((987654324,), retry=False)
    assert _take(broker, "(987654324,)") == []


def test_a_task_whose_result_is_kept_goes_through_apply_async(broker):
    assert taskqueue._template_from_celery(_with_result) is None  # reply_to and a result to wait for
    with mock.patch.object(_with_result, "apply_async") as apply_async:
        publish_task(_with_result, (5,))
    assert apply_async.call_args == mock.call((5,), retry=False)


def test_a_broker_that_never_answers_fails_the_publish_within_the_socket_timeout():
    with BlackHoleBroker() as black_hole:
        publisher = taskqueue._RedisPublisher(black_hole.url, TIMEOUTS)
        template = taskqueue._template_from_celery(process_inbound_event)
        started = time.monotonic()
        with pytest.raises(redis.exceptions.TimeoutError):
            publisher.send(template, (1,), app.thread_oid)
        seconds = time.monotonic() - started
        assert black_hole.accepted, "the publisher never reached the broker"
    assert seconds < 2.5, f"the publish took {seconds:.2f} s (one try, 1 s socket timeout)"


def test_an_unreachable_broker_fails_the_publish_at_once():
    publisher = taskqueue._RedisPublisher("redis://127.0.0.1:9/0", TIMEOUTS)
    template = taskqueue._template_from_celery(process_inbound_event)
    started = time.monotonic()
    with pytest.raises(redis.exceptions.ConnectionError):
        publisher.send(template, (1,), app.thread_oid)
    assert time.monotonic() - started < 2.5


def test_an_error_reply_fails_the_publish_and_the_next_one_goes_through(broker):
    publisher = taskqueue._RedisPublisher(app.conf.broker_url, TIMEOUTS)
    template = taskqueue._template_from_celery(process_inbound_event)
    broker.set("tests:publish:not-a-list", "x")
    try:
        with pytest.raises(redis.exceptions.ResponseError, match="WRONGTYPE"):
            publisher.send(dataclasses.replace(template, key="tests:publish:not-a-list"), (1,), app.thread_oid)
    finally:
        broker.delete("tests:publish:not-a-list")
    publisher.send(template, (987654325,), app.thread_oid)
    assert len(_take(broker, "(987654325,)")) == 1


def test_after_a_redis_restart_the_next_publish_goes_through():
    server = RedisServer().start()
    try:
        publisher = taskqueue._RedisPublisher(server.url, TIMEOUTS)
        template = taskqueue._template_from_celery(process_inbound_event)
        publisher.send(template, (1,), app.thread_oid)
        server.stop()
        server.start()  # the same port; the publisher's connection is now dead
        publisher.send(template, (2,), app.thread_oid)
        queued = redis.Redis.from_url(server.url).lrange(template.key, 0, -1)
        assert [json.loads(m)["headers"]["argsrepr"] for m in queued] == ["(2,)"]  # a restart empties Redis here
    finally:
        server.cleanup()


@pytest.mark.parametrize(
    ("url", "options"),
    [
        ("rediss://127.0.0.1:9/0", {}),  # TLS: kombu's broker_use_ssl applies, not our connection
        ("sentinel://127.0.0.1:9", {}),
        ("filesystem://", {}),
        ("redis://127.0.0.1:9/0", {"global_keyprefix": "convene:"}),
    ],
)
def test_other_brokers_go_through_apply_async(url, options, monkeypatch):
    before = app.conf.broker_url, app.conf.broker_transport, app.conf.broker_transport_options
    app.conf.broker_url, app.conf.broker_transport, app.conf.broker_transport_options = url, None, options
    monkeypatch.setattr(taskqueue, "_publisher_by_pid", {})
    try:
        assert taskqueue._publisher(app) is None
        with mock.patch.object(process_inbound_event, "apply_async") as apply_async:
            publish_task(process_inbound_event, (3,))
        assert apply_async.call_args == mock.call((3,), retry=False)
    finally:
        app.conf.broker_url, app.conf.broker_transport, app.conf.broker_transport_options = before
