"""Rate limits for public endpoints: a fixed-window counter per client address and scope,
shared across processes through Redis (one pipelined INCR + EXPIRE on a reused connection pool),
or per process without Redis. If Redis cannot be reached the request is let through (logged):
a patient must not be locked out of a call because the limiter is down.
"""

from __future__ import annotations

import logging
import time
from functools import cache

import redis
from django.conf import settings
from django.core.cache import cache as local_cache
from rest_framework.throttling import BaseThrottle

logger = logging.getLogger(__name__)
_PERIODS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hour": 3600, "d": 86400, "day": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """'30/min' -> (30, 60)."""
    count, _, period = rate.partition("/")
    return int(count), _PERIODS[period.strip().lower()]


@cache
def _redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)


class JoinRateThrottle(BaseThrottle):
    """CONVENE_JOIN_RATE_LIMIT per client address (behind NUM_PROXIES trusted proxies)."""

    scope = "join"

    def allow_request(self, request, view) -> bool:
        limit, period = parse_rate(settings.CONVENE_JOIN_RATE_LIMIT)
        window = int(time.time()) // period
        key = f"convene:throttle:{self.scope}:{self.get_ident(request)}:{window}"
        count = self._count(key, period)
        self._wait = (window + 1) * period - time.time()
        return count is None or count <= limit

    def wait(self) -> float:
        return max(1.0, self._wait)

    @staticmethod
    def _count(key: str, period: int) -> int | None:
        if not settings.REDIS_URL:
            local_cache.add(key, 0, period)
            return local_cache.incr(key)
        try:
            pipe = _redis(settings.REDIS_URL).pipeline(transaction=False)
            pipe.incr(key)
            pipe.expire(key, period, nx=True)
            return int(pipe.execute()[0])
        except redis.RedisError as exc:
            logger.warning("rate limiter unavailable, letting the request through: %s", type(exc).__name__)
            return None
