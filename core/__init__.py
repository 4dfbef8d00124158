"""Shared pieces only: tenants and API keys, the base model, errors, the audit log, ops views.
Imports no other Convene app."""
