"""Consent ledger, consent-gated recordings, storage, review, retention.

Imports core, providers, outbound and rooms; never access or webhooks."""
