"""Every route Convene serves (but the admin's) is shown in docs/api.md, as a curl path or as
`METHOD /path`, so a new endpoint cannot ship undocumented."""

from __future__ import annotations

import re
from pathlib import Path

from django.urls import URLPattern, URLResolver, get_resolver

DOCS = Path(__file__).resolve().parents[2] / "docs" / "api.md"
# A path parameter as docs/api.md writes it: $ROOM, {secret}, <secret>, or an example value (812).
PARAMETER = r"[^/\s\"'`]+"


def _routes(patterns, prefix: str = "") -> list[str]:
    routes = []
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            routes += _routes(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            routes.append(route)
    return routes


def _as_documented(route: str) -> re.Pattern:
    """`api/v1/rooms/<uuid:room_id>/invitations` -> a regex for `/api/v1/rooms/$ROOM/invitations`."""
    parts = re.split(r"<[^>]+>", route.rstrip("$").lstrip("^"))
    return re.compile("/" + PARAMETER.join(re.escape(part) for part in parts) + r"(?![\w/-])")


def served_routes() -> list[str]:
    return sorted(route for route in _routes(get_resolver().url_patterns) if not route.startswith("admin/"))


def test_every_route_is_in_the_api_docs():
    text = DOCS.read_text()
    missing = [route for route in served_routes() if not _as_documented(route).search(text)]
    assert missing == [], f"routes not shown in docs/api.md: {missing}"


def test_the_check_finds_the_routes_and_would_miss_an_undocumented_one():
    routes = served_routes()
    assert "api/v1/rooms/<uuid:room_id>/invitations" in routes
    assert _as_documented("api/v1/rooms/<uuid:room_id>/invitations").search(
        "curl $CONVENE/api/v1/rooms/$ROOM/invitations "
    )
    assert not _as_documented("api/v1/rooms/<uuid:room_id>/invitations").search("$CONVENE/api/v1/rooms/$ROOM/tokens")
    assert not _as_documented("api/v1/rooms").search("$CONVENE/api/v1/rooms/$ROOM")
