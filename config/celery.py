"""The Celery application; its configuration lives in config.settings under CELERY_*."""

import gc
import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("convene")
# The CELERY_* settings, copied once into a plain mapping when Celery first reads its
# configuration. Read through django.conf.settings instead, every lookup of a key that is not
# set (Celery makes about twenty per published task) costs a LazySettings miss and an exception:
# a sixth of the cost of each publish on the webhook path.
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


@signals.task_prerun.connect
def _drop_unusable_database_connections(task=None, **kwargs) -> None:
    """Before each task in a worker: close a connection that is broken or past CONN_MAX_AGE (a
    database restart must not fail the next task), keep a healthy one. An eager task runs inside
    its caller's transaction, whose connection must be left alone (as Celery's own fixup does)."""
    if task is not None and getattr(task.request, "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()
