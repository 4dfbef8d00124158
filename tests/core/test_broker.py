"""core.broker: kombu's Redis channel keeps one client object for its short commands, on the
channel's pool, and the worker uses it with a Redis broker."""

from __future__ import annotations

import pytest
from kombu import Connection

from config.celery import app
from core.broker import Transport


@pytest.fixture
def channel(settings):
    assert settings.REDIS_URL and app.conf.broker_url.startswith("redis://"), "make test runs the suite with Redis"
    with Connection(app.conf.broker_url, transport=app.conf.broker_transport) as connection:
        yield connection.default_channel


def test_the_redis_broker_uses_the_transport():
    assert app.conf.broker_transport == "core.broker:Transport"
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


def _filesystem_connection(folder):
    from core.broker import FilesystemTransport

    options = {"data_folder_in": str(folder), "data_folder_out": str(folder), "control_folder": str(folder)}
    return Connection("filesystem://", transport=FilesystemTransport, transport_options=options)


def test_the_embedded_broker_never_shows_a_worker_a_message_before_it_is_whole(tmp_path, monkeypatch):
    """kombu's own transport creates the message file, then writes it: a worker polling in between took an
    empty file and died on a JSON error. Here the file appears under its final name only once it is whole."""
    import os

    seen_before_rename = []
    real_replace = os.replace

    def replace(src, dst):
        seen_before_rename.append(sorted(name for name in os.listdir(tmp_path) if name.endswith(".q.msg")))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with _filesystem_connection(tmp_path) as connection:
        channel = connection.default_channel
        channel._put("q", {"body": "x" * 100_000})
        assert seen_before_rename == [[]]
        assert channel._get("q") == {"body": "x" * 100_000}
