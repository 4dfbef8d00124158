"""Recordings tests drive the event flow with the webhook helpers."""
from tests.webhooks.conftest import webhooks  # noqa: F401  (fixture re-export)
