"""The dependency order (devtools/layers.py): the tree keeps it, and the checker itself reports
upward imports, lazy ones and cycles with file:line, on small synthetic trees."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from devtools.layers import check

REPO_ROOT = Path(__file__).resolve().parent.parent


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_no_app_imports_an_app_above_it_and_no_apps_import_each_other():
    problems = check(REPO_ROOT)

    assert problems == [], "\n".join(problems)


def test_a_tree_that_keeps_the_order_passes(tmp_path):
    write(
        tmp_path,
        {
            "core/models.py": "from django.db import models\n",
            "rooms/services.py": "from core.models import Base\nfrom . import selectors\nfrom .selectors import x\n",
            "rooms/selectors.py": "import core\n",
            "access/services.py": "from rooms.services import room_open\nfrom core import models\n",
            "config/urls.py": "import access.services\nimport rooms\n",
        },
    )

    assert check(tmp_path) == []


def test_an_upward_import_is_reported_with_its_file_and_line(tmp_path):
    write(tmp_path, {"core/models.py": '"""Base."""\n\nfrom rooms.models import Room\n', "rooms/models.py": ""})

    assert check(tmp_path) == ["core/models.py:3: core imports rooms.models (rooms is above core)"]


def test_an_import_inside_a_function_is_reported(tmp_path):
    lazy = "def room_open():\n    from access.services import invitation_create\n    return invitation_create\n"
    write(tmp_path, {"rooms/services/rooms.py": lazy, "rooms/services/__init__.py": ""})

    assert check(tmp_path) == ["rooms/services/rooms.py:2: rooms imports access.services (access is above rooms)"]


def test_imports_by_name_and_relative_imports_out_of_the_app_are_reported(tmp_path):
    write(
        tmp_path,
        {
            "providers/janus.py": (
                "import importlib\nselectors = importlib.import_module('rooms.selectors')\nfrom .. import outbound\n"
            ),
            "outbound/tasks.py": "def ring(app):\n    app.send_task('tokens.sweep_participant_removals')\n",
        },
    )

    assert check(tmp_path) == [
        "providers/janus.py:2: providers imports rooms.selectors (rooms is above providers)",
        "providers/janus.py:3: providers imports outbound (outbound is above providers)",
        "outbound/tasks.py:2: outbound imports tokens.sweep_participant_removals (access is above outbound)",
    ]


def test_a_cycle_between_apps_is_reported_with_every_import_in_it(tmp_path):
    write(
        tmp_path,
        {
            "rooms/services.py": "from access.models import Invitation\n",
            "access/models.py": "\nfrom rooms.models import Room\n",
        },
    )

    assert check(tmp_path)[-1] == (
        "cycle between apps: rooms -> access -> rooms\n"
        "    rooms/services.py:1: rooms imports access.models\n"
        "    access/models.py:2: access imports rooms.models"
    )


def test_migrations_are_not_checked(tmp_path):
    write(tmp_path, {"core/migrations/0002_backfill.py": "from access.models import Invitation\n"})

    assert check(tmp_path) == []


def test_the_command_names_the_offending_import_and_exits_non_zero(tmp_path):
    write(tmp_path, {"core/errors.py": "import config.celery\n"})

    done = subprocess.run(
        [sys.executable, "-m", "devtools.layers", "--root", str(tmp_path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 1
    assert "core/errors.py:1: core imports config.celery (config is above core)" in done.stdout
