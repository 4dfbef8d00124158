"""core/dbbackend: a reused connection is health-checked only when it has been idle, and one broken
anyway fails one request and is then replaced (against the suite's real PostgreSQL)."""

from __future__ import annotations

import time

import psycopg
import pytest
from celery.exceptions import Retry
from django.core.signals import request_finished, request_started
from django.db import DatabaseError, OperationalError, connection

import webhooks.tasks
from core.dbbackend.base import DatabaseWrapper


@pytest.fixture
def pings(monkeypatch):
    """Count the health checks (Django's is_usable: a SELECT 1 on the raw connection)."""
    calls = []
    real = connection.is_usable

    def counted():
        calls.append(1)
        return real()

    monkeypatch.setattr(connection, "is_usable", counted)
    return calls


def _request(sql: str = "SELECT 1") -> None:
    """What a request does around its queries: the request signals, and a query between them."""
    request_started.send(sender=None)
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql)
    finally:
        request_finished.send(sender=None)


def test_postgresql_runs_on_the_idle_checking_backend():
    from django.db import connections

    assert type(connections["default"]) is DatabaseWrapper
    assert connections["default"].vendor == "postgresql"


@pytest.mark.django_db(transaction=True)
def test_a_connection_that_worked_a_moment_ago_is_reused_without_a_ping(pings, settings):
    settings.DATABASE_HEALTH_CHECK_IDLE_SECONDS = 60
    _request()
    pings.clear()
    for _ in range(3):
        _request()
    assert pings == []


@pytest.mark.django_db(transaction=True)
def test_an_idle_connection_is_pinged_before_reuse(pings, settings):
    settings.DATABASE_HEALTH_CHECK_IDLE_SECONDS = 0  # every connection counts as idle: Django's own checks
    _request()
    pings.clear()
    _request()
    _request()
    assert pings == [1, 1]


def _terminate_our_backend() -> int:
    backend = connection.connection.info.backend_pid
    params = connection.get_connection_params()
    with psycopg.connect(autocommit=True, **{k: v for k, v in params.items() if k != "cursor_factory"}) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [backend])
    return backend


@pytest.mark.django_db(transaction=True)
def test_a_connection_the_server_closed_is_noticed_without_a_round_trip_and_replaced(pings, settings):
    settings.DATABASE_HEALTH_CHECK_IDLE_SECONDS = 60
    _request()
    pings.clear()
    backend = _terminate_our_backend()  # what a restart does to every connection
    time.sleep(0.2)  # the server's goodbye reaches our socket
    _request()  # readable socket -> Django's ping -> a new connection; the request does not fail
    assert pings == [1]
    assert connection.connection.info.backend_pid != backend


@pytest.mark.django_db(transaction=True)
def test_a_connection_broken_without_a_word_fails_one_request_then_is_replaced(monkeypatch, settings):
    settings.DATABASE_HEALTH_CHECK_IDLE_SECONDS = 60
    _request()
    backend = _terminate_our_backend()
    time.sleep(0.2)
    # As if the network path had gone and the server's goodbye never arrived.
    monkeypatch.setattr(DatabaseWrapper, "_server_said_something", lambda self: False)
    with pytest.raises(DatabaseError):
        _request()  # trusted without a ping, so this one request fails (the API answers 503)
    assert connection.connection is None  # dropped when that request ended
    _request()
    assert connection.connection.info.backend_pid != backend


def test_a_task_that_cannot_reach_the_database_is_retried(monkeypatch):
    def unreachable(*, event_id):
        raise OperationalError("connection refused")

    retried = {}

    def retry(*, countdown, exc):
        retried.update(countdown=countdown, exc=exc)
        return Retry("retry", exc=exc)

    monkeypatch.setattr(webhooks.tasks, "inbound_event_process", unreachable)
    monkeypatch.setattr(webhooks.tasks.process_inbound_event, "retry", retry)
    with pytest.raises(Retry):
        webhooks.tasks.process_inbound_event.run(7)
    assert isinstance(retried["exc"], OperationalError) and retried["countdown"] > 0
