"""Rate limits for the public join endpoints: token buckets (bursts up to the limit, refilled
evenly over the period, so no window boundary doubles them), shared across processes through
Redis (one script call per request), or per process without Redis. If Redis cannot be reached
the request is let through (logged): a patient must not be locked out of a call because the
limiter is down.

Successful use and failed attempts have separate buckets: a request is admitted while its
client's join bucket, its client's failure bucket and its link's failure bucket all have a
token; it takes one from the join bucket, and if it then fails (unknown or refused link) that
token is given back and one is taken from each failure bucket instead.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from functools import cache

import redis
from django.conf import settings
from rest_framework.throttling import BaseThrottle

from core.clientip import request_ip

logger = logging.getLogger(__name__)
_PERIODS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hour": 3600, "d": 86400, "day": 86400}
# Statuses that mean the link was unknown or refused: a failed attempt, possibly a guess.
FAILED_STATUSES = frozenset({403, 404, 410})


@cache
def parse_rate(rate: str) -> tuple[int, int]:
    """'30/min' -> (30, 60)."""
    count, _, period = rate.partition("/")
    return int(count), _PERIODS[period.strip().lower()]


@cache
def _redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)


# KEYS: the client's join bucket, the client's failure bucket, the link's failure bucket.
# ARGV: "admit" or "fail", then limit and period of each bucket in that order.
# Returns {1, 0} when admitted (or recorded), else {0, milliseconds until a token is back}.
_BUCKETS = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) + tonumber(now_parts[2]) / 1000000
local function level(i)
  local limit, period = tonumber(ARGV[2 * i]), tonumber(ARGV[2 * i + 1])
  local state = redis.call('HMGET', KEYS[i], 'tokens', 'at')
  if not state[1] then return limit, limit, period end
  local refilled = tonumber(state[1]) + math.max(0, now - tonumber(state[2])) * limit / period
  return math.min(limit, refilled), limit, period
end
local function store(i, tokens, period)
  redis.call('HSET', KEYS[i], 'tokens', tokens, 'at', now)
  redis.call('PEXPIRE', KEYS[i], math.ceil(period * 1000))
end
if ARGV[1] == 'fail' then
  local joins, join_limit, join_period = level(1)
  store(1, math.min(join_limit, joins + 1), join_period)
  for i = 2, 3 do
    local tokens, _, period = level(i)
    store(i, math.max(0, tokens - 1), period)
  end
  return {1, 0}
end
local wait = 0
for i = 1, 3 do
  local tokens, limit, period = level(i)
  if tokens < 1 then wait = math.max(wait, (1 - tokens) * period / limit) end
end
if wait > 0 then return {0, math.ceil(wait * 1000)} end
local joins, _, join_period = level(1)
store(1, joins - 1, join_period)
return {1, 0}
"""


@cache
def _script(url: str):
    return _redis(url).register_script(_BUCKETS)


class _LocalBuckets:
    """The same buckets in this process's memory, for running without Redis."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}

    def run(self, op: str, keys: list[str], limits: list[tuple[int, int]]) -> tuple[bool, float]:
        with self._lock:
            now = time.monotonic()
            levels = [
                self._tokens_now(key, limit, period, now) for key, (limit, period) in zip(keys, limits, strict=True)
            ]
            if op == "fail":
                self._buckets[keys[0]] = (min(limits[0][0], levels[0] + 1), now)
                for key, tokens in zip(keys[1:], levels[1:], strict=True):
                    self._buckets[key] = (max(0.0, tokens - 1), now)
                return True, 0.0
            waits = [(1 - t) * period / limit for t, (limit, period) in zip(levels, limits, strict=True) if t < 1]
            if waits:
                return False, max(waits)
            self._buckets[keys[0]] = (levels[0] - 1, now)
            return True, 0.0

    def _tokens_now(self, key: str, limit: int, period: int, now: float) -> float:
        tokens, at = self._buckets.get(key, (limit, now))
        return min(limit, tokens + (now - at) * limit / period)

    def clear(self) -> None:
        with self._lock:
            self._buckets.clear()


local_buckets = _LocalBuckets()


class JoinRateThrottle(BaseThrottle):
    """CONVENE_JOIN_RATE_LIMIT per client address for successful use; CONVENE_JOIN_FAILURE_LIMIT
    per client address and CONVENE_JOIN_LINK_FAILURE_LIMIT per link for failed attempts (see
    JoinThrottled, which reports the failures). The client address is core.clientip.request_ip."""

    scope = "join"
    rate_setting = "CONVENE_JOIN_RATE_LIMIT"
    per_link = False  # the successful-use bucket is per client address, or per link

    def allow_request(self, request, view) -> bool:
        client = request_ip(request) or "unknown"
        secret = getattr(view, "kwargs", {}).get("secret", "")
        link = hashlib.sha256(secret.encode()).hexdigest()[:32]  # never the secret itself
        prefix = "convene:throttle:join"  # failed attempts count alike on every join endpoint
        ok = f"convene:throttle:{self.scope}:ok:{link if self.per_link else client}"
        self._keys = [ok, f"{prefix}:failed:{client}", f"{prefix}:failed-link:{link}"]
        admitted, self._wait = self._update_buckets("admit")
        if admitted:
            request.join_throttle = self
        return admitted

    def record_failure(self) -> None:
        """The admitted request failed: count it against the failure buckets, not the join bucket."""
        self._update_buckets("fail")

    def wait(self) -> float:
        return max(1.0, self._wait)

    def _update_buckets(self, op: str) -> tuple[bool, float]:
        limits = [
            parse_rate(getattr(settings, self.rate_setting)),
            parse_rate(settings.CONVENE_JOIN_FAILURE_LIMIT),
            parse_rate(settings.CONVENE_JOIN_LINK_FAILURE_LIMIT),
        ]
        if not settings.REDIS_URL:
            return local_buckets.run(op, self._keys, limits)
        try:
            admitted, wait_ms = _script(settings.REDIS_URL)(
                keys=self._keys, args=[op, *(n for limit in limits for n in limit)]
            )
        except redis.RedisError as exc:
            logger.warning("rate limiter unavailable, letting the request through: %s", type(exc).__name__)
            return True, 0.0
        return bool(admitted), wait_ms / 1000


class JoinEventsThrottle(JoinRateThrottle):
    """The join page's event stream (reconnected every few dozen seconds while a page is open):
    its own bucket for successful use (CONVENE_JOIN_EVENTS_RATE_LIMIT), so listening never uses
    up the joins; failed attempts count in the join endpoints' failure buckets."""

    scope = "join-events"
    rate_setting = "CONVENE_JOIN_EVENTS_RATE_LIMIT"


class JoinTelemetryThrottle(JoinRateThrottle):
    """The join page's telemetry: CONVENE_TELEMETRY_RATE_LIMIT reports per link (per participant,
    whatever their address), on a bucket of its own."""

    scope = "join-telemetry"
    rate_setting = "CONVENE_TELEMETRY_RATE_LIMIT"
    per_link = True


class JoinThrottled:
    """Mixin for the public join views: JoinRateThrottle, told which admitted requests failed."""

    throttle_classes = [JoinRateThrottle]

    def finalize_response(self, request, response, *args, **kwargs):
        throttle = getattr(request, "join_throttle", None)
        if throttle is not None and response.status_code in FAILED_STATUSES:
            throttle.record_failure()
        return super().finalize_response(request, response, *args, **kwargs)
