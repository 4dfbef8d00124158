"""Join limits (core/throttling.py). Token buckets shared through Redis: successful joins per
client address, and separately failed attempts (unknown or refused links) per client address and
per link; no window boundary that lets twice the limit through."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest
import redis
from django.test import RequestFactory
from django.utils import timezone

from core import throttling
from core.throttling import JoinRateThrottle, local_buckets, parse_rate
from tests.factories import InvitationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def limits(settings):
    """Generous limits, each test tightening the one it is about."""
    settings.CONVENE_JOIN_RATE_LIMIT = "100/min"
    settings.CONVENE_JOIN_FAILURE_LIMIT = "100/min"
    settings.CONVENE_JOIN_LINK_FAILURE_LIMIT = "100/min"
    return settings


def join(client, secret: str, address: str = "127.0.0.1"):
    return client.post(f"/api/v1/join/{secret}", REMOTE_ADDR=address)


def admit(secret: str = "a-link", address: str = "192.0.2.1") -> bool:
    """The throttle alone, as the join view runs it (no database work: fast enough for timing)."""
    request = RequestFactory().post(f"/api/v1/join/{secret}", REMOTE_ADDR=address)
    return JoinRateThrottle().allow_request(request, SimpleNamespace(kwargs={"secret": secret}))


def test_failed_guesses_are_limited_per_client(anon_client, limits):
    limits.CONVENE_JOIN_FAILURE_LIMIT = "3/min"
    assert [join(anon_client, f"guess-{n}").status_code for n in range(4)] == [404, 404, 404, 429]
    refused = join(anon_client, "guess-4")
    assert refused.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert join(anon_client, "guess-5", address="10.9.8.7").status_code == 404  # its own budget


def test_failed_guesses_do_not_use_up_the_budget_of_successful_joins(anon_client, limits):
    limits.CONVENE_JOIN_RATE_LIMIT = "2/min"
    link = InvitationFactory()
    assert [join(anon_client, f"guess-{n}").status_code for n in range(5)] == [404] * 5
    assert [join(anon_client, link.secret).status_code for _ in range(3)] == [200, 200, 429]


def test_successful_joins_do_not_use_up_the_budget_of_failed_guesses(anon_client, limits):
    limits.CONVENE_JOIN_FAILURE_LIMIT = "1/min"
    link = InvitationFactory()
    assert [join(anon_client, link.secret).status_code for _ in range(3)] == [200, 200, 200]
    assert [join(anon_client, f"guess-{n}").status_code for n in range(2)] == [404, 429]


def test_refusals_of_one_link_are_limited_whatever_the_client_address(anon_client, limits):
    limits.CONVENE_JOIN_LINK_FAILURE_LIMIT = "2/min"
    revoked = InvitationFactory(revoked_at=timezone.now())
    codes = [join(anon_client, revoked.secret, address=f"198.51.100.{n}").status_code for n in range(3)]
    assert codes == [410, 410, 429]
    assert join(anon_client, InvitationFactory().secret, address="198.51.100.9").status_code == 200


def test_consent_refusals_count_as_failed_attempts(anon_client, limits):
    limits.CONVENE_JOIN_FAILURE_LIMIT = "1/min"
    post = [anon_client.post("/api/v1/join/unknown/consent", {"decision": "granted"}, format="json") for _ in "ab"]
    assert [response.status_code for response in post] == [404, 429]


def test_no_window_boundary_lets_twice_the_limit_through(limits):
    """The fixed window accepted 60 joins in 0.4 s at 30/min: 30 before a boundary, 30 after."""
    limits.CONVENE_JOIN_RATE_LIMIT = "5/s"
    fraction = time.time() % 1
    time.sleep(0.8 - fraction if fraction < 0.8 else 1.8 - fraction)
    started = time.monotonic()
    before = [admit() for _ in range(5)]
    time.sleep(1.02 - time.time() % 1)
    after = [admit() for _ in range(5)]
    elapsed = time.monotonic() - started
    assert all(before)
    # The burst, plus what the elapsed time refills at 5/s (and one for rounding): not a fresh 5.
    assert sum(after) <= int(elapsed * 5) + 1


def test_a_bucket_refills_evenly_over_the_period(limits):
    limits.CONVENE_JOIN_RATE_LIMIT = "2/s"
    assert [admit(), admit(), admit()] == [True, True, False]
    time.sleep(0.6)
    assert [admit(), admit()] == [True, False]


def test_the_limit_is_shared_by_every_process_through_redis(limits):
    """The buckets live in Redis, so a second web process (a new connection) sees them."""
    assert limits.REDIS_URL, "make test runs the suite with Redis"
    limits.CONVENE_JOIN_RATE_LIMIT = "2/min"
    assert [admit(), admit()] == [True, True]
    throttling._redis.cache_clear()
    throttling._script.cache_clear()
    assert admit() is False
    keys = redis.Redis.from_url(limits.REDIS_URL).keys("convene:throttle:join:*")
    assert keys and not any(b"a-link" in key for key in keys)  # the link by hash, never its secret
    assert parse_rate("2/min") == (2, 60)


def test_a_limiter_outage_lets_joiners_through(anon_client, limits):
    limits.CONVENE_JOIN_FAILURE_LIMIT = "1/min"
    limits.REDIS_URL = "redis://127.0.0.1:9/0"
    assert [join(anon_client, "unknown").status_code for _ in range(3)] == [404, 404, 404]


def test_without_redis_the_buckets_live_in_the_process(anon_client, limits):
    limits.REDIS_URL = ""
    limits.CONVENE_JOIN_FAILURE_LIMIT = "2/min"
    local_buckets.clear()
    try:
        assert [join(anon_client, f"guess-{n}").status_code for n in range(3)] == [404, 404, 429]
    finally:
        local_buckets.clear()
