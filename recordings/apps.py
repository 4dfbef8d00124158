"""App config for recordings: the consent ledger and recordings."""

from django.apps import AppConfig


class RecordingsConfig(AppConfig):
    name = "recordings"
