"""Fixtures shared by the whole suite: applications with API clients, and a fake LiveKit server
that the LiveKit provider talks to over the real wire protocol."""

from __future__ import annotations

import os
import secrets

import pytest
from django.db import connection
from pytest_django.live_server_helper import LiveServer
from rest_framework.test import APIClient

import providers
from core.services import application_create
from tests.fakes.livekit_server import FakeLiveKitServer
from tests.webhooks.conftest import webhooks  # noqa: F401  (the signed-webhook poster, for every test package)


@pytest.fixture(scope="session", autouse=True)
def _real_database_in_ci(django_db_setup, django_db_blocker):
    """In CI the suite runs on PostgreSQL; SQLite there would hide what production does."""
    if os.environ.get("CI"):
        with django_db_blocker.unblock():
            assert connection.vendor == "postgresql", "CI must run the tests on PostgreSQL (use make test)"


class AppClient(APIClient):
    application = None
    api_key = ""


def _client_for(name: str) -> AppClient:
    application, key = application_create(name=name)
    client = AppClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    client.application, client.api_key = application, key
    return client


@pytest.fixture
def app_client(db) -> AppClient:
    """An API client authenticated as application A."""
    return _client_for("application-a")


@pytest.fixture
def other_client(db) -> AppClient:
    """An API client of a second application, B, for object-level authorization tests."""
    return _client_for("application-b")


@pytest.fixture
def anon_client() -> APIClient:
    return APIClient()


@pytest.fixture
def fake_livekit(settings):
    """A fake LiveKit server on 127.0.0.1; the provider is configured to use it."""
    with FakeLiveKitServer(api_key=settings.LIVEKIT_API_KEY, api_secret=settings.LIVEKIT_API_SECRET) as server:
        settings.LIVEKIT_URL = server.url
        providers.get.cache_clear()
        yield server
    providers.get.cache_clear()


@pytest.fixture(autouse=True)
def _fresh_provider_registry():
    providers.get.cache_clear()
    yield
    providers.get.cache_clear()


@pytest.fixture(autouse=True)
def _clear_cache():
    """Throttle counters live in the cache; each test starts with none."""
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture
def convene_server(transactional_db, settings):
    """Convene served on 127.0.0.1 for a real Janus's event handler (request it before `janus`:
    Janus posts only to a listener that is up)."""
    server = LiveServer("127.0.0.1:0")
    server._live_server_modified_settings.enable()
    settings.JANUS_TEST_WEBHOOK_URL = server.url + "/webhooks/janus"
    yield server
    server._live_server_modified_settings.disable()
    server.stop()


@pytest.fixture
def janus(settings):
    """A real Janus (devtools/janus.py) on 127.0.0.1 with random secrets; the Janus provider is
    configured to use it. Its event handler posts to settings.JANUS_TEST_WEBHOOK_URL when set."""
    from devtools.janus import JanusServer

    values = {name: secrets.token_urlsafe(32) for name in ("admin_key", "token_secret", "webhook_password")}
    server = JanusServer(
        **values,
        webhook_user="janus",
        webhook_url=getattr(settings, "JANUS_TEST_WEBHOOK_URL", ""),
        # Set by tests that run inside a private network namespace, where media can flow.
        ice_interfaces=os.environ.get("CONVENE_TEST_ICE_INTERFACES", ""),
    ).start()
    settings.JANUS_URL = server.url
    settings.JANUS_ADMIN_KEY, settings.JANUS_TOKEN_SECRET = values["admin_key"], values["token_secret"]
    settings.JANUS_WEBHOOK_USER, settings.JANUS_WEBHOOK_PASSWORD = "janus", values["webhook_password"]
    settings.JANUS_RECORDING_DIR = server.recording_dir
    providers.get.cache_clear()
    yield server
    providers.get.cache_clear()
    server.cleanup()
