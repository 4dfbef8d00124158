"""Signals rooms sends so that the apps built on it take part in its writes without rooms importing
them (the dependency order runs the other way: docs/architecture.md)."""

from django.dispatch import Signal

# Sent by room_create and room_update before they write a room that may be recorded (a recording
# policy other than off), with `application` and `recording_policy`. A receiver refuses the write by
# raising a ConveneError; recordings refuses when the application has no consent notice to ask
# consent to (recordings.services.consent.consent_notice_require).
room_recordable = Signal()
