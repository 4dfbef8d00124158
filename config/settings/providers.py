"""Media servers (providers/): LiveKit, Janus, and the STUN/TURN servers given to browsers."""

from __future__ import annotations

import ipaddress

from django.core.exceptions import ImproperlyConfigured

from config.settings.base import DEBUG
from config.settings.env import VAR_DIR, env, secret

# Which provider a room gets when its creator names none: livekit or janus.
CONVENE_DEFAULT_PROVIDER = env.str("CONVENE_DEFAULT_PROVIDER", default="livekit")

DEV_LIVEKIT_API_KEY = "devkey"
DEV_LIVEKIT_API_SECRET = "secret"  # what `livekit-server --dev` uses

LIVEKIT_URL = env.str("LIVEKIT_URL", default="http://localhost:7880" if DEBUG else "")
LIVEKIT_CLIENT_URL = env.str("LIVEKIT_CLIENT_URL", default="")  # what browsers use, when different
LIVEKIT_API_KEY = secret("LIVEKIT_API_KEY", DEV_LIVEKIT_API_KEY if DEBUG else "")
LIVEKIT_API_SECRET = secret("LIVEKIT_API_SECRET", DEV_LIVEKIT_API_SECRET if DEBUG else "")
LIVEKIT_TIMEOUT_SECONDS = env.float("LIVEKIT_TIMEOUT_SECONDS", default=5.0)


def _key_pairs(value: str) -> dict[str, str]:
    pairs = dict(item.split(":", 1) for item in value.split(",") if ":" in item)
    return {key.strip(): secret_.strip() for key, secret_ in pairs.items() if key.strip() and secret_.strip()}


# Webhooks are accepted when signed with the main key or any extra "key:secret" pair (rotation).
LIVEKIT_WEBHOOK_EXTRA_KEYS = _key_pairs(secret("LIVEKIT_WEBHOOK_EXTRA_KEYS"))
LIVEKIT_WEBHOOK_KEYS = {LIVEKIT_API_KEY: LIVEKIT_API_SECRET, **LIVEKIT_WEBHOOK_EXTRA_KEYS}

# Janus (self-hosted SFU): configured when JANUS_URL (its HTTP API, e.g. http://127.0.0.1:8088/janus) is set.
DEV_JANUS_SECRET = "janus-development-only"  # `make run`'s private Janus; refused in production
JANUS_URL = env.str("JANUS_URL", default="").rstrip("/")
JANUS_CLIENT_URL = env.str("JANUS_CLIENT_URL", default="").rstrip("/")  # what browsers use, when different
JANUS_ADMIN_KEY = secret("JANUS_ADMIN_KEY", DEV_JANUS_SECRET + "-admin" if DEBUG else "")
JANUS_API_SECRET = secret("JANUS_API_SECRET")  # the core api_secret, when Janus has one
JANUS_TOKEN_SECRET = secret("JANUS_TOKEN_SECRET", DEV_JANUS_SECRET + "-token" if DEBUG else "")
JANUS_WEBHOOK_USER = env.str("JANUS_WEBHOOK_USER", default="janus")
JANUS_WEBHOOK_PASSWORD = secret("JANUS_WEBHOOK_PASSWORD", DEV_JANUS_SECRET + "-webhook" if DEBUG else "")
# Addresses or networks Janus's event handler posts from; anything else gets 403.
JANUS_WEBHOOK_ALLOW_IPS = env.list("JANUS_WEBHOOK_ALLOW_IPS", default=["127.0.0.1", "::1"])
for _network in JANUS_WEBHOOK_ALLOW_IPS:
    try:
        ipaddress.ip_network(_network, strict=False)
    except ValueError:
        raise ImproperlyConfigured(f"JANUS_WEBHOOK_ALLOW_IPS: {_network!r} is not an address or network") from None
# Janus's rec_dir root (one folder per recording), shared with Convene's workers.
JANUS_RECORDING_DIR = env.str("JANUS_RECORDING_DIR", default=str(VAR_DIR / "janus-recordings"))
JANUS_TIMEOUT_SECONDS = env.float("JANUS_TIMEOUT_SECONDS", default=5.0)

# STUN/TURN servers given to browsers (providers/ice.py): stun:/stuns:/turn:/turns: URLs;
# TURN_SECRET: coturn's static-auth-secret (use-auth-secret). A TURN credential must outlive the
# call, not only the join: coturn checks its expiry again on every allocation refresh.
TURN_URLS = env.list("TURN_URLS", default=[])
TURN_SECRET = secret("TURN_SECRET")
TURN_TTL_SECONDS = env.int("TURN_TTL_SECONDS", default=12 * 3600)
