"""The registry of hand-written statements: each declared once (`hand_written`, or an `Insert`) with
the model fields it names, so that tests/core/test_orm_bypass_registry.py can check every one
against the models (`drift`). Declares and checks; runs nothing."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from django.db import models
from django.db.models import NOT_PROVIDED


@dataclass(frozen=True)
class Uses:
    """The fields of one model a statement names (by field name; columns come from `_meta`).
    `inserts`: the statement INSERTs rows of the model giving only these fields; every other
    NOT NULL column then needs a default (`default` or `db_default`)."""

    model: type[models.Model]
    fields: tuple[str, ...]
    inserts: bool = False


@dataclass(frozen=True)
class HandWritten:
    name: str
    uses: tuple[Uses, ...]


REGISTRY: dict[str, HandWritten] = {}


def hand_written(name: str, *uses: Uses) -> HandWritten:
    """Declare a hand-written statement once, with the model fields it names."""
    if name in REGISTRY and REGISTRY[name].uses != uses:
        raise ValueError(f"two hand-written statements are named {name!r}")
    REGISTRY[name] = HandWritten(name=name, uses=uses)
    return REGISTRY[name]


def _needs_a_value(field: models.Field) -> bool:
    """A NOT NULL column that an INSERT leaving it out could not fill: no Python default, no
    database default, and not a string field (those default to "", as the ORM writes them)."""
    return not (field.null or database_fills(field) or field.has_default() or field.empty_strings_allowed)


def database_fills(field: models.Field) -> bool:
    """The database gives the column its value when an INSERT leaves it out: an automatic primary
    key (no Python default) or a db_default."""
    return (field.primary_key and not field.has_default()) or field.db_default is not NOT_PROVIDED


def drift(statement: HandWritten, models_now: Mapping[type, type] | None = None) -> list[str]:
    """What no longer matches between a statement and its models (empty: nothing). `models_now`
    stands other model classes in for the declared ones (the guard's own test)."""
    problems = []
    for use in statement.uses:
        model = (models_now or {}).get(use.model, use.model)
        by_name = fields_by_name(model)
        for name in use.fields:
            if name not in by_name:
                problems.append(f"{statement.name}: {model.__name__} has no concrete field {name!r}")
        if use.inserts:
            for field in model._meta.concrete_fields:
                if field.name not in use.fields and _needs_a_value(field):
                    problems.append(
                        f"{statement.name}: the INSERT leaves out {model.__name__}.{field.name}, "
                        "NOT NULL without a default or db_default"
                    )
    return problems


def fields_by_name(model: type[models.Model]) -> dict[str, models.Field]:
    fields = model._meta.concrete_fields
    return {f.name: f for f in fields} | {f.attname: f for f in fields} | {"pk": model._meta.pk}


def columns_of(model: type[models.Model], names: Iterable[str], connection) -> dict[str, str]:
    """{field name: quoted column} for a statement's text (`"... {uses} < {max_uses}".format(**)`)."""
    by_name, quote = fields_by_name(model), connection.ops.quote_name
    return {name: quote(by_name[name].column) for name in names}
