"""`manage.py` commands owned by core; each a thin caller of core.services."""
