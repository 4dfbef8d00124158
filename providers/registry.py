"""Provider lookup by name: `providers.get("livekit")`. Instances are built once per process.

A provider is configured when its server URL is set (LIVEKIT_URL, JANUS_URL); rooms may be
created only at configured providers.
"""

from __future__ import annotations

from functools import cache

from django.conf import settings

from providers.base import Provider

KNOWN_PROVIDERS = ("livekit", "janus")


def configured_providers() -> tuple[str, ...]:
    urls = {"livekit": settings.LIVEKIT_URL, "janus": settings.JANUS_URL}
    return tuple(name for name in KNOWN_PROVIDERS if urls[name])


@cache
def get(name: str) -> Provider:
    if name == "livekit":
        from providers.livekit import LiveKitProvider

        return LiveKitProvider.from_settings()
    if name == "janus":
        from providers.janus import JanusProvider

        return JanusProvider.from_settings()
    raise LookupError(f"unknown provider {name!r}")
