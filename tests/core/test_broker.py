"""config.broker: kombu's Redis transport, publishing through one reused client per pool, against
the real Redis the test command starts."""

from __future__ import annotations

import base64
import json
import subprocess
import sys

import pytest
import redis
from django.conf import settings
from kombu import Connection

from config.broker import Channel, Transport
from config.celery import app
from tests.core.test_settings_and_ops import ROOT, STRONG


def test_redis_broker_urls_use_the_reusing_transport():
    assert settings.CELERY_BROKER_URL.startswith("redis://")
    with app.connection_for_write() as connection:
        assert connection.transport_cls == "config.broker:Transport"
        assert isinstance(connection.default_channel, Channel)


def test_publishes_reach_redis_through_one_client_until_the_pool_changes():
    queue = "convene-test-broker"
    store = redis.Redis.from_url(settings.REDIS_URL)
    store.delete(queue)
    with Connection(settings.REDIS_URL, transport=Transport) as connection:
        channel = connection.default_channel
        producer = connection.Producer(serializer="json")
        producer.publish({"n": 1}, routing_key=queue, declare=[connection.SimpleQueue(queue).queue], retry=False)
        first = channel._create_client()
        producer.publish({"n": 2}, routing_key=queue, retry=False)
        assert channel._create_client() is first  # no new client object per publish
        channel._pool = None  # what kombu does when it drops its connections
        producer.publish({"n": 3}, routing_key=queue, retry=False)
        assert channel._create_client() is not first
        assert channel._create_client().connection_pool is channel.pool
        assert channel._create_client(asynchronous=True) is not channel._create_client()
    bodies = [_body(raw) for raw in reversed(store.lrange(queue, 0, -1))]
    assert bodies == [{"n": 1}, {"n": 2}, {"n": 3}]
    store.delete(queue)


def _body(raw: bytes):
    message = json.loads(raw)
    body = message["body"]
    if message["properties"].get("body_encoding") == "base64":
        body = base64.b64decode(body)
    return json.loads(body)


@pytest.mark.parametrize("url", ["filesystem://", "rediss://example.invalid:6380/0"])
def test_other_broker_urls_keep_kombus_transport(url):
    code = (
        "import django; django.setup(); from django.conf import settings;"
        "print(getattr(settings, 'CELERY_BROKER_TRANSPORT', None))"
    )
    env = {**STRONG, "PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "config.settings", "CELERY_BROKER_URL": url}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "None"
