"""Writes of webhooks out: endpoints (endpoints.py), the outbox (outbox.py), delivery attempts and
the sweeper (delivery.py). The no-show report is access's (access/services/attendance.py)."""
