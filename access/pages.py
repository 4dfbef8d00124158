"""The browser join page, GET /join/<secret>: a refused link gets its screen from the server; a
usable one gets the pre-join page, whose scripts redeem the link and connect. It mints nothing.

Served with a strict Content-Security-Policy (scripts, styles and fonts only from Convene's static
files; connections only to Convene and the media server) and Referrer-Policy: no-referrer, so the
secret in the address never leaves in a Referer header.
"""

from __future__ import annotations

from types import SimpleNamespace
from urllib.parse import urlsplit

from csp.decorators import csp
from django.conf import settings
from django.contrib.staticfiles import finders
from django.core import checks
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from access.join_text import page_text, state_text
from access.models import Invitation
from access.roles import role_grants
from access.selectors import invitation_by_secret
from access.services import invitation_assert_usable
from core.errors import ConveneError, NotFound
from core.throttling import JoinRateThrottle
from providers.registry import configured_providers
from recordings.selectors import consent_requirement

# The browser libraries scripts/bootstrap.sh installs into the static files, by provider.
VENDOR_FILES = {"livekit": "join/vendor/livekit-client.umd.js", "janus": "join/vendor/janus.js"}


@checks.register(checks.Tags.staticfiles)
def check_join_page_libraries(app_configs, **kwargs):
    """The page of a room on a provider whose library is missing cannot connect: say so at start."""
    return [
        checks.Warning(
            f"The join page's {provider} library ({path}) is not in the static files: join pages of "
            f"{provider} rooms cannot connect. Run scripts/bootstrap.sh (before collectstatic).",
            id="convene.W101",
        )
        for provider, path in VENDOR_FILES.items()
        if provider in configured_providers() and finders.find(path) is None
    ]


def media_server_origins() -> list[str]:
    """Where the page's provider adapters connect: each media server's origin, over HTTP(S) and
    WebSocket (LiveKit signals over wss://, Janus over https://)."""
    origins = []
    janus = settings.JANUS_CLIENT_URL or settings.JANUS_URL
    for url in (settings.LIVEKIT_CLIENT_URL or settings.LIVEKIT_URL, janus):
        parts = urlsplit(url or "")
        if parts.scheme not in ("http", "https", "ws", "wss") or not parts.netloc:
            continue
        secure = parts.scheme in ("https", "wss")
        origins += [
            f"{'https' if secure else 'http'}://{parts.netloc}",
            f"{'wss' if secure else 'ws'}://{parts.netloc}",
        ]
    return origins


def join_page_policy() -> dict:
    """The page's Content-Security-Policy directives (django-csp's per-view form): nothing inline,
    nothing third-party."""
    self_only = ["'self'"]
    return {
        "default-src": ["'none'"],
        "script-src": self_only,
        "style-src": self_only,
        "font-src": self_only,
        "img-src": ["'self'", "data:", "blob:"],
        "media-src": ["'self'", "blob:", "mediastream:"],
        "connect-src": ["'self'", *media_server_origins()],
        "worker-src": ["'self'", "blob:"],
        "base-uri": ["'none'"],
        "form-action": ["'none'"],
        "frame-ancestors": ["'none'"],
    }


def join_page(request, secret: str):
    response = _join_page(request, secret)
    response["Referrer-Policy"] = "no-referrer"
    response["Cache-Control"] = "no-store"
    response["X-Robots-Tag"] = "noindex"
    return csp(join_page_policy())(lambda: response)()


def _join_page(request, secret: str):
    # The page tells whether a link exists, so guessing through it is limited like the join API.
    # Only an unknown link counts as a failed attempt: a known one proves the secret was given out.
    throttle = JoinRateThrottle()
    if not throttle.allow_request(request, SimpleNamespace(kwargs={"secret": secret})):
        response = _state_screen(request, code="throttled", status=429)
        response["Retry-After"] = str(int(throttle.wait()) + 1)
        return response
    invitation = None
    try:
        invitation = invitation_by_secret(secret=secret)
        invitation_assert_usable(invitation=invitation, now=timezone.now())
    except ConveneError as exc:
        if isinstance(exc, NotFound):
            throttle.record_failure()
        return _state_screen(request, code=exc.code, status=exc.status_code, invitation=invitation, details=exc.details)
    return render(request, "access/join.html", _context(invitation, secret=secret, state="joinable"))


def _state_screen(request, *, code: str, status: int, invitation: Invitation | None = None, details=None):
    title, body = state_text(code)
    context = {"state": code, "title": title, "body": body, "text": page_text(), "details": details or {}}
    if invitation is not None and code == "too_early":
        context.update(_context(invitation, secret=None, state=code))
        context["config"]["join_allowed_from"] = details.get("join_allowed_from")
    return render(request, "access/join.html", context, status=status)


def _context(invitation: Invitation, *, secret: str | None, state: str) -> dict:
    room = invitation.room
    grants = role_grants(invitation.role)
    config = {
        "state": state,
        "provider": room.provider,
        "display_name": invitation.display_name,
        "role": invitation.role,
        "can_publish": grants.can_publish,
        "publish_sources": list(grants.publish_sources),
        "room_title": room.title,
        "opens_at": room.opens_at.isoformat() if room.opens_at else None,
        "text": page_text(),
    }
    if secret is not None:
        config["api"] = reverse("join", kwargs={"secret": secret})
        config["consent"] = consent_requirement(room=room, identity=invitation.identity)
    return {"state": state, "text": page_text(), "invitation": invitation, "room": room, "config": config}
