"""Inbound media-server events: receive, store durably, process through Celery, reconcile."""
