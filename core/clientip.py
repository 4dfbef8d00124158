"""The client's address for audit rows, rate limits and the admin's lockout (`request_ip`): the
connection's address, or the one a trusted proxy appended. Reads the request only; stores nothing."""

from __future__ import annotations

import functools
import ipaddress

from django.conf import settings
from rest_framework.settings import api_settings


def request_ip(request) -> str | None:
    """The client's address, always a valid IP address or None; for audit rows and rate limits.

    REMOTE_ADDR, unless NUM_PROXIES proxies append to X-Forwarded-For and the connection comes
    from one of them (CONVENE_TRUSTED_PROXIES): then the address the outermost of them appended.
    An entry that is not an IP address (a forged or broken header) is not believed: the address
    of the connection is used instead, never an error."""
    if request is None:
        return None
    remote = _ip_or_none(request.META.get("REMOTE_ADDR"))
    num_proxies = api_settings.NUM_PROXIES
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if num_proxies and forwarded and remote is not None and _is_trusted_proxy(remote):
        entries = forwarded.rsplit(",", num_proxies)  # only the entries the proxies appended
        forwarded_ip = _ip_or_none(entries[-min(num_proxies, len(entries))])
        if forwarded_ip is not None:
            return forwarded_ip
    return remote


def _ip_or_none(value: str | None) -> str | None:
    value = (value or "").strip()
    if not value or len(value) > 45:  # the longest textual IPv6 address
        return None
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


@functools.cache
def _trusted_networks(proxies: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] | None:
    """None: every address is trusted ("*")."""
    if "*" in proxies:
        return None
    return tuple(ipaddress.ip_network(proxy, strict=False) for proxy in proxies if proxy)


def _is_trusted_proxy(address: str) -> bool:
    networks = _trusted_networks(tuple(settings.CONVENE_TRUSTED_PROXIES))
    return networks is None or any(ipaddress.ip_address(address) in network for network in networks)
