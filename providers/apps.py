"""App config for providers (no models: the boundary to media servers)."""

from django.apps import AppConfig


class ProvidersConfig(AppConfig):
    name = "providers"
