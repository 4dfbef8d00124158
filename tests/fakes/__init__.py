"""Test fakes of external services (LiveKit server API and webhooks)."""
