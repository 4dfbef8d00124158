"""The only code that posts webhooks out: one signed POST to a checked address, no redirects,
connect and total timeouts, and no more of the answer than a short excerpt.

The address checked by urlguard is the address connected to (TLS still verifies the name), so a
name re-pointed between the check and the connection cannot reach an internal address.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import urllib3
from django.conf import settings

from outbound.urlguard import UrlRefused, url_check

EXCERPT_BYTES = 300
DRAIN_LIMIT = 64 * 1024  # a longer answer is not read: its connection is closed instead of reused
USER_AGENT = "Convene-Webhooks/1.0"

# One small pool per (address, port, scheme, TLS name), kept for the process (connection reuse).
_pools = urllib3.PoolManager(num_pools=64, maxsize=1, retries=False, block=False)


@dataclass(frozen=True)
class Attempt:
    ok: bool
    status_code: int | None = None
    latency_ms: int | None = None
    error: str = ""
    excerpt: str = ""


def post(*, url: str, headers: dict[str, str], body: bytes) -> Attempt:
    try:
        host, port, addresses = url_check(url)
    except UrlRefused as exc:
        return Attempt(ok=False, error=f"url_not_allowed: {exc.details.get('reason', '')}")
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    tls = {"server_hostname": host, "assert_hostname": host} if parts.scheme == "https" else {}
    pool = _pools.connection_from_host(addresses[0], port, parts.scheme, pool_kwargs=tls)
    timeout = urllib3.Timeout(
        connect=settings.CONVENE_WEBHOOK_CONNECT_TIMEOUT_SECONDS, total=settings.CONVENE_WEBHOOK_TIMEOUT_SECONDS
    )
    request_headers = {
        **headers,
        "Host": parts.netloc.rpartition("@")[2],
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
    }
    started = time.monotonic()
    try:
        response = pool.urlopen(
            "POST",
            path,
            body=body,
            headers=request_headers,
            redirect=False,
            retries=False,
            timeout=timeout,
            preload_content=False,
            assert_same_host=False,
        )
        try:
            excerpt = response.read(EXCERPT_BYTES, decode_content=False)
            _finish(response)
        finally:
            response.release_conn()
    except urllib3.exceptions.HTTPError as exc:
        latency = int((time.monotonic() - started) * 1000)
        return Attempt(ok=False, latency_ms=latency, error=_describe(exc))
    latency = int((time.monotonic() - started) * 1000)
    return Attempt(
        ok=200 <= response.status < 300,
        status_code=response.status,
        latency_ms=latency,
        error="" if 200 <= response.status < 300 else f"HTTP {response.status}",
        excerpt=excerpt.decode("utf-8", errors="replace")[:EXCERPT_BYTES],
    )


def _finish(response) -> None:
    """Read a short rest so the connection can carry the next delivery; close a long one."""
    remaining = response.length_remaining
    if remaining is not None and remaining <= DRAIN_LIMIT:
        response.drain_conn()
    elif remaining != 0:
        response.close()


def _describe(exc: Exception) -> str:
    reason = getattr(exc, "reason", None) or exc
    # NewConnectionError is also a ConnectTimeoutError in urllib3 2: asked first.
    if isinstance(reason, urllib3.exceptions.NewConnectionError | ConnectionError):
        return "connection_error"
    if isinstance(reason, urllib3.exceptions.TimeoutError) or "timed out" in str(reason).lower():
        return "timeout"
    return f"{type(reason).__name__}"[:100]
