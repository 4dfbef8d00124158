"""config/ is wiring (settings, urls, the Celery app, wsgi/asgi): no app imports it, not even inside
a function. Runtime code the apps need (the task publisher, the broker transports) lives in core."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APPS = ("core", "providers", "outbound", "rooms", "recordings", "access", "webhooks", "reconciler")


def _config_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found += [f"{path.relative_to(ROOT)}:{node.lineno} {name}" for name in names if name.split(".")[0] == "config"]
    return found


def test_no_app_imports_config():
    sources = [path for app in APPS for path in sorted((ROOT / app).rglob("*.py")) if "migrations" not in path.parts]
    assert len(sources) > 50
    assert [found for path in sources for found in _config_imports(path)] == []
