"""Test helpers that build and sign webhooks exactly as the LiveKit server sends them.

Modelled on livekit/protocol `webhook/url_notifier.go` (`send`) and
`auth/accesstoken.go` (`ToJWT`), and on livekit-server `pkg/telemetry/events.go`
(`NotifyEvent`):

- the body is `protojson.Marshal(event)`: lowerCamelCase names, zero values
  omitted, int64 as strings, enums as names, fields in .proto declaration order;
- the `Authorization` header is a bare JWT (no "Bearer "), HS256, `iss` = API
  key, `nbf` = `iat` = now, `exp` = now + 5 minutes, and a `sha256` claim: the
  base64 (standard, padded) SHA-256 of the body bytes. There is no `sub` and no
  `video` grant: Go omits both when empty.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from livekit.protocol.webhook import WebhookEvent

WEBHOOK_CONTENT_TYPE = "application/webhook+json"
WEBHOOK_USER_AGENT = "LiveKit"
# shortuuid's default alphabet, used by livekit/protocol `utils/guid`
GUID_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

FieldValue = Message | Mapping[str, Any] | str | int


def new_guid(prefix: str) -> str:
    """An id shaped like the server's `guid.New(prefix)`: prefix + 12 characters."""
    return prefix + "".join(secrets.choice(GUID_ALPHABET) for _ in range(12))


def protojson_dumps(message: Message, *, use_proto_names: bool = False, emit_unpopulated: bool = False) -> str:
    """Serialize like Go's `protojson.MarshalOptions{UseProtoNames, EmitUnpopulated}`.

    json_format converts values the same way (int64 as strings, enum names, bytes
    as base64). Only the layout differs, and it matters because a webhook signature
    covers the raw bytes: Go keeps declaration order (Python sorts by field number),
    sorts map keys, writes `null` for unset messages when emitting unpopulated
    fields, and is compact. Go sometimes adds a space after a comma to stop byte
    comparisons; the compact form below is its plain one.
    """
    data = json_format.MessageToDict(
        message, preserving_proto_field_name=use_proto_names, always_print_fields_with_no_presence=emit_unpopulated
    )
    ordered = _ordered(message, data, use_proto_names, emit_unpopulated)
    return json.dumps(ordered, separators=(",", ":"), ensure_ascii=False)


def _ordered(message: Message, data: dict[str, Any], proto_names: bool, unpopulated: bool) -> dict[str, Any]:
    if message.DESCRIPTOR.full_name.startswith("google.protobuf."):
        return data  # well-known types have their own JSON form
    out: dict[str, Any] = {}
    for field in message.DESCRIPTOR.fields:  # declaration order (order.IndexOrder)
        key = field.name if proto_names else field.json_name
        if key in data:
            value = getattr(message, field.name)
            out[key] = _ordered_value(field, value, data[key], proto_names, unpopulated)
        elif unpopulated and _is_plain_message(field):
            out[key] = None
    return out


def _ordered_value(field: FieldDescriptor, value: Any, data: Any, proto_names: bool, unpopulated: bool) -> Any:
    if field.message_type is None:
        return data
    if field.message_type.GetOptions().map_entry:
        # Go sorts entries by the real key (JSON keys are only their strings).
        value_field = field.message_type.fields_by_name["value"]
        return {
            _json_key(key): _ordered_value(value_field, value[key], data[_json_key(key)], proto_names, unpopulated)
            for key in sorted(value)
        }
    if field.is_repeated:
        return [
            _ordered(item, item_data, proto_names, unpopulated) for item, item_data in zip(value, data, strict=True)
        ]
    return _ordered(value, data, proto_names, unpopulated)


def _json_key(key: object) -> str:
    return str(key).lower() if isinstance(key, bool) else str(key)


def _is_plain_message(field: FieldDescriptor) -> bool:
    """A singular message outside any oneof: Go writes null when it is unset."""
    return field.message_type is not None and not field.is_repeated and field.containing_oneof is None


def webhook_body(event: str, **fields: FieldValue) -> bytes:
    """Build a body as the server does: `webhook_body("room_started", room=room)`.

    `fields` are WebhookEvent fields by proto name (`room`, `participant`, `track`,
    `egress_info`, `ingress_info`, `id`, `created_at`, ...); a message field takes
    a message or a dict in proto JSON form. `id` ("EV_...") and `created_at`
    (seconds) default to fresh values, as `NotifyEvent` sets them.
    """
    msg = WebhookEvent(event=event, id=new_guid("EV_"), created_at=int(time.time()))
    for name, value in fields.items():
        _set_field(msg, name, value)
    return protojson_dumps(msg).encode()


def _set_field(msg: WebhookEvent, name: str, value: FieldValue) -> None:
    field = WebhookEvent.DESCRIPTOR.fields_by_name.get(name)
    if field is None:
        raise TypeError(f"WebhookEvent has no field {name!r}")
    if field.message_type is None:
        setattr(msg, name, value)
    elif isinstance(value, Message):
        getattr(msg, name).CopyFrom(value)
    else:
        json_format.ParseDict(dict(value), getattr(msg, name))


def sign_webhook(
    body: bytes,
    api_key: str,
    api_secret: str,
    *,
    valid_for: timedelta = timedelta(minutes=5),
    now: datetime | None = None,
) -> str:
    """The `Authorization` header value the server sends with `body`: a bare JWT."""
    # jwt.NewNumericDate truncates to whole seconds
    issued = int((now or datetime.now(UTC)).timestamp())
    digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
    # Go's field order (RegisteredClaims, then ClaimGrants): with PyJWT's sorted
    # header, the token is byte-identical to the server's for the same second.
    claims = {
        "iss": api_key,
        "exp": issued + int(valid_for.total_seconds()),
        "nbf": issued,
        "iat": issued,
        "sha256": digest,
    }
    return jwt.encode(claims, api_secret, algorithm="HS256")


def webhook_headers(body: bytes, api_key: str, api_secret: str) -> dict[str, str]:
    """All the headers the server sends with a webhook POST."""
    return {
        "Authorization": sign_webhook(body, api_key, api_secret),
        "Content-Type": WEBHOOK_CONTENT_TYPE,
        "User-Agent": WEBHOOK_USER_AGENT,
    }
