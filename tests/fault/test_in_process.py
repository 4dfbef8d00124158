"""In-process fault cases: no message for a rolled-back store, and a committed one rings for exactly
its rows, which the worker can already see; the Celery settings that make late ack and redelivery
safe; and the setting that bounds a publish when the broker is unreachable."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from unittest import mock

import pytest
from django.db import connections, transaction

import providers
from config.celery import app
from tests.fakes.livekit_webhooks import new_guid
from tests.webhooks.conftest import event_body, participant_info, room_info
from webhooks.models import InboundEvent
from webhooks.services import inbound_events_store, inbound_events_sweep, retry_countdown

ROOT = Path(__file__).resolve().parents[2]
PROCESS_TASK = "webhooks.process_inbound_event"


class _Rollback(Exception):
    pass


def _store(event_id: str | None = None):
    room = SimpleNamespace(provider_room_name="cv_fault_c3")
    body = event_body(
        "participant_joined",
        event_id=event_id,
        room=room_info(room, sid="RM_c3"),
        participant=participant_info(new_guid("PA_"), "c3-guest"),
    )
    events = providers.get("livekit").parse_webhook(body=body)
    return inbound_events_store(provider_name="livekit", body=body, events=events)


def _visible_elsewhere(pk: int) -> bool:
    """Whether another database connection (another thread: a worker's view) sees the row."""
    seen: dict[str, bool] = {}

    def look() -> None:
        try:
            seen["row"] = InboundEvent.objects.filter(pk=pk).exists()
        finally:
            connections.close_all()

    thread = threading.Thread(target=look)
    thread.start()
    thread.join(timeout=10)
    return seen.get("row", False)


@pytest.fixture
def sends():
    """Every task publish (Task.apply_async, and publish_task for the doorbell) recorded, none
    sent; for the processing task, also whether its row was visible to another connection at the
    moment of sending."""
    recorded: list[tuple[int, bool]] = []
    calls = mock.Mock()

    def record(task, args=None, kwargs=None, **options):
        calls(task.name, args)
        if task.name == PROCESS_TASK:
            (event_id,) = args
            recorded.append((event_id, _visible_elsewhere(event_id)))

    with (
        mock.patch("celery.app.task.Task.apply_async", autospec=True, side_effect=record),
        mock.patch("webhooks.services.publish_task", autospec=True, side_effect=record),
    ):
        yield SimpleNamespace(recorded=recorded, mock=calls)


def test_store_in_a_transaction_that_rolls_back_sends_nothing(transactional_db, sends):
    with pytest.raises(_Rollback), transaction.atomic():
        first, second = _store(), _store()
        assert len(first.stored) == 1 and len(second.stored) == 1
        raise _Rollback
    assert sends.mock.call_count == 0
    assert not InboundEvent.objects.filter(pk__in=first.stored + second.stored).exists()


def test_committed_store_sends_exactly_its_ids_after_commit(transactional_db, sends):
    with transaction.atomic():
        first = _store()
        duplicate_id = InboundEvent.objects.get(pk=first.stored[0]).provider_event_id
        second = _store()
        again = _store(event_id=duplicate_id)
        assert sends.mock.call_count == 0  # nothing before the commit
    assert again.stored == [] and again.duplicates == 1
    stored = first.stored + second.stored
    assert [event_id for event_id, _ in sends.recorded] == stored
    assert all(visible for _, visible in sends.recorded), sends.recorded  # the worker would see its row
    assert sends.mock.call_count == len(stored)


def test_sweep_with_an_explicit_zero_age_takes_the_rows_stored_just_now(db, settings):
    """`inbound_events_sweep(older_than=timedelta(0))` (used to re-ring everything pending after an
    outage) must not fall back to CONVENE_EVENT_SWEEP_AFTER_SECONDS."""
    settings.CONVENE_EVENT_SWEEP_AFTER_SECONDS = 3600
    stored = _store().stored
    with mock.patch("webhooks.services.inbound_events_enqueue", autospec=True, return_value=1) as enqueue:
        swept = inbound_events_sweep(older_than=timedelta(0))
    assert enqueue.call_args_list == [mock.call(event_ids=stored)]
    assert swept == 1


def _production_settings(monkeypatch) -> dict:
    """The settings package (config/settings/) evaluated in a fresh process as production runs it
    (DEBUG off, Redis broker, defaults): its JSON-representable settings."""
    for name in list(os.environ):
        if name.startswith(("CELERY_", "CONVENE_", "DATABASE_", "REDIS_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("DEBUG", "false")
    monkeypatch.setenv("SECRET_KEY", secrets.token_urlsafe(48))
    monkeypatch.setenv("ALLOWED_HOSTS", "convene.example")
    monkeypatch.setenv("LIVEKIT_URL", "https://livekit.example")
    monkeypatch.setenv("LIVEKIT_API_KEY", "production-key")
    monkeypatch.setenv("LIVEKIT_API_SECRET", secrets.token_urlsafe(32))
    monkeypatch.setenv("DATABASE_URL", "postgres://convene@127.0.0.1:5432/convene")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    code = (
        "import json, config.settings as s; "
        "print(json.dumps({k: v for k, v in vars(s).items() if k.isupper()}, default=repr))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_celery_settings_make_late_ack_and_redelivery_safe(monkeypatch, settings):
    conf = app.conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_soft_time_limit < conf.task_time_limit

    # The longest retry countdown is capped at CONVENE_EVENT_RETRY_MAX_SECONDS, whatever the attempt.
    for attempt in range(settings.CONVENE_EVENT_MAX_ATTEMPTS + 20):
        for _ in range(20):
            assert 0 < retry_countdown(attempt) <= settings.CONVENE_EVENT_RETRY_MAX_SECONDS

    # Redis hands an unacked message to another worker after the visibility timeout: it must outlast
    # the longest task plus the longest countdown (an ETA message is held unacked until it is due).
    production = _production_settings(monkeypatch)
    assert production["CELERY_BROKER_URL"].startswith("redis://")
    visibility = production["CELERY_BROKER_TRANSPORT_OPTIONS"]["visibility_timeout"]
    longest = production["CELERY_TASK_TIME_LIMIT"] + production["CONVENE_EVENT_RETRY_MAX_SECONDS"]
    assert visibility > longest, (visibility, longest)
    assert production["CELERY_TASK_ACKS_LATE"] and production["CELERY_TASK_REJECT_ON_WORKER_LOST"]
    assert production["CELERY_WORKER_PREFETCH_MULTIPLIER"] == 1
    if conf.broker_url.startswith("redis://"):  # this process's own configuration, when it uses Redis
        assert conf.broker_transport_options["visibility_timeout"] > conf.task_time_limit + (
            settings.CONVENE_EVENT_RETRY_MAX_SECONDS
        )


def test_settings_bound_a_publish_when_the_broker_is_unreachable(monkeypatch):
    """kombu retries the connection of a publish (Connection.default_channel) forever, ~6 s a round,
    unless the transport options bound it: socket timeouts alone do not (see the stack tests of a broker
    that is down or never answers, tests/fault/test_event_flow_faults.py)."""
    options = _production_settings(monkeypatch)["CELERY_BROKER_TRANSPORT_OPTIONS"]
    assert options.get("socket_connect_timeout") and options.get("socket_timeout")
    retries, first_pause = options.get("max_retries"), options.get("interval_start", 2)
    bounded = retries == 0 or (retries == 1 and first_pause == 0) or 0 < options.get("connect_retries_timeout", 0) <= 1
    assert bounded, f"a publish retries its broker connection without a bound of ~1 s: {options}"
