"""Writes of webhooks out: endpoints (endpoints.py), the outbox (outbox.py), delivery attempts and
the sweeper (delivery.py), and the no-show report (attendance.py)."""
