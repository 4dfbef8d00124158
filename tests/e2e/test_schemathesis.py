"""Fuzzing (reliability notes): Schemathesis against the live OpenAPI schema at /api/schema.

One bounded run (a fixed seed, a few hundred generated requests, under a minute) of
Schemathesis' CLI against a real server on 127.0.0.1 backed by the test database, with
application A's key, rooms and join links of two applications seeded so path parameters reach
real objects, and the provider pointed at the fake LiveKit server. Its JSON report is then
asserted check by check, each as its own subtest: no 5xx, responses as the schema documents
them, and (with Convene's own checks in schemathesis_checks.py) application B's key never
reaching A's objects and every error in the one error shape.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from pytest_django.live_server_helper import LiveServer
from schemathesis.failure_codes import get_failure_class

from core.models import AuditEvent
from core.services import application_create
from outbound import urlguard
from outbound.services.endpoints import webhook_endpoint_create
from rooms.models import RoomStatus
from tests.e2e import schemathesis_checks
from tests.factories import InvitationFactory, RoomFactory

pytestmark = pytest.mark.django_db(transaction=True)  # the server thread must see the seeded rows

SEED = 20251122
MAX_EXAMPLES = 8  # per operation when fuzzing; with the coverage and stateful phases, ~25 requests per operation
RUN_TIMEOUT_SECONDS = 110
CHECK_GROUPS = {
    "no response is a server error": {"not_a_server_error"},
    "every response has the body, content type and headers its schema documents": {
        "response_schema_conformance",
        "content_type_conformance",
        "response_headers_conformance",
    },
    "every status code a response has is documented": {"status_code_conformance"},
    "a created room can be read back": {"ensure_resource_availability"},
    "an endpoint that needs a key refuses a request without one": {"ignored_auth"},
    "another application's key gets not_found on every object": {"another_application_gets_not_found"},
    "every error has Convene's error shape": {"errors_have_the_convene_error_shape"},
}


@dataclass(frozen=True)
class Seeded:
    key: str
    other_key: str
    room_ids: list[str]
    invitation_ids: list[str]
    secrets: list[str]
    other_object_ids: list[str]
    room_pk: str
    endpoint_ids: list[str]


@pytest.fixture
def api_server(transactional_db) -> Iterator[LiveServer]:
    """pytest-django's live server, bound to 127.0.0.1 (its fixture would bind to "localhost")."""
    server = LiveServer("127.0.0.1:0")
    server._live_server_modified_settings.enable()
    yield server
    server._live_server_modified_settings.disable()
    server.stop()


@pytest.fixture
def seeded(transactional_db, monkeypatch) -> Seeded:
    """Two applications, each with an open room holding a join link and a webhook endpoint; A also
    has a closed room. Webhook hosts resolve to a public address without asking any name server,
    and no worker runs: nothing is posted to a generated URL."""
    monkeypatch.setattr(urlguard, "resolve", lambda host, port: ["93.184.215.14"])
    application, key = application_create(name="schemathesis-a")
    other_application, other_key = application_create(name="schemathesis-b")
    room = RoomFactory(application=application, external_id="seed-a")
    closed = RoomFactory(
        application=application, external_id="seed-a-closed", status=RoomStatus.CLOSED, closed_at=timezone.now()
    )
    invitation = InvitationFactory(room=room, identity="patient-a")
    other_room = RoomFactory(application=other_application, external_id="seed-b")
    other_invitation = InvitationFactory(room=other_room, identity="patient-b")
    endpoint = webhook_endpoint_create(application=application, url="https://hooks.example.com/a")
    other_endpoint = webhook_endpoint_create(application=other_application, url="https://hooks.example.com/b")
    return Seeded(
        key=key,
        other_key=other_key,
        room_ids=[str(room.pk), str(closed.pk), str(other_room.pk)],
        invitation_ids=[str(invitation.pk), str(other_invitation.pk)],
        secrets=[invitation.secret],
        other_object_ids=[str(other_room.pk), str(other_invitation.pk), str(other_endpoint.pk)],
        room_pk=str(room.pk),
        endpoint_ids=[str(endpoint.pk), str(other_endpoint.pk)],
    )


def _toml_list(values: list[str]) -> str:
    return json.dumps(values)  # a JSON array of strings is a TOML array


