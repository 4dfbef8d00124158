"""Production settings refuse missing or weak secrets; secrets from files; ops endpoints; the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.utils import DatabaseError

from core.audit import AuditContext
from core.models import ApplicationAPIKey, AuditEvent
from core.services import audit_record

ROOT = Path(__file__).resolve().parents[2]
STRONG = {
    "DEBUG": "false",
    "SECRET_KEY": "q7Vb-Xw2_Lk9Rt4Zc1Hn8Jm5Pd3Gs6Fy0Ua-Ie7Ko2Wr9Tl4Bx1Nv8Mz5Qj3Ch6E",
    "ALLOWED_HOSTS": "convene.example",
    "LIVEKIT_URL": "https://project.livekit.cloud",
    "LIVEKIT_API_KEY": "APIabc123",
    "LIVEKIT_API_SECRET": "Zt4Wq9Lk2Xv7Rb1Nc8Hm5Jd3Pf6Gs0Ya4Ue7Io2Kr9T",
}


PRINT_LIVEKIT_KEY = "from django.conf import settings; print(settings.LIVEKIT_API_KEY)"


def load_settings(code: str = PRINT_LIVEKIT_KEY, **overrides) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LIVEKIT_", "SECRET_KEY", "DEBUG"))}
    env.update(STRONG)
    env.update({k: v for k, v in overrides.items() if v is not None})
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); " + code],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "config.settings"},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_strong_production_settings_start():
    result = load_settings()
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "APIabc123"


@pytest.mark.parametrize(
    ("name", "value", "complaint"),
    [
        ("SECRET_KEY", None, "SECRET_KEY"),
        ("SECRET_KEY", "short", "SECRET_KEY"),
        ("LIVEKIT_API_SECRET", None, "LIVEKIT_API_SECRET"),
        ("LIVEKIT_API_SECRET", "secret", "LIVEKIT_API_SECRET"),
        ("LIVEKIT_API_SECRET", "x" * 31, "LIVEKIT_API_SECRET"),
        ("LIVEKIT_API_KEY", "devkey", "LIVEKIT_API_KEY"),
        ("LIVEKIT_URL", None, "LIVEKIT_URL"),
        ("ALLOWED_HOSTS", None, "ALLOWED_HOSTS"),
        # Weak ones of the required length: repeated, sequential, or too few distinct characters.
        ("SECRET_KEY", "k" * 20 + "0123456789abcdefghijklmnopqrstuvwxyz", "SECRET_KEY"),
        ("SECRET_KEY", "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", "SECRET_KEY"),
        ("SECRET_KEY", "django-insecure-" + "Zt4Wq9Lk2Xv7Rb1Nc8Hm5Jd3Pf6Gs0Ya4Ue7Io2Kr9T", "SECRET_KEY"),
        ("LIVEKIT_API_SECRET", "s3cr3t" * 8, "LIVEKIT_API_SECRET"),
        ("LIVEKIT_API_SECRET", "ab" * 20, "LIVEKIT_API_SECRET"),
        ("LIVEKIT_WEBHOOK_EXTRA_KEYS", "devkey:secret", "LIVEKIT_WEBHOOK_EXTRA_KEYS"),
        ("LIVEKIT_WEBHOOK_EXTRA_KEYS", "oldkey:short", "LIVEKIT_WEBHOOK_EXTRA_KEYS"),
        ("ALLOWED_HOSTS", "*", "ALLOWED_HOSTS"),
        ("ALLOWED_HOSTS", "convene.example,*", "ALLOWED_HOSTS"),
        ("LIVEKIT_URL", "http://livekit.example:7880", "LIVEKIT_URL"),
        ("LIVEKIT_URL", "ws://livekit.example", "LIVEKIT_URL"),
        ("LIVEKIT_CLIENT_URL", "ws://livekit.example", "LIVEKIT_CLIENT_URL"),
        ("CONVENE_CORS_ALLOWED_ORIGINS", "http://app.example", "CONVENE_CORS_ALLOWED_ORIGINS"),
    ],
)
def test_production_refuses_to_start_with_a_missing_default_or_short_secret(name, value, complaint):
    result = load_settings(**{name: value})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and complaint in result.stderr
    if value:
        assert value not in result.stderr.replace(complaint, "") or len(value) < 8


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("LIVEKIT_URL", "http://127.0.0.1:7880"),  # a LiveKit server on the same host: never leaves it
        ("LIVEKIT_URL", "wss://project.livekit.cloud"),
        ("LIVEKIT_WEBHOOK_EXTRA_KEYS", "APIold:Yd8Kq3Wz6Lx1Rv5Nb9Hc2Jm7Pf4Gt0Sa8Ue3Io6Kr1T"),
        ("CONVENE_CORS_ALLOWED_ORIGINS", "https://app.example,http://localhost:3000"),
    ],
)
def test_production_accepts_safe_values(name, value):
    result = load_settings(**{name: value})
    assert result.returncode == 0, result.stderr


def test_deploy_check_refuses_weak_settings_and_says_what_to_set():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LIVEKIT_", "SECRET_KEY", "DEBUG"))}
    env.update({**STRONG, "ALLOWED_HOSTS": "*", "LIVEKIT_WEBHOOK_EXTRA_KEYS": "devkey:secret"})
    env["DJANGO_SETTINGS_MODULE"] = "config.settings"
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "ALLOWED_HOSTS must list the host names" in result.stderr
    assert "LIVEKIT_WEBHOOK_EXTRA_KEYS entry for key 'devkey' must be not the development key" in result.stderr


def test_development_mode_defaults_to_livekit_dev_server_credentials():
    result = load_settings(
        DEBUG="true", SECRET_KEY=None, LIVEKIT_API_KEY=None, LIVEKIT_API_SECRET=None, LIVEKIT_URL=None
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "devkey"


def test_secrets_can_come_from_files(tmp_path):
    secret_file = tmp_path / "lk_secret"
    secret_file.write_text("Xr5Tq8Lw1Zk4Vb7Nh2Jc9Mf3Pd6Gy0Sa5Ue8Io1Kr4W\n")
    key_file = tmp_path / "lk_key"
    key_file.write_text("APIfromfile\n")
    result = load_settings(
        LIVEKIT_API_SECRET=None, LIVEKIT_API_SECRET_FILE=str(secret_file), LIVEKIT_API_KEY_FILE=str(key_file)
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "APIfromfile"


def test_database_and_redis_urls_can_come_from_files(tmp_path):
    (tmp_path / "db").write_text("postgres://convene:db-pass-from-file@db.internal:5432/convene\n")
    (tmp_path / "redis").write_text("redis://:redis-pass-from-file@redis.internal:6379/0\n")
    code = (
        "from django.conf import settings; "
        "print(settings.DATABASES['default']['PASSWORD'], settings.REDIS_URL, settings.CELERY_BROKER_URL)"
    )
    result = load_settings(
        code,
        DATABASE_URL=None,
        REDIS_URL=None,
        DATABASE_URL_FILE=str(tmp_path / "db"),
        REDIS_URL_FILE=str(tmp_path / "redis"),
    )
    assert result.returncode == 0, result.stderr
    password, redis_url, broker_url = result.stdout.split()
    assert password == "db-pass-from-file"
    assert redis_url == broker_url == "redis://:redis-pass-from-file@redis.internal:6379/0"


def test_the_embedded_broker_writes_messages_with_the_atomic_transport(tmp_path):
    code = "from django.conf import settings; print(settings.CELERY_BROKER_URL, settings.CELERY_BROKER_TRANSPORT)"
    result = load_settings(code, DEBUG="true", REDIS_URL=None, CELERY_BROKER_URL=None, CONVENE_VAR_DIR=str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["filesystem://", "core.broker:FilesystemTransport"]


def test_an_unreadable_secret_file_is_a_startup_error(tmp_path):
    result = load_settings(LIVEKIT_API_SECRET_FILE=str(tmp_path / "missing"))
    assert result.returncode != 0 and "LIVEKIT_API_SECRET_FILE" in result.stderr


def test_trusted_proxies_that_are_not_addresses_are_a_startup_error():
    result = load_settings(FORWARDED_ALLOW_IPS="10.0.0.0/8,proxy.internal")
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and "FORWARDED_ALLOW_IPS" in result.stderr
    assert load_settings(FORWARDED_ALLOW_IPS="10.0.0.0/8, 192.0.2.1,::1").returncode == 0


def test_production_settings_pass_djangos_deployment_checks():
    env = {k: v for k, v in os.environ.items() if k != "SECURE_SSL_REDIRECT"}
    env.update({**STRONG, "DJANGO_SETTINGS_MODULE": "config.settings"})
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.django_db
def test_create_application_prints_the_key_once_as_json(capsys):
    call_command("create_application", "clinic", "--json")
    printed = json.loads(capsys.readouterr().out)
    assert set(printed) == {"application_id", "api_key"}
    stored = ApplicationAPIKey.objects.get(application_id=printed["application_id"])
    assert printed["api_key"] not in stored.hashed_key
    assert ApplicationAPIKey.objects.is_valid(printed["api_key"])


@pytest.mark.django_db
def test_healthz_and_readyz_report_ok_with_database_and_broker_up(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.content
    assert ready.json()["checks"] == {"database": True, "broker": True}


@pytest.mark.django_db
def test_readyz_is_503_when_the_broker_is_unreachable(client, settings):
    from config.celery import app

    original = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:9/0"
    try:
        response = client.get("/readyz")
    finally:
        app.conf.broker_url = original
    assert response.status_code == 503
    assert response.json()["checks"]["broker"] is False


@pytest.mark.django_db
def test_audit_rows_cannot_be_updated_or_deleted(settings):
    event = audit_record(
        action="test.action", object_type="room", object_id="1", application=None, audit=AuditContext.system()
    )
    with pytest.raises(ValueError):
        event.save()
    with pytest.raises(ValueError):
        event.delete()
    if connection.vendor == "postgresql":
        for statement in ("UPDATE core_auditevent SET action = 'x'", "DELETE FROM core_auditevent"):
            with pytest.raises(DatabaseError, match="append-only"):
                from django.db import transaction

                with transaction.atomic(), connection.cursor() as cursor:
                    cursor.execute(statement)
    assert AuditEvent.objects.get(pk=event.pk).action == "test.action"


def test_the_openapi_schema_describes_every_public_endpoint(client):
    schema = client.get("/api/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json").content.decode()
    for path in (
        "/api/v1/rooms",
        "/api/v1/rooms/{room_id}/close",
        "/api/v1/rooms/{room_id}/invitations",
        "/api/v1/invitations/{invitation_id}",
        "/api/v1/rooms/{room_id}/tokens",
        "/api/v1/rooms/{room_id}/participants/{identity}/remove",
        "/api/v1/join/{secret}",
    ):
        assert path in schema


def test_celery_workers_keep_their_database_connection_between_tasks():
    """Without CELERY_DB_REUSE_MAX, Celery's Django fixup closes the connection around every task:
    a new PostgreSQL connection per event."""
    from celery.fixups.django import DjangoWorkerFixup

    from config.celery import app

    assert DjangoWorkerFixup(app).db_reuse_max >= 100


def test_web_and_worker_processes_freeze_their_startup_objects():
    """Full garbage collections scanned ~140,000 startup objects and stalled requests 100+ ms."""
    code = (
        "import gc, json; import config.wsgi; web = gc.get_freeze_count(); gc.unfreeze();"
        "from celery import signals; signals.worker_process_init.send(sender=None);"
        "print(json.dumps([web, gc.get_freeze_count()]))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LIVEKIT_", "SECRET_KEY", "DEBUG"))}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**env, **STRONG, "DJANGO_SETTINGS_MODULE": "config.settings"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    web, worker = json.loads(result.stdout.strip().splitlines()[-1])
    assert web > 50_000 and worker > 50_000
