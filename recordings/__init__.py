"""Consent ledger, consent-gated recordings, review, retention."""
