"""core.orm_bypass's registry: every hand-written statement is declared with the fields it names,
and the guard reports a statement whose model changed under it (a renamed or removed field, a NOT
NULL field without a default that an INSERT leaves out). No module runs SQL by hand undeclared."""

from __future__ import annotations

import ast
import importlib
import itertools
from pathlib import Path

from django.db import models
from django.test.utils import isolate_apps

from core import orm_bypass
from core.orm_bypass import REGISTRY, HandWritten, Insert, drift
from rooms.models import Room
from webhooks.models import InboundEvent

ROOT = Path(__file__).resolve().parents[2]
APPS = ("access", "core", "outbound", "providers", "recordings", "reconciler", "rooms", "webhooks")
# Modules that execute SQL without declaring a statement, and why that is safe.
UNDECLARED = {
    "core.orm_bypass.statements": "builds every statement from the whole of a model's _meta",
    "core.dbbackend.base": "the database backend itself",
    "core.views": "SELECT 1: the readiness probe names no model",
}
STORE, CLAIM = "webhooks.inbound_event_store", "webhooks.inbound_event_claim"


_nonces = itertools.count()


def _next_nonce() -> str:
    return f"nonce-{next(_nonces)}"


def _like_inbound_event(name: str, *, drop=(), rename=None, add=None) -> type[models.Model]:
    """A throwaway copy of InboundEvent with a field dropped, renamed or added (call inside
    isolate_apps)."""
    rename = rename or {}
    attrs = {"__module__": __name__}
    for field in InboundEvent._meta.concrete_fields:
        if field.name not in drop:
            attrs[rename.get(field.name, field.name)] = field.clone()
    attrs.update(add or {})
    unique = models.UniqueConstraint(fields=["provider", "provider_event_id"], name=f"{name.lower()}_unique")
    attrs["Meta"] = type("Meta", (), {"app_label": "webhooks", "constraints": [unique]})
    return type(name, (models.Model,), attrs)


def test_the_hot_paths_statements_are_declared_and_match_the_models_today():
    for name in _modules_running_sql():  # importing a module declares its statements
        importlib.import_module(name)
    assert {
        STORE,
        CLAIM,
        "access.invitation_by_secret",
        "access.invitation_count_use",
        "outbound.delivery_claim",
    } <= set(REGISTRY)
    assert all(isinstance(statement, HandWritten) for statement in REGISTRY.values())
    assert {name: drift(statement) for name, statement in REGISTRY.items() if drift(statement)} == {}


@isolate_apps("webhooks")
def test_the_guard_reports_a_renamed_field():
    renamed = _like_inbound_event("Renamed", rename={"kind": "event_kind", "room_name": "provider_room"})
    assert drift(REGISTRY[STORE], {InboundEvent: renamed}) == [
        f"{STORE}: Renamed has no concrete field 'kind'",
        f"{STORE}: Renamed has no concrete field 'room_name'",
    ]
    assert drift(REGISTRY[CLAIM], {InboundEvent: renamed}) == [f"{CLAIM}: Renamed has no concrete field 'room_name'"]


@isolate_apps("webhooks")
def test_the_guard_reports_a_removed_field():
    removed = _like_inbound_event("Removed", drop={"status"})
    assert drift(REGISTRY[STORE], {InboundEvent: removed}) == [f"{STORE}: Removed has no concrete field 'status'"]
    assert drift(REGISTRY[CLAIM], {InboundEvent: removed}) == [f"{CLAIM}: Removed has no concrete field 'status'"]


@isolate_apps("webhooks")
def test_the_guard_reports_a_not_null_field_an_insert_leaves_without_a_value():
    added = _like_inbound_event("Added", add={"priority": models.PositiveSmallIntegerField()})
    assert drift(REGISTRY[STORE], {InboundEvent: added}) == [
        f"{STORE}: the INSERT leaves out Added.priority, NOT NULL without a default or db_default"
    ]
    assert drift(REGISTRY[CLAIM], {InboundEvent: added}) == []  # a SELECT does not mind
    for harmless in (
        models.PositiveSmallIntegerField(db_default=0),
        models.PositiveSmallIntegerField(default=0),
        models.PositiveSmallIntegerField(null=True),
        models.CharField(max_length=10),  # "" when not given, as the ORM writes it
    ):
        fine = _like_inbound_event(f"Fine{id(harmless)}", add={"priority": harmless})
        assert drift(REGISTRY[STORE], {InboundEvent: fine}) == []


