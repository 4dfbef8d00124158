"""App config for tokens: join links, the role policy and join credentials."""

from django.apps import AppConfig


class TokensConfig(AppConfig):
    name = "tokens"

    def ready(self) -> None:
        from tokens import pages, roles  # noqa: F401  (register the join page's and the role table's checks)
