"""Hand-written SQL for the hot paths where building a query through the ORM costs more CPU than
running it: join-link redemption and audit rows (ModelRows, insert_row) and the event flow's
handful of statements per webhook (Table).

The ORM spends most of a simple query's time building and compiling it (about 0.5-1 ms per
statement on a small machine, three to four times the PostgreSQL round trip). Here table and
column names come from the models' metadata, values are bound parameters prepared by the model
fields (`get_db_prep_value` / `get_db_prep_save`), and rows come back as model instances the way
the ORM makes them: the backend's and the fields' converters, then `Model.from_db`. The statements
are plain SQL that PostgreSQL and SQLite both run. Anything else stays with the ORM.

On PostgreSQL the statements run on a prepared cursor (`prepared_cursor()`, core.dbbackend):
parsed and planned once per connection, then only executed.
"""

from __future__ import annotations

import weakref
from functools import cache
from typing import Any, Generic, TypeVar

from django.db import DEFAULT_DB_ALIAS, NotSupportedError, connection, connections, models, transaction

M = TypeVar("M", bound=models.Model)


class ModelRows:
    """Every concrete column of one or more models, each model under its own table alias, in
    `_meta.concrete_fields` order; `read()` turns one row of them back into instances (no
    deferred fields), as `select_related` would."""

    def __init__(self, *parts: tuple[type[models.Model], str]):
        self.parts = parts
        # Per connection object (one per thread): the converters are bound to its backend.
        self._prepared: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def _prepare(self, connection) -> tuple[str, list]:
        prepared = self._prepared.get(connection)
        if prepared is None:
            quote = connection.ops.quote_name
            columns, converters = [], []
            for model, alias in self.parts:
                for field in model._meta.concrete_fields:
                    columns.append(f"{quote(alias)}.{quote(field.column)}")
                    col = field.get_col(alias)
                    converters.append((connection.ops.get_db_converters(col) + col.get_db_converters(connection), col))
            prepared = self._prepared[connection] = (", ".join(columns), converters)
        return prepared

    def columns(self, connection) -> str:
        """The SELECT list: "alias"."column", ... for every model, in order."""
        return self._prepare(connection)[0]

    def read(self, connection, row) -> list[models.Model]:
        """One instance per model, from one row of `columns()`."""
        converters = self._prepare(connection)[1]
        values = list(row)
        for position, (functions, col) in enumerate(converters):
            if functions:
                value = values[position]
                for function in functions:
                    value = function(value, col, connection)
                values[position] = value
        instances, start = [], 0
        for model, _ in self.parts:
            end = start + len(model._meta.concrete_fields)
            instances.append(model.from_db(connection.alias, None, values[start:end]))
            start = end
        return instances


def prepared_cursor(using=None):
    """A cursor for fixed statements with bound values: prepared once per connection on
    PostgreSQL (core.dbbackend, unless DATABASE_PREPARED_STATEMENTS is off), a plain cursor on
    any other backend."""
    conn = connections[using] if using else connection
    make = getattr(conn, "prepared_cursor", None)
    return make() if make is not None else conn.cursor()


def insert_row(connection, instance: models.Model, *, only_if: tuple[str, list] | None = None) -> bool:
    """INSERT an unsaved instance of a model with an auto primary key, as instance.save() would:
    every other concrete field, its value prepared by the field (get_db_prep_save); the new key is
    read back with RETURNING and the instance marked saved. No pre_save (auto_now, defaults are set
    when the instance is made) and no save signals: callers decide that they need none.

    only_if=(sql, params), PostgreSQL only: a data-modifying statement with RETURNING, run in the
    same statement (WITH guard AS (...) INSERT ... SELECT ... FROM guard), so both happen or
    neither, without a transaction block; the row is inserted only when the guard returns a row.
    Returns whether the row was inserted."""
    meta = instance._meta
    fields = [field for field in meta.concrete_fields if field is not meta.pk]
    quote = connection.ops.quote_name
    into = "{} ({})".format(quote(meta.db_table), ", ".join(quote(field.column) for field in fields))
    values = ", ".join(["%s"] * len(fields))
    params = [field.get_db_prep_save(getattr(instance, field.attname), connection) for field in fields]
    if only_if is None:
        sql = f"INSERT INTO {into} VALUES ({values}) RETURNING {quote(meta.pk.column)}"  # noqa: S608 (values bound)
    else:
        if connection.vendor != "postgresql":
            raise NotSupportedError("insert_row(only_if=...) needs PostgreSQL (a data-modifying WITH)")
        guard, guard_params = only_if
        # The INSERT's SELECT list takes the columns' types (unknown-typed literals are not made text).
        sql = (
            f"WITH guard AS ({guard}) INSERT INTO {into} "  # noqa: S608 (names from the model, values bound)
            f"SELECT {values} FROM guard LIMIT 1 RETURNING {quote(meta.pk.column)}"
        )
        params = [*guard_params, *params]
    # As Model.save(): an error inside an atomic block marks it for rollback.
    with transaction.mark_for_rollback_on_error(using=connection.alias), prepared_cursor(connection.alias) as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return False
    instance.pk = row[0]
    instance._state.adding, instance._state.db = False, connection.alias
    return True


