"""Which webhook URLs Convene may post to (SSRF guard), decided at creation and again before
every attempt (a name can be re-pointed after it was checked: DNS rebinding).

Refused unless CONVENE_WEBHOOK_ALLOW_PRIVATE_URLS: plain http:// outside DEBUG, and any name
that resolves to an address that is not globally routable (loopback, private, link-local with
the cloud metadata address, carrier-grade NAT, multicast, reserved, unspecified). Nothing here
sends a request; the one network use is name resolution, through `resolve` (stubbed in tests).
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings

from core.errors import ConveneError


class UrlRefused(ConveneError):
    code = "url_not_allowed"
    message = "This webhook URL is not allowed."


def resolve(host: str, port: int) -> list[str]:
    """Every address the name resolves to (the system resolver; /etc/hosts included)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


def _target(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UrlRefused("The URL must be http(s)://host/...", details={"reason": "scheme"})
    if parts.username or parts.password:
        raise UrlRefused("The URL must not carry credentials.", details={"reason": "credentials"})
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise UrlRefused("The URL's port is not valid.", details={"reason": "port"}) from None
    return parts.scheme, parts.hostname, port


def _non_global(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def url_check(url: str) -> tuple[str, int, list[str]]:
    """(host, port, addresses to connect to) for an allowed URL; UrlRefused otherwise. With
    private URLs allowed nothing is resolved here (the connection resolves as usual)."""
    scheme, host, port = _target(url)
    if settings.CONVENE_WEBHOOK_ALLOW_PRIVATE_URLS:
        return host, port, [host]
    if scheme != "https" and not settings.DEBUG:
        raise UrlRefused("Webhook URLs must be https://.", details={"reason": "https_required"})
    try:
        addresses = resolve(host, port)
    except (OSError, UnicodeError):
        raise UrlRefused("The URL's host name does not resolve.", details={"reason": "unresolvable"}) from None
    if not addresses:
        raise UrlRefused("The URL's host name does not resolve.", details={"reason": "unresolvable"})
    if any(_non_global(address) for address in addresses):
        raise UrlRefused(
            "The URL points at a private, loopback, link-local or reserved address.",
            details={"reason": "private_address"},
        )
    return host, port, addresses
