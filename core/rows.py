"""Precompiled single-table statements for the event flow's hot path.

The ORM spends most of a simple query's time building and compiling it (about 0.5-1 ms per
statement on a small machine, three to four times the PostgreSQL round trip). The event flow runs
the same handful of statements for every webhook, so `Table` prepares them once per model and
binds values through the model's own fields: the same column types, adaptations and converters as
the ORM, on PostgreSQL and on SQLite. Rows come back as ordinary model instances.

Only equality lookups, an optional ORDER BY and row locks; anything else stays with the ORM.
"""

from __future__ import annotations

from functools import cache
from typing import Any, Generic, TypeVar

from django.db import connection, models

M = TypeVar("M", bound=models.Model)


class Table(Generic[M]):
    def __init__(self, model: type[M]) -> None:
        self.model = model
        meta = model._meta
        self.fields = list(meta.concrete_fields)
        self.by_name = {f.name: f for f in self.fields} | {f.attname: f for f in self.fields} | {"pk": meta.pk}
        self.attnames = [f.attname for f in self.fields]
        self.table = meta.db_table
        self.pk = meta.pk

    # --- statements, built once per shape and vendor -------------------------------------

    @cache  # noqa: B019 (one Table per model for the process's lifetime)
    def _select_sql(self, vendor: str, names: tuple[str, ...], order_by: str, lock: bool, skip_locked: bool) -> str:
        q = connection.ops.quote_name
        columns = ", ".join(q(f.column) for f in self.fields)
        where = " AND ".join(f"{q(self.by_name[n].column)} = %s" for n in names)
        sql = f"SELECT {columns} FROM {q(self.table)} WHERE {where}"  # noqa: S608 (names from the model)
        if order_by:
            sql += f" ORDER BY {order_by}"
        sql += " LIMIT 1"
        if lock and connection.features.has_select_for_update:
            sql += " FOR UPDATE"
            if skip_locked and connection.features.has_select_for_update_skip_locked:
                sql += " SKIP LOCKED"
        return sql

    @cache  # noqa: B019
    def _insert_sql(self, vendor: str) -> str:
        q = connection.ops.quote_name
        columns = ", ".join(q(f.column) for f in self.fields)
        values = ", ".join(["%s"] * len(self.fields))
        return (
            f"INSERT INTO {q(self.table)} ({columns}) VALUES ({values}) "  # noqa: S608
            f"ON CONFLICT DO NOTHING RETURNING {q(self.pk.column)}"
        )

    @cache  # noqa: B019
    def _update_sql(self, vendor: str, names: tuple[str, ...]) -> str:
        q = connection.ops.quote_name
        sets = ", ".join(f"{q(self.by_name[n].column)} = %s" for n in names)
        return f"UPDATE {q(self.table)} SET {sets} WHERE {q(self.pk.column)} = %s"  # noqa: S608

    @cache  # noqa: B019
    def _converters(self, vendor: str) -> list[tuple[int, list]]:
        """What the ORM's compiler would apply to each selected column (SQLite needs several)."""
        found = []
        for index, field in enumerate(self.fields):
            column = field.get_col(self.table)
            converters = connection.ops.get_db_converters(column) + field.get_db_converters(connection)
            if converters:
                found.append((index, [(c, column) for c in converters]))
        return found

    def columns(self, alias: str) -> str:
        """The selected columns, qualified by a table alias, for a statement that joins tables;
        `instance()` reads them back."""
        q = connection.ops.quote_name
        return ", ".join(f"{alias}.{q(f.column)}" for f in self.fields)

    # --- operations ---------------------------------------------------------------------

    def param(self, name: str, value: Any) -> Any:
        field = self.by_name[name]
        if isinstance(value, models.Model):
            value = value.pk
        return field.get_db_prep_value(value, connection, prepared=False)

    def get(self, *, order_by: str = "", lock: bool = False, skip_locked: bool = False, **lookup: Any) -> M | None:
        """The first row equal on every lookup field (`room=room` or `room_id=...`), or None."""
        names = tuple(lookup)
        sql = self._select_sql(connection.vendor, names, order_by, lock, skip_locked)
        with connection.cursor() as cursor:
            cursor.execute(sql, [self.param(n, v) for n, v in lookup.items()])
            row = cursor.fetchone()
        if row is None:
            return None
        return self.instance(row)

    def instance(self, row) -> M:
        """A model instance from this table's columns (in `columns()` order), converted as the
        ORM converts them."""
        values = list(row)
        for index, converters in self._converters(connection.vendor):
            value = values[index]
            for converter, column in converters:
                value = converter(value, column, connection)
            values[index] = value
        return self.model.from_db(connection.alias, self.attnames, values)

    def insert(self, obj: M) -> bool:
        """INSERT the new instance unless a unique constraint already holds such a row (no
        savepoint, no exception): True when it was written."""
        values = [f.get_db_prep_save(f.pre_save(obj, True), connection) for f in self.fields]
        with connection.cursor() as cursor:
            cursor.execute(self._insert_sql(connection.vendor), values)
            written = cursor.fetchone() is not None
        if written:
            obj._state.adding, obj._state.db = False, connection.alias
        return written

    def update(self, obj: M, names: list[str] | tuple[str, ...]) -> int:
        """UPDATE the named fields of a saved instance (auto_now fields are refreshed)."""
        fields = [self.by_name[n] for n in names]
        names = tuple(f.name for f in fields)
        values = [f.get_db_prep_save(f.pre_save(obj, False), connection) for f in fields]
        with connection.cursor() as cursor:
            cursor.execute(self._update_sql(connection.vendor, names), [*values, self.param(self.pk.name, obj.pk)])
            return cursor.rowcount


def writable_fields(model: type[models.Model], *, exclude: tuple[str, ...] = ()) -> tuple[str, ...]:
    """Every concrete field but the primary key and creation time: a full-row UPDATE."""
    return tuple(
        f.name
        for f in model._meta.concrete_fields
        if not f.primary_key and not getattr(f, "auto_now_add", False) and f.name not in exclude
    )


@cache
def table(model: type[M]) -> Table[M]:
    return Table(model)
