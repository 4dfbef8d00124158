"""Hand-written SQL for the few hot paths where building a query through the ORM costs more CPU
than running it (join-link redemption).

Table and column names come from the models' metadata, values are bound parameters, and rows
come back as model instances the way the ORM makes them: the backend's and the fields'
converters, then `Model.from_db`. The statements are plain SQL that PostgreSQL and SQLite both
run.
"""

from __future__ import annotations

import weakref

from django.db import models


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
