"""core.cache: Django's Redis cache, with one client object per connection pool (not one per call)."""

from __future__ import annotations

from django.core.cache import cache, caches

from core.cache import RedisCache


def test_the_shared_cache_is_the_reusing_backend_and_round_trips_values(settings):
    assert settings.REDIS_URL, "make test runs the suite with Redis"
    assert isinstance(caches["default"], RedisCache)
    cache.set("tests:cache:value", [("endpoint", ["room.live"])], 30)
    assert cache.get("tests:cache:value") == [("endpoint", ["room.live"])]
    cache.delete("tests:cache:value")
    assert cache.get("tests:cache:value") is None


def test_one_client_object_serves_every_operation():
    first = cache._cache.get_client("a")
    assert cache._cache.get_client("b", write=True) is first
    assert first.connection_pool is cache._cache._get_connection_pool(True)
