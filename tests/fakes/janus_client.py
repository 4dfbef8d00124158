"""A minimal Janus HTTP API client playing a browser's signalling (janus.js's calls), for tests
against a real Janus: create a session with a join token, attach the VideoRoom, join, long-poll."""

from __future__ import annotations

import secrets
import time
import urllib.parse

import requests


class JanusClient:
    def __init__(self, url: str, token: str):
        self.url, self.token = url, token
        self.session = self.handle = None

    def _post(self, path: str, body: dict) -> dict:
        payload = {**body, "token": self.token, "transaction": secrets.token_hex(6)}
        return requests.post(self.url + path, json=payload, timeout=5).json()

    def connect(self) -> dict:
        """Create a session and attach the VideoRoom plugin; the answer of the first refusal, if any."""
        answer = self._post("", {"janus": "create"})
        if answer["janus"] != "success":
            return answer
        self.session = answer["data"]["id"]
        answer = self._post(f"/{self.session}", {"janus": "attach", "plugin": "janus.plugin.videoroom"})
        if answer["janus"] == "success":
            self.handle = answer["data"]["id"]
        return answer

    def join(self, room_name: str, display: str = "") -> dict:
        """Join as a publisher; the plugin's answer (videoroom "joined", or error_code)."""
        body = {"request": "join", "ptype": "publisher", "room": int(room_name), "display": display}
        self._post(f"/{self.session}/{self.handle}", {"janus": "message", "body": {**body, "token": self.token}})
        return self.wait_for(lambda data: data.get("videoroom") == "joined" or "error_code" in data)

    def leave(self) -> None:
        """Hang up the way a closed tab ends: the session is destroyed."""
        self._post(f"/{self.session}", {"janus": "destroy"})

    def wait_for(self, predicate, timeout: float = 10) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            query = urllib.parse.urlencode({"maxev": 10, "token": self.token})
            events = requests.get(f"{self.url}/{self.session}?{query}", timeout=timeout).json()
            for event in events if isinstance(events, list) else [events]:
                data = event.get("plugindata", {}).get("data", {})
                if predicate(data):
                    return data
        raise TimeoutError("no matching VideoRoom event")
