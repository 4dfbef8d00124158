"""App config for recordings (its features arrive with their issues)."""

from django.apps import AppConfig


class RecordingsConfig(AppConfig):
    name = "recordings"
