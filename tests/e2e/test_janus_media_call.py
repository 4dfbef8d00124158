"""A real call through Janus: two headless Chromium with fake cameras and microphones join one
Janus room with credentials from POST /api/v1/join/{secret}, each decodes the other's video, both
consent, a recording is started and stopped through the API and post-processed by the worker, and
the reviewer's playback URL serves a file that ffprobe reads as VP8/Opus of the recorded length.
Attendance shows both people with their time present.

Everything runs inside a private network namespace (tests/e2e/janus_media.py). Figures (time from
join to first remote frame) are printed, never asserted against a clock.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from tests.e2e.janus_media import Browsers, ConveneStack, MediaNamespace, media_files, wait_until

DURATION_TOLERANCE_SECONDS = 2
RECORD_FOR_SECONDS = 6
SCREENSHOT_DIR = os.environ.get("MEDIA_SCREENSHOT_DIR", "")

REVIEWER_SETUP = """
import json
from django.contrib.auth.models import Group, User
from core.models import Application
user = User.objects.create_user("reviewer", password=%(password)r, is_staff=True)
user.groups.add(Group.objects.get(name="Recording reviewers"))
Application.objects.get(pk=%(application)r).reviewers.add(user)
"""


@pytest.fixture
def stack():
    netns = MediaNamespace().open()
    try:
        convene = ConveneStack(netns=netns, database_url=os.environ["DATABASE_URL"]).start()
        try:
            yield convene
        finally:
            convene.close()
    finally:
        netns.close()


@pytest.fixture
def browsers(stack, tmp_path):
    launched = Browsers(stack.netns, stack.public_url, tmp_path)
    yield launched
    launched.close()


def _ok(answer, status: int = 200) -> dict:
    assert answer.status == status, (answer.status, answer.body[:2000])
    return answer.json() if answer.body else {}


def _reviewer_login(stack: ConveneStack, application_id: str) -> dict[str, str]:
    """Log a staff reviewer in through the admin's login form; the headers its API calls need."""
    password = "reviewer-" + os.urandom(12).hex()
    stack.manage("shell", "-c", REVIEWER_SETUP % {"password": password, "application": application_id})
    form = stack.http.request("GET", "/admin/login/")
    csrf = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', form.body).group(1).decode()
    body = f"username=reviewer&password={password}&csrfmiddlewaretoken={csrf}&next=/admin/"
    login = stack.http.request(
        "POST", "/admin/login/", body=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert login.status == 302 and "sessionid" in stack.http.cookies, login.body[:500]
    return {"X-CSRFToken": stack.http.cookies["csrftoken"]}


def _ffprobe(path: Path) -> dict:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration:stream=codec_name", "-of", "json", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return json.loads(out.stdout)


def _attendance(stack, key, room_id) -> dict[str, dict]:
    rows = _ok(stack.api("GET", f"/api/v1/rooms/{room_id}/attendance", key))["results"]
    return {row["identity"]: row for row in rows}


def test_two_browsers_hold_a_recorded_janus_call_end_to_end(stack, browsers, tmp_path):
    key = json.loads(stack.manage("create_application", "media-e2e", "--json"))["api_key"]
    _ok(stack.api("POST", "/api/v1/consent-notices", key, {"text": "This call may be recorded."}), 201)
    room = _ok(stack.api("POST", "/api/v1/rooms", key, {"provider": "janus", "recording_policy": "on_demand"}), 201)
    assert room["provider"] == "janus"
    people = {}
    for identity, name, role in (("dr-lee", "Dr Lee", "host"), ("pat", "Pat", "guest")):
        link = {"display_name": name, "role": role, "identity": identity}
        created = _ok(stack.api("POST", f"/api/v1/rooms/{room['id']}/invitations", key, link), 201)
        people[identity] = created["url"].rsplit("/", 1)[1]

    lee, pat = browsers.page("dr-lee"), browsers.page("pat")
    assert lee.join(people["dr-lee"]) == "dr-lee"
    assert pat.join(people["pat"]) == "pat"
    wait_until(lambda: lee.frames_decoded() > 0 and pat.frames_decoded() > 0, timeout=30, what="remote frames")
    first_frame = {p.name: p.seconds_to_first_remote_frame() for p in (lee, pat)}
    print(f"\njoin to first remote frame (s): {first_frame}")
    shots = Path(SCREENSHOT_DIR) if SCREENSHOT_DIR else tmp_path
    time.sleep(1)  # a second of video so the screenshots show moving frames, not the first one
    for page in (lee, pat):
        page.screenshot(shots / f"janus-call-{page.name}.png")

    for secret in people.values():
        _ok(stack.http.request("POST", f"/api/v1/join/{secret}/consent", body={"decision": "granted"}), 201)
    wait_until(
        lambda: all(row["present_now"] for row in _attendance(stack, key, room["id"]).values()),
        timeout=30,
        what="both people present in Convene's records (Janus events through the worker)",
    )

    started = time.monotonic()
    recording = _ok(stack.api("POST", f"/api/v1/rooms/{room['id']}/recordings", key), 201)
    time.sleep(RECORD_FOR_SECONDS)
    _ok(stack.api("POST", f"/api/v1/recordings/{recording['id']}/stop", key))
    recorded_for = time.monotonic() - started

    def finished():
        answer = _ok(stack.api("GET", f"/api/v1/recordings/{recording['id']}", key))
        return answer if answer["status"] in ("complete", "failed") else None

    done = wait_until(finished, timeout=60, what="the recording post-processed")
    assert done["status"] == "complete", done
    assert abs(done["duration_seconds"] - recorded_for) <= DURATION_TOLERANCE_SECONDS, (done, recorded_for)
    assert media_files(stack.recording_dir) == []  # raw .mjr files deleted once the composite is stored

    headers = _reviewer_login(stack, _application_id(stack))
    playback = _ok(stack.http.request("POST", f"/api/v1/recordings/{recording['id']}/playback", headers=headers))
    path = playback["url"].removeprefix(stack.public_url)
    partial = stack.http.request("GET", path, headers={"Range": "bytes=0-1023"})
    assert partial.status == 206 and len(partial.body) == 1024
    assert partial.headers["content-type"] == "video/webm"
    assert partial.headers["content-range"].startswith("bytes 0-1023/")
    whole = stack.http.request("GET", path)
    assert whole.status == 200 and whole.headers["accept-ranges"] == "bytes"
    stored = tmp_path / "recording.webm"
    stored.write_bytes(whole.body)
    probed = _ffprobe(stored)
    assert sorted(s["codec_name"] for s in probed["streams"]) == ["opus", "vp8"]
    assert abs(float(probed["format"]["duration"]) - recorded_for) <= DURATION_TOLERANCE_SECONDS

    for page in (lee, pat):
        page.leave()
    attendance = wait_until(
        lambda: (
            (rows := _attendance(stack, key, room["id"]))
            and not any(row["present_now"] for row in rows.values())
            and rows
        ),
        timeout=30,
        what="both people gone from Convene's records",
    )
    for identity in ("dr-lee", "pat"):
        assert attendance[identity]["joined"] and attendance[identity]["connections"] >= 1
        assert attendance[identity]["total_seconds"] >= RECORD_FOR_SECONDS


def _application_id(stack: ConveneStack) -> str:
    code = "from core.models import Application; print(Application.objects.get().pk)"
    return stack.manage("shell", "-c", code).strip().splitlines()[-1]
