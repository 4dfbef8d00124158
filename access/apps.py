"""App config for access: who may enter a room and how (join links, app tokens, roles, the waiting
room, removal, the join page).

The package was called `tokens`; its app label stays "tokens" so that existing databases keep their
tables, migration history and permissions (docs/decisions/0001-app-label-tokens.md).
"""

from django.apps import AppConfig


class AccessConfig(AppConfig):
    name = "access"
    label = "tokens"
    verbose_name = "Access"

    def ready(self) -> None:
        from access import pages, roles  # noqa: F401  (register the join page's and the role table's checks)
