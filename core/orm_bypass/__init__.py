"""Statements that bypass the ORM's save(), signals and query building, for the hot paths (event
flow, join redemption, audit rows, the webhooks-out outbox). Read this before adding one.

The contract: a caller gives up `Model.save()` overrides, `pre_save`/`post_save` signals and
`full_clean`: none of them runs for a row written here, so a model written here says so in its
docstring and must not grow such behaviour without moving its writes back to the ORM. What
does run: each field's `pre_save` (auto_now, auto_now_add) and `get_db_prep_save`, as save() does.
Table and column names come from the models' metadata, never from string literals; every
hand-written statement outside this package is declared in REGISTRY (`hand_written` or `Insert`,
with the fields it names) and tests/core/test_orm_bypass_registry.py checks each against the
models (a renamed or removed field, a NOT NULL field without a default that an INSERT leaves
out). Table's statements name fields given by its callers: an unknown name is a KeyError. Rows
come back as model instances the way the ORM makes them: the backend's and the fields'
converters, then `Model.from_db`.
Statements are plain SQL that PostgreSQL and SQLite both run; on PostgreSQL they run on a
prepared cursor (`prepared_cursor()`, core.dbbackend). Measurements: bench/README.md.
"""

from core.orm_bypass.registry import REGISTRY, HandWritten, Uses, columns_of, drift, hand_written
from core.orm_bypass.statements import (
    Insert,
    ModelRows,
    Order,
    Table,
    asc,
    conflict_target,
    desc,
    insert_row,
    prepared_cursor,
    table,
    unique_field_sets,
)

__all__ = [
    "REGISTRY",
    "HandWritten",
    "Insert",
    "ModelRows",
    "Order",
    "Table",
    "Uses",
    "asc",
    "columns_of",
    "conflict_target",
    "desc",
    "drift",
    "hand_written",
    "insert_row",
    "prepared_cursor",
    "table",
    "unique_field_sets",
]
