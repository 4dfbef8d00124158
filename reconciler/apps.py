"""App config for reconciler: the provider poll that repairs what inbound events missed (no models)."""

from django.apps import AppConfig


class ReconcilerConfig(AppConfig):
    name = "reconciler"
