"""Headless Chromium for the browser tests: Debian's /usr/bin/chromium driven by Playwright from
PyPI (never `playwright install`), with fake camera and microphone, a fresh profile each time and
none of Chromium's background traffic; plus an axe-core scan and a record of every request made."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import BrowserContext, Page, sync_playwright

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-device-for-media-stream",
    "--allow-loopback-in-peer-connection",
]
ALLOW_MEDIA = "--use-fake-ui-for-media-stream"  # answers the permission prompt with "allow"
DENY_MEDIA = "--deny-permission-prompts"
TIMEOUT_MS = 15_000


@contextmanager
def chromium(*, allow_media: bool = True) -> Iterator[BrowserContext]:
    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls are still
    # synchronous code, which Django would otherwise refuse inside a running loop.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright, tempfile.TemporaryDirectory(prefix="convene-chromium-") as profile:
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            headless=True,
            args=[*ARGS, ALLOW_MEDIA if allow_media else DENY_MEDIA],
            timeout=TIMEOUT_MS,
        )
        context.set_default_timeout(TIMEOUT_MS)
        try:
            yield context
        finally:
            context.close()
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


def serious_accessibility_violations(page: Page) -> list[str]:
    """axe-core's violations of impact serious or critical, as 'rule: target' lines."""
    results = Axe().run(page)
    return [
        f"{violation['id']}: {[node['target'] for node in violation['nodes']]}"
        for violation in results.response["violations"]
        if violation.get("impact") in ("serious", "critical")
    ]


class RequestLog:
    """Every URL a page requested (documents, scripts, fetches, WebSockets)."""

    def __init__(self, page: Page) -> None:
        self.urls: list[str] = []
        page.on("request", lambda request: self.urls.append(request.url))
        page.on("websocket", lambda websocket: self.urls.append(websocket.url))

    def origins(self) -> set[str]:
        return {f"{urlsplit(url).scheme}://{urlsplit(url).netloc}" for url in self.urls if "://" in url}