@isolate_apps("webhooks")
def test_the_guard_reports_a_field_of_a_joined_model():
    class RoomWithoutName(models.Model):  # noqa: DJ008 (a throwaway)
        provider = models.CharField(max_length=20)

        class Meta:
            app_label = "webhooks"

    assert drift(REGISTRY[CLAIM], {Room: RoomWithoutName}) == [
        f"{CLAIM}: RoomWithoutName has no concrete field 'provider_room_name'"
    ]


@isolate_apps("webhooks")
def test_a_derived_insert_follows_renamed_columns_and_fills_the_other_fields(monkeypatch):
    monkeypatch.setattr(orm_bypass.registry, "REGISTRY", {})  # a throwaway statement stays out of the real one
    moved = _like_inbound_event(
        "Moved",
        drop={"kind"},
        add={
            "kind": models.CharField(max_length=60, db_column="event_kind"),
            "priority": models.PositiveSmallIntegerField(db_default=3),
            "nonce": models.CharField(max_length=40, default=_next_nonce),
        },
    )
    insert = Insert("test.moved", moved, ("provider", "provider_event_id", "kind"), on_conflict=None)
    sql = insert.sql()
    assert sql.startswith(f'INSERT INTO "{moved._meta.db_table}" ("provider", "provider_event_id", "event_kind", ')
    assert '"kind"' not in sql
    assert sql.endswith('ON CONFLICT ("provider", "provider_event_id") DO NOTHING RETURNING "id"')
    assert '"priority"' not in sql  # its db_default: the database fills it
    rest = [f.name for f in moved._meta.concrete_fields if f.name not in ("id", "provider", "provider_event_id")]
    rest = [name for name in rest if name not in ("kind", "priority")]
    params = insert.params(["livekit", "EV_1", "room_started"])
    assert params[:3] == ["livekit", "EV_1", "room_started"]
    defaults = dict(zip(rest, params[3:], strict=True))
    assert defaults["status"] == "pending" and defaults["attempts"] == 0 and defaults["last_error"] == ""
    assert defaults["processed_at"] is None
    again = dict(zip(rest, insert.params(["livekit", "EV_2", "room_started"])[3:], strict=True))
    assert again["nonce"] != defaults["nonce"]  # a callable default: called for every row
    fixed = [name for name in rest if name not in ("nonce", "body")]  # body: the driver's Binary wrapper
    assert [again[name] for name in fixed] == [defaults[name] for name in fixed]
    assert orm_bypass.registry.REGISTRY["test.moved"].uses[0].fields == ("provider", "provider_event_id", "kind")


def _modules_running_sql() -> set[str]:
    found = set()
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            tree = ast.parse(path.read_text(), filename=str(path))
            if any(
                isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "execute"
                for node in ast.walk(tree)
            ):
                found.add(".".join(path.relative_to(ROOT).with_suffix("").parts))
    return found


def test_every_module_that_runs_sql_by_hand_declares_its_statements():
    running = _modules_running_sql()
    assert {"webhooks.services", "access.selectors", "core.views"} <= running  # the scan sees them
    undeclared = []
    for name in sorted(running - set(UNDECLARED)):
        module = importlib.import_module(name)
        if not any(isinstance(value, HandWritten | Insert) for value in vars(module).values()):
            undeclared.append(name)
    assert undeclared == [], "declare their statements with core.orm_bypass.hand_written (or Insert)"


def test_fixed_defaults_of_a_declared_insert_are_computed_once(monkeypatch):
    from webhooks.services import _INSERT_EVENT

    values = ["livekit", "EV", "room_started", "", None, None, b"{}", "pending"]
    assert _INSERT_EVENT.params(values) == [*values, 0, "", None]  # attempts, last_error, processed_at
    monkeypatch.setattr(InboundEvent._meta.get_field("attempts"), "default", 7)
    assert _INSERT_EVENT.params(values)[-3] == 0  # kept from the first call: no per-row work
