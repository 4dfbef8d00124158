"""devtools/janus.py: a private Janus started from a configuration of its own answers its HTTP API
with the secrets it was given, creates rooms only with the admin key, and posts its events to the
configured receiver with basic auth."""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from devtools.janus import JanusServer
from devtools.localservers import free_port


def _post(server: JanusServer, path: str, body: dict, *, apisecret: str = "api-secret") -> dict:
    payload = {"transaction": "t", "apisecret": apisecret, **body}
    return requests.post(server.url + path, json=payload, timeout=5).json()


def _videoroom(server: JanusServer, body: dict) -> dict:
    session = _post(server, "", {"janus": "create"})["data"]["id"]
    handle = _post(server, f"/{session}", {"janus": "attach", "plugin": "janus.plugin.videoroom"})["data"]["id"]
    return _post(server, f"/{session}/{handle}", {"janus": "message", "body": body})["plugindata"]["data"]


class _Receiver(BaseHTTPRequestHandler):
    posts: list = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.posts.append((self.headers.get("Authorization"), json.loads(body)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    _Receiver.posts = []
    httpd = ThreadingHTTPServer(("127.0.0.1", free_port()), _Receiver)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def janus(receiver):
    server = JanusServer(
        admin_key="admin-key",
        token_secret="token-secret",
        api_secret="api-secret",
        webhook_url=f"http://127.0.0.1:{receiver.server_port}/webhooks/janus",
        webhook_user="janus",
        webhook_password="hook-password",
    ).start()
    yield server
    server.cleanup()


def test_janus_refuses_requests_without_its_api_secret(janus):
    answer = _post(janus, "", {"janus": "create"}, apisecret="wrong")
    assert answer["janus"] == "error" and answer["error"]["code"] == 403


def test_a_room_is_created_with_the_admin_key_and_refused_without_it(janus):
    assert _videoroom(janus, {"request": "create", "room": 7, "admin_key": "admin-key"})["videoroom"] == "created"
    assert _videoroom(janus, {"request": "create", "room": 8})["error_code"] == 429


def test_videoroom_events_reach_the_receiver_grouped_with_basic_auth(janus, receiver):
    _videoroom(janus, {"request": "create", "room": 9, "admin_key": "admin-key"})
    deadline = time.monotonic() + 10
    while not _Receiver.posts and time.monotonic() < deadline:
        time.sleep(0.05)
    expected = "Basic " + base64.b64encode(b"janus:hook-password").decode()
    assert _Receiver.posts and all(auth == expected for auth, _ in _Receiver.posts)
    assert all(isinstance(batch, list) for _, batch in _Receiver.posts)
    events = [event for _, batch in _Receiver.posts for event in batch]
    assert [e["event"]["data"] for e in events if e["type"] == 64] == [{"event": "created", "room": 9}]
    assert {e["type"] for e in events} == {64}  # only the VideoRoom's events: nothing else carries a room


def test_stopping_ends_the_process_and_cleanup_removes_its_folder(receiver):
    server = JanusServer(admin_key="k", token_secret="t").start()
    process = server.process
    server.cleanup()
    assert process.poll() is not None and not server.root.exists()


def test_the_command_stops_janus_promptly_on_sigterm_as_make_run_stops_it(tmp_path):
    folder = tmp_path / "janus"
    command = [sys.executable, "-m", "devtools.janus", "--folder", str(folder)]
    env = {**os.environ, "DEBUG": "true", "JANUS_URL": f"http://127.0.0.1:{free_port()}/janus"}
    runner = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert runner.stdout.readline().startswith("janus: http://127.0.0.1:")
        janus_pid = int(subprocess.run(["pgrep", "-P", str(runner.pid)], capture_output=True, text=True).stdout)
        started = time.monotonic()
        runner.terminate()
        assert runner.wait(timeout=15) == 0
        assert time.monotonic() - started < 5
        assert not os.path.exists(f"/proc/{janus_pid}")
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait(timeout=10)


@pytest.fixture
def netns():
    """A private network namespace with only its loopback up (needs root, as in CI)."""
    name = f"convene-test-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", name], check=True, timeout=10)
    try:
        subprocess.run(["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"], check=True, timeout=10)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False, timeout=10)


def test_janus_runs_inside_a_network_namespace_and_only_answers_there(netns):
    server = JanusServer(admin_key="k", token_secret="t", api_secret="api-secret", netns=netns, ice_interfaces="lo")
    server.start()
    try:
        create = json.dumps({"janus": "create", "transaction": "t", "apisecret": "api-secret"})
        ask = "import sys, urllib.request as u; print(u.urlopen(sys.argv[1], sys.argv[2].encode(), 5).read().decode())"
        inside = subprocess.run(
            ["ip", "netns", "exec", netns, sys.executable, "-c", ask, server.url, create],
            capture_output=True,
            text=True,
            timeout=15,
        )
        assert json.loads(inside.stdout)["janus"] == "success"
        with socket.socket() as sock:
            sock.settimeout(1)
            assert sock.connect_ex(("127.0.0.1", server.port)) != 0  # this namespace's loopback: nothing
        assert 'ice_enforce_list = "lo"' in (server.root / "janus.jcfg").read_text()
    finally:
        server.cleanup()
