"""The dependency-order check: no first-party app imports an app above it, and no two apps import
each other. `python -m devtools.layers` from the repository root prints every offending import as
file:line and exits 1; it exits 0 when the tree keeps the order. Reads source only, imports nothing.

Every import counts: module level, inside functions, under TYPE_CHECKING, relative, and
`import_module("...")` / `send_task("...")` with a literal name. Migrations are exempt (they name
other apps by label, as data); tests/, bench/ and devtools/ are not apps and are not checked.
"""

from __future__ import annotations

import argparse
import ast
import itertools
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

# Bottom first: an app may import the apps before it in this list, never one after it.
ORDER = ("core", "providers", "outbound", "rooms", "recordings", "access", "webhooks", "reconciler", "config")
# App labels that differ from the package name, as they appear in Celery task names ("tokens.sweep_...").
LABELS = {"tokens": "access"}
MODULE_CALLS = {"import_module", "__import__"}
TASK_CALLS = {"send_task", "signature"}


@dataclass(frozen=True)
class Import:
    source: str  # the importing app
    target: str  # the imported app
    where: str  # path:line, relative to the root
    what: str  # the module or task name as written


def _app_of(dotted: str, apps: tuple[str, ...], labels: dict[str, str] | None = None) -> str | None:
    head = dotted.split(".", 1)[0]
    head = (labels or {}).get(head, head)
    return head if head in apps else None


def _from_targets(node: ast.ImportFrom, module_parts: list[str], is_package: bool) -> list[str]:
    """The modules `from X import a, b` reads: X, resolved when relative; X.a, X.b when X is only dots."""
    package = module_parts if is_package else module_parts[:-1]
    if node.level == 0:
        return [node.module or ""]
    up = node.level - 1
    base = package[: len(package) - up] if up <= len(package) else []
    if node.module:
        return [".".join([*base, node.module])]
    return [".".join([*base, alias.name]) for alias in node.names]


def _names(node: ast.AST, module_parts: list[str], is_package: bool) -> Iterator[tuple[str, bool]]:
    """(dotted name, is_task_name) of what `node` imports or references by literal name."""
    if isinstance(node, ast.Import):
        yield from ((alias.name, False) for alias in node.names)
    elif isinstance(node, ast.ImportFrom):
        yield from ((name, False) for name in _from_targets(node, module_parts, is_package))
    elif isinstance(node, ast.Call) and node.args:
        func = node.func
        called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        first = node.args[0]
        if called in MODULE_CALLS | TASK_CALLS and isinstance(first, ast.Constant) and isinstance(first.value, str):
            yield first.value, called in TASK_CALLS


def imports_between_apps(root: Path, apps: tuple[str, ...] = ORDER) -> Iterator[Import]:
    for app in apps:
        for path in sorted((root / app).rglob("*.py")):
            relative = path.relative_to(root)
            if "migrations" in relative.parts:
                continue
            module_parts = list(relative.with_suffix("").parts)
            is_package = module_parts[-1] == "__init__"
            if is_package:
                module_parts.pop()
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(relative))
            for node in sorted(ast.walk(tree), key=lambda node: getattr(node, "lineno", 0)):
                for name, is_task in _names(node, module_parts, is_package):
                    target = _app_of(name, apps, LABELS if is_task else None)
                    if target and target != app:
                        yield Import(app, target, f"{relative}:{node.lineno}", name)


def _cycles(edges: dict[tuple[str, str], Import], apps: tuple[str, ...]) -> list[list[str]]:
    """Cycles between apps, as paths a -> ... -> a: one through each app not on a cycle already found."""
    graph: dict[str, set[str]] = {app: set() for app in apps}
    for source, target in edges:
        graph[source].add(target)

    def reachable(start: str) -> dict[str, str | None]:
        came_from: dict[str, str | None] = {start: None}
        queue = [start]
        while queue:
            node = queue.pop(0)
            for following in sorted(graph[node]):
                if following not in came_from:
                    came_from[following] = node
                    queue.append(following)
        return came_from

    cycles, seen = [], set()
    for app in apps:
        came_from = reachable(app)
        back = [source for source in sorted(graph) if app in graph[source] and source in came_from]
        if app in seen or not back:
            continue
        path, node = [app], back[0]
        while node != app:
            path.insert(1, node)
            node = came_from[node]
        cycles.append([*path, app])
        seen.update(path)
    return cycles


def check(root: Path, apps: tuple[str, ...] = ORDER) -> list[str]:
    """Readable problems, one per offending import and one per cycle; empty when the order holds."""
    rank = {app: index for index, app in enumerate(apps)}
    problems, first_edge = [], {}
    for found in imports_between_apps(root, apps):
        first_edge.setdefault((found.source, found.target), found)
        if rank[found.target] > rank[found.source]:
            problems.append(
                f"{found.where}: {found.source} imports {found.what} ({found.target} is above {found.source})"
            )
    for cycle in _cycles(first_edge, apps):
        steps = [first_edge[pair] for pair in itertools.pairwise(cycle)]
        problems.append(
            "cycle between apps: "
            + " -> ".join(cycle)
            + "".join(f"\n    {step.where}: {step.source} imports {step.what}" for step in steps)
        )
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="the repository root (default: here)")
    args = parser.parse_args(argv)
    problems = check(args.root)
    for problem in problems:
        print(problem)
    order = " < ".join(ORDER)
    if problems:
        print(f"\n{len(problems)} problem(s) with the dependency order {order}", file=sys.stderr)
        return 1
    print(f"dependency order holds: {order}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
