"""App config for tokens: join links, the role policy and join credentials."""

from django.apps import AppConfig


class TokensConfig(AppConfig):
    name = "tokens"

    def ready(self) -> None:
        from tokens import roles  # noqa: F401  (registers the role-table system check)
