"""App config for core."""

from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Convene core"

    def ready(self) -> None:
        from core import schema  # noqa: F401  (registers the OpenAPI auth extension)
