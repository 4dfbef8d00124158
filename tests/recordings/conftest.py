"""Fixtures of the recordings tests (the `webhooks` poster comes from tests/conftest.py)."""
