"""Every environment variable the settings package (config/settings/) reads is documented in
docs/configuration.md, and so is each secret's `<NAME>_FILE` variant. The names are collected from
the source: env("X"), env.<type>("X", ...), secret("X") (which reads X_FILE, then X), os.environ
and os.getenv."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = ROOT / "config" / "settings"
DOCS = ROOT / "docs" / "configuration.md"


def _name_argument(call: ast.Call) -> str | None:
    if call.args and isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, str):
        return call.args[0].value
    return None


def _reads(tree: ast.AST) -> tuple[set[str], set[str]]:
    """(every variable read, the secrets among them: those read through `secret`)."""
    names: set[str] = set()
    secrets: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = _name_argument(node)
            if name is None:
                continue
            if isinstance(func, ast.Name) and func.id in ("env", "secret"):
                names.add(name)
                if func.id == "secret":
                    secrets.add(name)
            elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "env":
                if func.attr != "db_url_config":  # its argument is a URL, not a name
                    names.add(name)
            elif isinstance(func, ast.Attribute) and ast.unparse(func) in ("os.environ.get", "os.getenv"):
                names.add(name)
        elif isinstance(node, ast.Subscript) and ast.unparse(node.value) == "os.environ":
            if isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str):
                names.add(node.slice.value)
    return names, secrets


def _settings_reads() -> tuple[set[str], set[str]]:
    names: set[str] = set()
    secrets: set[str] = set()
    for path in sorted(SETTINGS.glob("*.py")):
        more, more_secrets = _reads(ast.parse(path.read_text(), filename=str(path)))
        names |= more
        secrets |= more_secrets
    return names, secrets


def _mentioned(name: str, text: str) -> bool:
    return re.search(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])", text) is not None


def test_the_collector_finds_the_variables_of_every_kind():
    names, secrets = _settings_reads()
    assert {"DEBUG", "CONVENE_VAR_DIR", "FORWARDED_ALLOW_IPS", "CELERY_BROKER_POLLING_INTERVAL"} <= names
    assert {"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "LIVEKIT_WEBHOOK_EXTRA_KEYS"} <= secrets <= names
    assert len(names) > 80


def test_every_variable_the_settings_read_is_in_docs_configuration():
    names, secrets = _settings_reads()
    assert DOCS.exists(), "docs/configuration.md documents every setting"
    text = DOCS.read_text()
    assert sorted(name for name in names if not _mentioned(name, text)) == []
    # A secret's file variant: named outright, or on a line of the secret's own that says `_FILE`.
    lines = text.splitlines()
    undocumented_files = [
        f"{name}_FILE"
        for name in sorted(secrets)
        if not _mentioned(f"{name}_FILE", text)
        and not any(_mentioned(name, line) and "_FILE" in line for line in lines)
    ]
    assert undocumented_files == []
