"""Row writes the event flow repeats for sessions, participants and tracks: lock-or-create and
upsert of one row by a unique lookup, through core.orm_bypass.Table (no save(), no save signals),
safe against a concurrent creator of the same row."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import models

from core.orm_bypass import table


def lock_or_create(model: type[models.Model], lookup: dict[str, Any], defaults: dict[str, Any]):
    """The row for a unique lookup, locked; created if missing. Safe against concurrent creators:
    the loser of the insert (ON CONFLICT on the lookup's unique constraint DO NOTHING, no
    savepoint) then locks the winner's row."""
    rows = table(model)
    row = rows.get(lock=True, **lookup)
    if row is not None:
        return row, False
    row = model(**lookup, **defaults)
    if rows.insert(row, on_conflict=tuple(lookup)):
        return row, True
    return rows.get(lock=True, **lookup), False


def upsert(
    model: type[models.Model],
    lookup: dict[str, Any],
    defaults: dict[str, Any],
    fill: Callable[[Any, bool], None],
    *,
    likely_new: bool = False,
):
    """Write what an event says about one row (`fill(row, fresh)`), creating the row if missing,
    in as few statements as possible: an INSERT when the row is new (tried first when the event
    usually introduces it), else a locked read and an UPDATE of the fields that changed. As in
    lock_or_create, the loser of a concurrent insert merges into the winner's row."""
    rows = table(model)
    row = rows.get(lock=True, **lookup) if not likely_new else None
    if row is None:
        row = model(**lookup, **defaults)
        fill(row, True)
        if rows.insert(row, on_conflict=tuple(lookup)):
            return row
        row = rows.get(lock=True, **lookup)
    before = [getattr(row, name) for name in rows.attnames]
    fill(row, False)
    changed = [name for name, old in zip(rows.attnames, before, strict=True) if getattr(row, name) != old]
    if changed:
        rows.update(row, [*changed, "updated_at"])
    return row
