"""Inbound media-server events: receive, store durably, process through Celery, replay (what the
events missed, the reconciler app repairs)."""
