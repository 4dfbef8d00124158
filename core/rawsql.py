"""Hand-written SQL for the few hot paths where building a query through the ORM costs more CPU
than running it (join-link redemption, audit rows).

Table and column names come from the models' metadata, values are bound parameters prepared by
the model fields (`get_db_prep_save`), and rows come back as model instances the way the ORM
makes them: the backend's and the fields' converters, then `Model.from_db`. The statements are
plain SQL that PostgreSQL and SQLite both run.
"""

from __future__ import annotations

import weakref

from django.db import NotSupportedError, models, transaction


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
    with transaction.mark_for_rollback_on_error(using=connection.alias), connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return False
    instance.pk = row[0]
    instance._state.adding, instance._state.db = False, connection.alias
    return True
