"""The database: DATABASE_URL (PostgreSQL in production; SQLite under CONVENE_VAR_DIR by default)."""

from __future__ import annotations

from config.settings.env import VAR_DIR, env, secret

# A URL that carries a password is a secret too: it may come from DATABASE_URL_FILE.
DATABASES = {"default": env.db_url_config(secret("DATABASE_URL", f"sqlite:///{VAR_DIR / 'convene.sqlite3'}"))}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    # The embedded mode writes from two processes at once (the web server and the worker). WAL lets
    # readers and a writer proceed together; IMMEDIATE takes the write lock when a transaction
    # starts, so it waits (up to `timeout` seconds) instead of failing with "database is locked"
    # when a read inside it later turns into a write; synchronous=NORMAL is what WAL needs to be safe.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        init_command="PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
        transaction_mode="IMMEDIATE",
        timeout=20,
    )
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)  # seconds
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# A connection that worked less than this many seconds ago, and whose socket shows nothing from
# the server, is reused without a health check (core/dbbackend, PostgreSQL); 0 checks before every
# request and task, as CONN_HEALTH_CHECKS does.
DATABASE_HEALTH_CHECK_IDLE_SECONDS = env.float("DATABASE_HEALTH_CHECK_IDLE_SECONDS", default=1.0)
# The hot paths' fixed statements (core.orm_bypass) are prepared once per PostgreSQL connection; turn
# off behind a pooler that cannot carry prepared statements (PgBouncer transaction mode < 1.21).
DATABASE_PREPARED_STATEMENTS = env.bool("DATABASE_PREPARED_STATEMENTS", default=True)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["ENGINE"] = "core.dbbackend"  # Django's, checking only idle connections
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "connect_timeout", env.int("DATABASE_CONNECT_TIMEOUT", default=3)
    )
