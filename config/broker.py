"""kombu's Redis transport, with one client object per channel for its short commands.

kombu's Redis channel builds a new `redis.Redis` object for every command it sends outside the
BRPOP loop (`conn_or_acquire` -> `_create_client`): in a worker, twice per task (recording the
message as unacknowledged, then the acknowledgement); redis-py's constructor copies a table of
about 170 response callbacks each time. The object is only a handle on the channel's connection
pool, so one per pool serves them all; connections still come from, and go back to, the pool.
Everything else is kombu's. Used for `redis://` broker URLs (CELERY_BROKER_TRANSPORT).
"""

from __future__ import annotations

from kombu.transport import redis


class Channel(redis.Channel):
    _sync_client = None

    def _create_client(self, asynchronous: bool = False):
        if asynchronous:  # the BRPOP loop's client, made once by kombu already
            return super()._create_client(asynchronous=True)
        client = self._sync_client
        if client is None or client.connection_pool is not self.pool:  # a new pool after a reconnect
            client = self._sync_client = super()._create_client(asynchronous=False)
        return client


class Transport(redis.Transport):
    Channel = Channel
