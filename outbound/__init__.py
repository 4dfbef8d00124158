"""Webhooks out: endpoints a product registers, the transactional outbox, signed delivery.

Below the apps whose changes it reports: it imports core only, and callers pass their rows in."""
