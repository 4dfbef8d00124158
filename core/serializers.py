"""Serializer pieces shared by every app: strict input (unknown fields are an error) and a
bounded JSON-object field."""

from __future__ import annotations

import json
from collections.abc import Mapping

from rest_framework import serializers


class StrictInputSerializer(serializers.Serializer):
    """Input serializer that rejects fields it does not declare, so a client cannot believe it
    set `status` or a provider id when nothing happened (mass assignment, S3)."""

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(
                    {name: [serializers.ErrorDetail("Unknown field.", code="unknown_field")] for name in unknown}
                )
        return super().to_internal_value(data)


class JSONObjectField(serializers.JSONField):
    """A JSON object of bounded encoded size."""

    default_error_messages = {
        "not_object": "Must be a JSON object.",
        "too_large": "Must encode to at most {max_bytes} bytes.",
    }

    def __init__(self, *, max_bytes: int = 4096, **kwargs):
        self.max_bytes = max_bytes
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if not isinstance(value, dict):
            self.fail("not_object")
        if len(json.dumps(value, separators=(",", ":")).encode()) > self.max_bytes:
            self.fail("too_large", max_bytes=self.max_bytes)
        return value


IDENTITY_PATTERN = r"^[A-Za-z0-9_.@:+-]{1,128}$"
