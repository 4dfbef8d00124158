"""Headless Chromium for the browser tests: Debian's /usr/bin/chromium driven by Playwright from
PyPI (never `playwright install`), with fake camera and microphone, a fresh profile each time and
none of Chromium's background traffic; plus an axe-core scan and a record of every request made."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from axe_playwright_python.sync_playwright import Axe
from django.db import connections
from playwright.sync_api import Browser, Page, sync_playwright

T = TypeVar("T")

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


class People:
    """One Chromium; each person a browser context of their own (separate cookies, storage and
    window: two tabs of one window would leave the background one unrendered)."""

    def __init__(self, browser: Browser) -> None:
        self.browser = browser

    def new_page(self) -> Page:
        context = self.browser.new_context(viewport={"width": 1024, "height": 900})
        context.set_default_timeout(TIMEOUT_MS)
        return context.new_page()


@contextmanager
def chromium(*, allow_media: bool = True) -> Iterator[People]:
    """Chromium with a fresh, throw-away profile (Playwright makes one per launch). Inside, the
    test's thread runs Playwright's event loop: reach the database through in_thread()."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[*ARGS, ALLOW_MEDIA if allow_media else DENY_MEDIA],
            timeout=TIMEOUT_MS,
        )
        try:
            yield People(browser)
        finally:
            browser.close()


def in_thread(work: Callable[[], T]) -> T:
    """Run ORM work while a browser is open. Playwright's loop runs in the test's thread, where
    Django refuses synchronous database calls and would keep a second, never-closed connection."""
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["value"] = work()
        except BaseException as exc:  # re-raised in the test's thread
            outcome["error"] = exc
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=30)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


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


def screenshot(page: Page, name: str) -> None:
    """A full-page PNG in $CONVENE_SCREENSHOTS, when set (to look at the screens)."""
    folder = os.environ.get("CONVENE_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=f"{folder}/{name}.png", full_page=True)
