"""Django's Redis cache backend with one client object per connection pool.

Django's RedisCacheClient builds a new `redis.Redis` for every operation, and redis-py's
constructor copies its table of response callbacks each time, on the event flow's hot path too
(webhooks out look up an application's subscriptions once per change; bench/README.md). The
object is only a handle on the pool; one per pool serves every operation, from any thread. The
same fix as core/broker.py makes to kombu's channel. Everything else is Django's: this overrides
RedisCacheClient.get_client, a private API to re-check on every Django upgrade.
"""

from __future__ import annotations

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient


class _ReusingClient(RedisCacheClient):
    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        clients = self.__dict__.setdefault("_clients", {})
        client = clients.get(id(pool))
        if client is None:
            client = clients[id(pool)] = self._client(connection_pool=pool)
        return client


class RedisCache(DjangoRedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = _ReusingClient
