"""Join links, join tokens, roles, waiting rooms, removals, and the join page with its public
/join/{secret}... endpoints (access/)."""

from __future__ import annotations

import json

from config.settings.env import env

CONVENE_JOIN_URL_TEMPLATE = env.str("CONVENE_JOIN_URL_TEMPLATE", default="{public_url}/join/{secret}")
CONVENE_TOKEN_TTL_SECONDS = env.int("CONVENE_TOKEN_TTL_SECONDS", default=600)  # a join token's lifetime

# Join limits (token buckets per client address, shared through Redis): successful joins, and
# separately failed attempts (unknown or refused links) per client address and per link.
CONVENE_JOIN_RATE_LIMIT = env.str("CONVENE_JOIN_RATE_LIMIT", default="30/min")
CONVENE_JOIN_FAILURE_LIMIT = env.str("CONVENE_JOIN_FAILURE_LIMIT", default="10/min")
CONVENE_JOIN_LINK_FAILURE_LIMIT = env.str("CONVENE_JOIN_LINK_FAILURE_LIMIT", default="30/min")
# The join page's event stream: opened per client address at most this often, each lasting this
# many seconds before the browser reconnects (it bounds how long a web worker is held).
CONVENE_JOIN_EVENTS_RATE_LIMIT = env.str("CONVENE_JOIN_EVENTS_RATE_LIMIT", default="120/min")
CONVENE_JOIN_EVENTS_STREAM_SECONDS = env.int("CONVENE_JOIN_EVENTS_STREAM_SECONDS", default=25)
# The join page reports a batch every few seconds (more when something happens); bodies up to 16 KB.
CONVENE_TELEMETRY_RATE_LIMIT = env.str("CONVENE_TELEMETRY_RATE_LIMIT", default="30/min")
CONVENE_TELEMETRY_MAX_BYTES = env.int("CONVENE_TELEMETRY_MAX_BYTES", default=16 * 1024)

# Waiting rooms: links of these roles admit guests (and never wait); a guest waits at most
# CONVENE_LOBBY_WAIT_SECONDS, and leaves the lobby when their page stops listening for that long.
CONVENE_LOBBY_HOST_ROLES = env.list("CONVENE_LOBBY_HOST_ROLES", default=["host"])
CONVENE_LOBBY_WAIT_SECONDS = env.int("CONVENE_LOBBY_WAIT_SECONDS", default=900)
CONVENE_LOBBY_PRESENCE_SECONDS = env.int("CONVENE_LOBBY_PRESENCE_SECONDS", default=45)

# A removal the media server did not confirm is retried with backoff until it succeeds or the room
# closes; the sweep that rings for due retries runs this often.
CONVENE_REMOVAL_RETRY_BASE_SECONDS = env.float("CONVENE_REMOVAL_RETRY_BASE_SECONDS", default=5.0)
CONVENE_REMOVAL_RETRY_MAX_SECONDS = env.float("CONVENE_REMOVAL_RETRY_MAX_SECONDS", default=300.0)
CONVENE_REMOVAL_SWEEP_INTERVAL_SECONDS = env.int("CONVENE_REMOVAL_SWEEP_INTERVAL_SECONDS", default=15)

# What each role may do in the media room. Never roomAdmin / roomRecord / roomCreate: moderation
# goes through Convene's API, and a browser token must not carry server rights.
DEFAULT_ROLES = {
    "host": {
        "can_publish": True,
        "can_subscribe": True,
        "can_publish_data": True,
        "publish_sources": ["camera", "microphone", "screen_share", "screen_share_audio"],
        "hidden": False,
    },
    "guest": {
        "can_publish": True,
        "can_subscribe": True,
        "can_publish_data": True,
        "publish_sources": ["camera", "microphone", "screen_share", "screen_share_audio"],
        "hidden": False,
    },
    "observer": {
        "can_publish": False,
        "can_subscribe": True,
        "can_publish_data": False,
        "publish_sources": [],
        "hidden": True,
    },
}
# A JSON role table in the shape of DEFAULT_ROLES, replacing it.
CONVENE_ROLES = (
    json.loads(env.str("CONVENE_ROLES", default="")) if env.str("CONVENE_ROLES", default="") else DEFAULT_ROLES
)
