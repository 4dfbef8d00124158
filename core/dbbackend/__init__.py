"""Convene's PostgreSQL backend: Django's, with health checks only for idle connections (base.py)."""
