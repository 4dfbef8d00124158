"""The reconciler's tests tell calls through signed webhooks, like the event flow's own tests."""

from tests.webhooks.conftest import webhooks  # noqa: F401  (fixture re-export)
