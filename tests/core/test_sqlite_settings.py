"""The embedded SQLite database as settings configure it: WAL, and a transaction that reads and then
writes while another process-like writer holds the lock waits for it instead of failing with
"database is locked" (the web server and the worker of `make run` write at the same time)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

TWO_WRITERS = r"""
import json, threading, time, django
django.setup()
from django.db import connection, transaction

with connection.cursor() as cursor:
    cursor.execute("CREATE TABLE counted (n integer)")
    journal_mode = cursor.execute("PRAGMA journal_mode").fetchone()[0]
connection.close()
holding, errors = threading.Event(), []

def first_writer():
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("INSERT INTO counted VALUES (1)")
        holding.set()
        time.sleep(0.5)
    connection.close()

def read_then_write():
    holding.wait()
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM counted")
            cursor.execute("INSERT INTO counted VALUES (2)")
    except Exception as exc:
        errors.append(f"{type(exc).__name__}: {exc}")
    finally:
        connection.close()

threads = [threading.Thread(target=first_writer), threading.Thread(target=read_then_write)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join(timeout=30)
with connection.cursor() as cursor:
    rows = cursor.execute("SELECT count(*) FROM counted").fetchone()[0]
print(json.dumps({"journal_mode": journal_mode, "errors": errors, "rows": rows}))
"""


def test_a_read_then_write_transaction_waits_for_another_writer_instead_of_failing(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "REDIS_URL", "CELERY_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DEBUG="true",
        CONVENE_VAR_DIR=str(tmp_path),
        CELERY_TASK_ALWAYS_EAGER="true",
    )
    result = subprocess.run(
        [sys.executable, "-c", TWO_WRITERS], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    got = json.loads(result.stdout.strip().splitlines()[-1])
    assert got == {"journal_mode": "wal", "errors": [], "rows": 2}
