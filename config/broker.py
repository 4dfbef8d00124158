"""Celery's Redis transport with one reusable client per channel for publishing.

kombu's Redis channel builds a new `redis.Redis` client object for every message it publishes
(`conn_or_acquire` -> `_create_client`), and redis-py's constructor copies a table of about 170
response callbacks each time: about a third of the cost of each publish on the webhook path. The
client object is only a handle on the channel's connection pool, so one per pool serves every
publish. Everything else is kombu's own transport. Used for `redis://` broker URLs
(CELERY_BROKER_TRANSPORT in config.settings).
"""

from __future__ import annotations

from kombu.transport import redis


class Channel(redis.Channel):
    def _create_client(self, asynchronous: bool = False):
        if asynchronous:
            return super()._create_client(asynchronous=True)
        pool = self.pool
        client = self.__dict__.get("_publish_client")
        if client is None or client.connection_pool is not pool:  # a new pool after a reconnect
            client = self.__dict__["_publish_client"] = super()._create_client(asynchronous=False)
        return client


class Transport(redis.Transport):
    Channel = Channel
