"""`manage.py` commands of the event flow; each a thin caller of webhooks.services."""
