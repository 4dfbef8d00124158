"""ICE servers for browsers: STUN, and TURN credentials in coturn's REST scheme (use-auth-secret).

Credentials are minted for each join from TURN_SECRET and handed to the browser only: never
stored, never logged. Nothing here talks to a TURN server.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

from django.conf import settings

STUN_SCHEMES = ("stun:", "stuns:")
TURN_SCHEMES = ("turn:", "turns:")


def turn_configured() -> bool:
    """TURN is configured when TURN_URLS lists a turn:/turns: URL and TURN_SECRET is set."""
    return bool(settings.TURN_SECRET) and any(url.startswith(TURN_SCHEMES) for url in settings.TURN_URLS)


def turn_credential(*, username: str, secret: str) -> str:
    """coturn's password for a REST username: base64(HMAC-SHA1(secret, username))."""
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def ice_servers_for(*, identity: str, now: datetime | None = None) -> list[dict]:
    """RTCIceServer dicts for one participant: the STUN URLs of TURN_URLS, then, when TURN is
    configured, its TURN URLs with a username `<expiry unix>:<identity>` valid TURN_TTL_SECONDS.

    The TTL must cover the whole call, not only the join: coturn checks the expiry again on every
    allocation refresh, so a credential that lapses mid-call drops a relayed connection.
    """
    stun = [url for url in settings.TURN_URLS if url.startswith(STUN_SCHEMES)]
    turn = [url for url in settings.TURN_URLS if url.startswith(TURN_SCHEMES)]
    servers: list[dict] = [{"urls": stun}] if stun else []
    if turn and settings.TURN_SECRET:
        expires = (now or datetime.now(UTC)) + timedelta(seconds=settings.TURN_TTL_SECONDS)
        username = f"{int(expires.timestamp())}:{identity}"
        credential = turn_credential(username=username, secret=settings.TURN_SECRET)
        servers.append({"urls": turn, "username": username, "credential": credential})
    return servers
