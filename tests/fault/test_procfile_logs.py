"""No secret (key, token, link secret, presigned URL) in any log line of the Procfile's web and
worker processes (production settings).

The stack runs the Procfile's own `web` and `worker` command lines (conftest.Stack.start_procfile),
is driven through a join, a consent, the browser join page, a recording download, a webhook and a
join while PostgreSQL is down (Django logs "Service Unavailable: <path>"), and then every line
both processes wrote is searched for each secret.
"""

from __future__ import annotations

import json
import uuid

import pytest
import requests

from tests.fakes.livekit_webhooks import new_guid
from tests.fault.conftest import Stack, wait_until

DOWNLOAD_URL_CODE = """
from types import SimpleNamespace
from recordings import storage
print(storage.current().playback_url(SimpleNamespace(pk="{recording_id}"), reviewer_id="1"))
"""


@pytest.fixture(scope="module")
def procfile_stack():
    stack = Stack()
    try:
        stack.start(procfile=True)
        yield stack
    finally:
        stack.close()


def _create_room_with_link(stack: Stack, api_key: str) -> str:
    """A room with one join link through the API; returns the link's secret."""
    response = requests.post(
        stack.gunicorn.base_url + "/api/v1/rooms",
        headers={"Authorization": f"Api-Key {api_key}"},
        json={"title": "Log test", "participants": [{"display_name": "Patient", "role": "guest"}]},
        timeout=15,
    )
    assert response.status_code == 201, response.text
    return response.json()["participants"][0]["url"].rsplit("/join/", 1)[1]


def _drive(stack: Stack) -> dict[str, str]:
    """Every request that carries a secret; returns the secrets by name."""
    base = stack.gunicorn.base_url
    api_key = json.loads(stack.manage("create_application", "log-test", "--json"))["api_key"]
    join_secret = _create_room_with_link(stack, api_key)

    joined = requests.post(f"{base}/api/v1/join/{join_secret}", timeout=15)
    assert joined.status_code == 200, joined.text
    consent = requests.post(
        f"{base}/api/v1/join/{join_secret}/consent", json={"decision": "granted", "notice_version": 1}, timeout=15
    )
    assert consent.status_code < 500, consent.text
    assert requests.get(f"{base}/join/{join_secret}", timeout=15).status_code == 200  # the join page

    download_url = stack.shell(DOWNLOAD_URL_CODE.format(recording_id=uuid.uuid4())).strip().splitlines()[-1]
    path_and_query = download_url.split("/api/v1/", 1)[1]
    download = requests.get(f"{base}/api/v1/{path_and_query}", timeout=15)
    assert download.status_code == 404, download.text  # the token was accepted; no such recording

    event_id, body = stack.joined(new_guid("PA_"), room_sid=new_guid("RM_"))
    authorization = stack.signed(body)
    assert stack.post(body, authorization=authorization).status == 200
    wait_until(lambda: stack.all_final([event_id]), timeout=30, what="the webhook to be processed")

    stack.postgres.stop()
    try:
        down = requests.post(f"{base}/api/v1/join/{join_secret}", timeout=15)
    finally:
        stack.postgres.start()
    assert down.status_code == 503, down.text

    return {
        "join secret": join_secret,
        "join token": joined.json()["token"],
        "download token": download_url.split("token=", 1)[1],
        "webhook signature": authorization,
        "API key": api_key,
    }


def test_the_procfile_web_and_worker_logs_carry_no_secret(procfile_stack):
    secrets = _drive(procfile_stack)
    web_log, worker_log = procfile_stack.gunicorn.log(), procfile_stack.worker.log()

    for name, value in secrets.items():
        for log_name, log in (("web", web_log), ("worker", worker_log)):
            leaked = [line for line in log.splitlines() if value in line]
            assert not leaked, f"the {name} is in the {log_name} log: {leaked[:3]}"

    # The lines are there, redacted: the test would see a secret if one were written.
    assert '"POST /api/v1/join/[redacted] HTTP/1.1" 200' in web_log
    assert '"POST /api/v1/join/[redacted]/consent HTTP/1.1"' in web_log
    assert '"GET /join/[redacted] HTTP/1.1" 200' in web_log
    assert "/download?token=[redacted] HTTP/1.1" in web_log
    assert "Service Unavailable: /api/v1/join/[redacted]" in web_log
    assert "webhooks.process_inbound_event" in worker_log and "succeeded" in worker_log
