"""A real webhook receiver for tests: a threaded HTTP server on 127.0.0.1 that records every
request (headers and raw body) and answers from a script (status codes in order, then 200).
Every wait is bounded; the server stops itself when its `with` block ends."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict:
        return json.loads(self.body)

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]


class Receiver:
    def __init__(
        self, *, statuses: list[int] | None = None, delay: float = 0.0, location: str = "", port: int = 0
    ) -> None:
        self.statuses = list(statuses or [])
        self.delay = delay
        self.location = location
        self.received: list[Received] = []
        self.lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            timeout = 10

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with owner.lock:
                    owner.received.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                    status = owner.statuses.pop(0) if owner.statuses else 200
                if owner.delay:
                    time.sleep(owner.delay)
                self.send_response(status)
                if owner.location:
                    self.send_header("Location", owner.location)
                answer = b"ok" if status < 300 else b"receiver says no " * 100
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/convene"

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def events(self, event_type: str | None = None) -> list[Received]:
        with self.lock:
            return [r for r in self.received if event_type is None or r.event["type"] == event_type]

    def wait_for(self, count: int, *, timeout: float = 30) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"the receiver got {len(self.received)} of {count} requests in {timeout}s")
            time.sleep(0.05)
        return self.events()


def verified(received: Received, secret: str) -> dict:
    """The payload as the standardwebhooks package verifies it (raises when the signature is wrong)."""
    return Webhook(secret).verify(received.body, received.headers)
