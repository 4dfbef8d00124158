"""The Celery application and its worker signals (wiring only); its configuration is the CELERY_*
settings (config/settings/celery.py). Publishing on the webhook path: core/taskqueue.py."""

import gc
import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("convene")
# Celery reads a plain mapping of the CELERY_* settings, copied once when it first reads its
# configuration, not django.conf.settings: it looks up about twenty unset keys per published task,
# and each miss on LazySettings raises and catches an exception.
app.config_from_object("config.celery:celery_settings", namespace="CELERY")
app.autodiscover_tasks()


def __getattr__(name: str):
    if name == "celery_settings":
        from django.conf import settings

        return {key: getattr(settings, key) for key in dir(settings) if key.startswith("CELERY_")}
    raise AttributeError(name)


@signals.worker_process_init.connect
def _freeze_startup_objects(**kwargs) -> None:
    """As config.wsgi does for web workers: what a worker process loaded at startup stays for its
    lifetime, so full garbage collections need not scan it again and again."""
    gc.freeze()


@signals.after_setup_logger.connect
@signals.after_setup_task_logger.connect
def _redact_secrets_in_logs(logger=None, **kwargs) -> None:
    """Celery replaces the root logger's handlers with its own (worker and beat): they redact
    secrets too, as settings.LOGGING's do (core/logredact.py)."""
    from core.logredact import redact_handlers

    redact_handlers(logger)


@signals.task_prerun.connect
def _drop_unusable_database_connections(task=None, **kwargs) -> None:
    """Before each task in a worker: close a connection that is broken or past CONN_MAX_AGE (a
    database restart must not fail the next task), keep a healthy one. An eager task runs inside
    its caller's transaction, whose connection must be left alone (as Celery's own fixup does)."""
    if task is not None and getattr(task.request, "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()
