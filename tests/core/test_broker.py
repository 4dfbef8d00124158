"""config.broker: kombu's Redis channel keeps one client object for its short commands, on the
channel's pool, and the worker uses it with a Redis broker."""

from __future__ import annotations

import pytest
from kombu import Connection

from config.broker import Transport
from config.celery import app


@pytest.fixture
def channel(settings):
    assert settings.REDIS_URL and app.conf.broker_url.startswith("redis://"), "make test runs the suite with Redis"
    with Connection(app.conf.broker_url, transport=app.conf.broker_transport) as connection:
        yield connection.default_channel


def test_the_redis_broker_uses_the_transport():
    assert app.conf.broker_transport == "config.broker:Transport"
    with Connection(app.conf.broker_url, transport=app.conf.broker_transport) as connection:
        assert type(connection.transport) is Transport


def test_one_client_object_serves_every_short_command(channel):
    with channel.conn_or_acquire() as first, channel.conn_or_acquire() as second:
        assert first is second
        assert first.connection_pool is channel.pool
    channel.client  # noqa: B018 (the BRPOP loop's client is kombu's own, on the other pool)
    assert channel.client is not first and channel.client.connection_pool is channel.async_pool
    channel._size("tests:broker:none")  # a command through it works (LLEN)


def test_a_new_pool_gets_a_new_client(channel):
    with channel.conn_or_acquire() as before:
        pass
    channel._pool = None  # what kombu does when the connection is re-established
    with channel.conn_or_acquire() as after:
        assert after is not before and after.connection_pool is channel.pool
