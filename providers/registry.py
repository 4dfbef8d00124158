"""Provider lookup by name: `providers.get("livekit")`. Instances are built once per process."""

from __future__ import annotations

from functools import cache

from providers.base import Provider

KNOWN_PROVIDERS = ("livekit",)


@cache
def get(name: str) -> Provider:
    if name == "livekit":
        from providers.livekit import LiveKitProvider

        return LiveKitProvider.from_settings()
    raise LookupError(f"unknown provider {name!r}")
