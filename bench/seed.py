"""Seed the benchmark's rooms and join links through Convene's public API (as a client would).

A link's secret is only ever returned at creation, as the last path segment of its `url`.
Links get no max_uses, so the benchmark can redeem each of them many times.
"""

from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass

MAX_LINKS_PER_ROOM_CREATE = 50  # RoomInputSerializer's limit on `participants`


@dataclass(frozen=True)
class Seed:
    room_ids: list[str]
    link_secrets: list[str]


def _post(base_url: str, path: str, api_key: str, body: dict) -> dict:
    request = urllib.request.Request(
        base_url + path,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Api-Key {api_key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def seed(*, base_url: str, api_key: str, rooms: int, links_per_room: int) -> Seed:
    """Create `rooms` open rooms with `links_per_room` guest links each (no max_uses, no expiry)."""
    room_ids: list[str] = []
    secrets: list[str] = []
    for room_number in range(rooms):
        first_batch = min(links_per_room, MAX_LINKS_PER_ROOM_CREATE)
        room = _post(
            base_url,
            "/api/v1/rooms",
            api_key,
            {
                "title": f"Bench room {room_number}",
                "participants": [_participant(room_number, n) for n in range(first_batch)],
            },
        )
        room_ids.append(room["id"])
        urls = [link["url"] for link in room["participants"]]
        for n in range(first_batch, links_per_room):
            link = _post(base_url, f"/api/v1/rooms/{room['id']}/invitations", api_key, _participant(room_number, n))
            urls.append(link["url"])
        secrets.extend(url.rstrip("/").rsplit("/", 1)[-1] for url in urls)
    return Seed(room_ids=room_ids, link_secrets=secrets)


def _participant(room_number: int, number: int) -> dict:
    return {"display_name": f"Guest {room_number}-{number}", "role": "guest", "max_uses": None}