def _config(seeded: Seeded, report: Path) -> str:
    enabled_checks = "".join(f"{name}.enabled = true\n" for group in CHECK_GROUPS.values() for name in sorted(group))
    return f"""
seed = {SEED}
continue-on-failure = true
request-timeout = 10
headers = {{ Authorization = "Api-Key {seeded.key}" }}

[cache]
enabled = false

[generation]
max-examples = {MAX_EXAMPLES}
no-shrink = true

[phases.coverage]
unexpected-methods = ["PUT", "TRACE"]
generation.mode = "positive"

[phases.stateful]
max-steps = 5
generation.max-examples = 10
# Each new failure makes a stateful suite run again; undocumented statuses (one per operation and
# status) are already reported by the other phases and would otherwise keep it running.
checks.status_code_conformance.enabled = false

[reports.json]
enabled = true
path = "{report}"

[dictionaries.rooms]
values = {_toml_list(seeded.room_ids)}

[dictionaries.invitations]
values = {_toml_list(seeded.invitation_ids)}

[dictionaries.secrets]
values = {_toml_list(seeded.secrets)}

[dictionaries.endpoints]
values = {_toml_list(seeded.endpoint_ids)}

[parameters]
"path.room_id" = {{ dictionary = "rooms", probability = 0.5 }}
"path.invitation_id" = {{ dictionary = "invitations", probability = 0.5 }}
"path.secret" = {{ dictionary = "secrets", probability = 0.5 }}
"path.endpoint_id" = {{ dictionary = "endpoints", probability = 0.5 }}

[checks]
enabled = false
{enabled_checks}
"""


@dataclass(frozen=True)
class Run:
    report: dict[str, Any]
    output: Path  # Schemathesis' own account: every failure with its request and a curl line to reproduce it


@pytest.fixture
def schemathesis_run(api_server, seeded, fake_livekit, tmp_path) -> Run:
    """Run Schemathesis once against the server."""
    report, output = tmp_path / "report.json", tmp_path / "schemathesis.txt"
    config = tmp_path / "schemathesis.toml"
    config.write_text(_config(seeded, report))
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--config-file",
        str(config),
        "--no-color",
        "run",
        f"{api_server.url}/api/schema",
        "--workers",
        "1",  # on Python 3.11 concurrent workers can crash Hypothesis' lambda parsing (ast SystemError)
        "--output-truncate",
        "false",
    ]
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": schemathesis_checks.__file__,
        schemathesis_checks.OTHER_KEY_ENV: seeded.other_key,
        schemathesis_checks.OTHER_OBJECT_IDS_ENV: ",".join(seeded.other_object_ids),
    }
    with output.open("w") as out:
        finished = subprocess.run(
            command,
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=RUN_TIMEOUT_SECONDS,
            check=False,
        )
    assert report.exists(), f"Schemathesis wrote no report (exit {finished.returncode}):\n{output.read_text()[-3000:]}"
    return Run(report=json.loads(report.read_text()), output=output)


def _checks_of(failure: dict[str, Any]) -> set[str]:
    if failure["code"] == "ST901":  # a custom check: its name is in the title
        return {name for group in CHECK_GROUPS.values() for name in group if f"`{name}`" in failure["title"]}
    failure_class = get_failure_class(failure["code"])
    return set(failure_class.checks) if failure_class is not None else {failure["code"]}


def _describe(failures: list[dict[str, Any]], output: Path) -> str:
    lines = [f"{f['code']} {f['title']} x{f['count']}: {', '.join(f['operations'])}" for f in failures]
    return "\n".join([*lines, f"Schemathesis' report with a curl line for each: {output}"])


def test_schemathesis_finds_no_server_error_no_schema_mismatch_and_no_cross_application_access(
    schemathesis_run, seeded, subtests
):
    report = schemathesis_run.report
    assert report["complete"] and report["errors"] == [], schemathesis_run.output.read_text()[-3000:]
    assert report["operations"]["tested"] == report["operations"]["selected"] >= 11, report["operations"]
    assert 200 <= report["test_cases"]["generated"] <= 1500, report["test_cases"]
    # The seeded room was reached: some operation on it succeeded and wrote its audit row.
    assert AuditEvent.objects.filter(object_id=seeded.room_pk, actor_type="application").exists()
    failures = report["failures"]
    assert {name for failure in failures for name in _checks_of(failure)} <= {
        name for group in CHECK_GROUPS.values() for name in group
    }, failures
    for title, checks in CHECK_GROUPS.items():
        with subtests.test(msg=title):
            found = [f for f in failures if _checks_of(f) & checks]
            assert not found, f"{title}:\n{_describe(found, schemathesis_run.output)}"
