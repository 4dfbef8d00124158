"""Writes of the recordings app: consent.py (the ledger), recording.py (gate, start, stop,
lifecycle from provider events, reconciliation), retention.py (deletion on schedule/demand)."""
