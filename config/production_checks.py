"""What production settings must not be: the tests config/settings/checks.py runs at start when DEBUG is off.

Pure functions over values (no Django imports), so settings can call them before Django is set up.
Each problem names the variable and what to set, never the offending value (it may be a secret).
"""

from __future__ import annotations

import math
from collections import Counter
from itertools import pairwise
from urllib.parse import urlsplit

# Well-known development values: LiveKit's `--dev` credentials and Convene's own dev key.
KNOWN_DEV_SECRETS = frozenset({"secret", "devkey", "devsecret", "changeme", "password"})
# Below this Shannon estimate (bits, over the whole value) a secret is guessable whatever its length.
MIN_ESTIMATED_BITS = 96
REPEAT_LENGTH = 6  # a run of this many characters seen twice means a pasted pattern, not randomness
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def _estimated_bits(value: str) -> float:
    counts = Counter(value)
    per_char = -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())
    return per_char * len(value)


def _has_repeated_run(value: str) -> bool:
    seen: set[str] = set()
    for start in range(len(value) - REPEAT_LENGTH + 1):
        run = value[start : start + REPEAT_LENGTH]
        if run in seen:
            return True
        seen.add(run)
    return False


def _mostly_sequential(value: str) -> bool:
    """abcdef…, 123456…, aaaa…: most neighbours one code point apart (or equal)."""
    steps = [abs(ord(b) - ord(a)) for a, b in pairwise(value)]
    return bool(steps) and sum(step <= 1 for step in steps) > len(steps) / 2


def weak_secret_reason(value: str, *, min_length: int) -> str | None:
    """Why `value` is not fit to be a production secret, or None when it is."""
    if len(value) < min_length:
        return f"at least {min_length} characters"
    if value.lower() in KNOWN_DEV_SECRETS or value.startswith("django-insecure-"):
        return "not a well-known development value"
    if (
        _estimated_bits(value) < MIN_ESTIMATED_BITS
        or _has_repeated_run(value)
        or _mostly_sequential(value)
        or len(set(value)) < 8
    ):
        return "random: no repeated, sequential or low-variety runs (generate it, e.g. `openssl rand -base64 48`)"
    return None


def insecure_url_reason(url: str) -> str | None:
    """A media-server URL reached over plain HTTP/WS anywhere but this machine's loopback."""
    parts = urlsplit(url)
    if parts.scheme in ("https", "wss"):
        return None
    if parts.scheme in ("http", "ws") and (parts.hostname or "") in LOOPBACK_HOSTS:
        return None  # the traffic never leaves the host (a LiveKit server beside Convene)
    return "an https:// or wss:// URL (plain http/ws only to a loopback address)"


def webhook_key_problems(pairs: dict[str, str], *, dev_key: str, min_length: int) -> list[str]:
    """LIVEKIT_WEBHOOK_EXTRA_KEYS entries a production server must not believe."""
    problems = []
    for key, secret in pairs.items():
        reason = "not the development key" if key == dev_key else weak_secret_reason(secret, min_length=min_length)
        if reason:
            problems.append(f"LIVEKIT_WEBHOOK_EXTRA_KEYS entry for key {key!r} must be {reason}")
    return problems


ICE_URL_SCHEMES = ("stun:", "stuns:", "turn:", "turns:")


def turn_problems(urls: list[str], secret: str, ttl_seconds: int) -> list[str]:
    """TURN settings a production server must not hand to browsers."""
    problems = []
    if any(not url.startswith(ICE_URL_SCHEMES) for url in urls):
        problems.append("each TURN_URLS entry must be a stun:, stuns:, turn: or turns: URL")
    if any(url.startswith(("turn:", "turns:")) for url in urls):
        if reason := weak_secret_reason(secret, min_length=32):
            problems.append(f"TURN_SECRET must be coturn's static-auth-secret: {reason}")
        if ttl_seconds <= 0:
            problems.append("TURN_TTL_SECONDS must be a positive number of seconds")
    return problems