class Table(Generic[M]):
    """Single-table statements for one model, built once per shape: a row by equality lookups
    (optionally ordered, locked, SKIP LOCKED), an INSERT that yields to a unique constraint, and
    an UPDATE of named fields."""

    def __init__(self, model: type[M]) -> None:
        self.model = model
        meta = model._meta
        self.rows = ModelRows((model, meta.db_table))
        self.fields = list(meta.concrete_fields)
        self.by_name = {f.name: f for f in self.fields} | {f.attname: f for f in self.fields} | {"pk": meta.pk}
        self.attnames = [f.attname for f in self.fields]
        self.table = meta.db_table
        self.pk = meta.pk

    # --- statements, built once per shape and vendor -------------------------------------

    @cache  # noqa: B019 (one Table per model for the process's lifetime)
    def _select_sql(self, vendor: str, names: tuple[str, ...], order_by: str, lock: bool, skip_locked: bool) -> str:
        q = connection.ops.quote_name
        where = " AND ".join(f"{q(self.by_name[n].column)} = %s" for n in names)
        columns = self.rows.columns(connections[DEFAULT_DB_ALIAS])
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
    def _update_sql(self, vendor: str, names: tuple[str, ...], commit_async: bool) -> str:
        q = connection.ops.quote_name
        sets = ", ".join(f"{q(self.by_name[n].column)} = %s" for n in names)
        sql = f"UPDATE {q(self.table)} SET {sets} WHERE {q(self.pk.column)} = %s"  # noqa: S608
        if commit_async:
            # set_config(..., is_local => true) is SET LOCAL, done by the same statement.
            sql += " RETURNING set_config('synchronous_commit', 'off', true)"
        return sql

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
        with prepared_cursor() as cursor:
            cursor.execute(sql, [self.param(n, v) for n, v in lookup.items()])
            row = cursor.fetchone()
        if row is None:
            return None
        return self.rows.read(connections[DEFAULT_DB_ALIAS], row)[0]

    def insert(self, obj: M) -> bool:
        """INSERT the new instance unless a unique constraint already holds such a row (no
        savepoint, no exception): True when it was written."""
        values = [f.get_db_prep_save(f.pre_save(obj, True), connection) for f in self.fields]
        with prepared_cursor() as cursor:
            cursor.execute(self._insert_sql(connection.vendor), values)
            written = cursor.fetchone() is not None
        if written:
            obj._state.adding, obj._state.db = False, connection.alias
        return written

    def update(self, obj: M, names: list[str] | tuple[str, ...], *, commit_async: bool = False) -> int:
        """UPDATE the named fields of a saved instance (auto_now fields are refreshed).

        commit_async: the current transaction's COMMIT will not wait for its WAL to reach disk
        (PostgreSQL: the UPDATE itself sets synchronous_commit to off for the transaction, when it
        updates the row). Only for work that is redone if a server crash loses it; elsewhere a
        no-op."""
        fields = [self.by_name[n] for n in names]
        names = tuple(f.name for f in fields)
        values = [f.get_db_prep_save(f.pre_save(obj, False), connection) for f in fields]
        relax = commit_async and connection.vendor == "postgresql" and connection.in_atomic_block
        sql = self._update_sql(connection.vendor, names, relax)
        with prepared_cursor() as cursor:
            cursor.execute(sql, [*values, self.param(self.pk.name, obj.pk)])
            return cursor.rowcount


@cache
def table(model: type[M]) -> Table[M]:
    return Table(model)
