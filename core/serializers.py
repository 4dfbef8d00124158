"""Serializer pieces shared by every app: strict input (unknown fields are an error) and a
bounded JSON-object field."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils import timezone
from rest_framework import serializers

# Dates outside this range are refused: they mean nothing for a call, and arithmetic on them
# (a window start minus the early-join allowance) would overflow.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


def _json_type_error(field: serializers.Field, value) -> str | None:
    """What is wrong with a JSON value's type for this field (DRF would silently coerce it)."""
    if value is None:
        return None
    if isinstance(field, serializers.BooleanField):
        return None if isinstance(value, bool) else "Must be true or false."
    if isinstance(field, serializers.IntegerField):
        return None if isinstance(value, int) and not isinstance(value, bool) else "Must be an integer."
    if isinstance(field, serializers.CharField | serializers.DateTimeField | serializers.ChoiceField):
        return None if isinstance(value, str) else "Must be a string."
    return None


class StrictInputSerializer(serializers.Serializer):
    """Input serializer that rejects fields it does not declare, so a client cannot believe it
    set `status` or a provider id when nothing happened (mass assignment), and, for JSON
    bodies, values of the wrong JSON type instead of coercing them (query strings are all text:
    their serializers set json_types = False)."""

    json_types = True

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            errors = {
                name: [serializers.ErrorDetail("Unknown field.", code="unknown_field")]
                for name in sorted(set(data) - set(self.fields))
            }
            if self.json_types:
                for name, field in self.fields.items():
                    problem = _json_type_error(field, data.get(name)) if name in data else None
                    if problem:
                        errors[name] = [serializers.ErrorDetail(problem, code="invalid_type")]
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)

    @classmethod
    def validated(cls, data, **kwargs) -> dict[str, Any]:
        """`data` (a body or a query string) validated, or the 400 core.errors renders: what a
        view hands its service."""
        serializer = cls(data=data, **kwargs)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data


class QueryFilterSerializer(StrictInputSerializer):
    """Query-string filters of a list endpoint: unknown parameters are refused, text is
    converted; every such list is paginated (core.pagination), so its limit and offset are here.
    A field's source is the name of the list selector's argument it fills."""

    json_types = False
    limit = serializers.IntegerField(required=False, min_value=1)
    offset = serializers.IntegerField(required=False, min_value=0)

    @classmethod
    def validated(cls, data, **kwargs) -> dict[str, Any]:
        """The filters given, as the list selector's arguments: limit and offset are checked here
        but read by the paginator."""
        filters = super().validated(data, **kwargs)
        filters.pop("limit", None)
        filters.pop("offset", None)
        return filters


class BoundedDateTimeField(serializers.DateTimeField):
    """An ISO 8601 date-time with an explicit offset (`Z` or `+01:00`), within a sane range. A time
    without one (or a date alone) is refused rather than guessed to be UTC: a clinic that sends its
    local wall-clock time would otherwise open the appointment hours off."""

    default_error_messages = {
        "timezone_required": "Must include a time zone offset (e.g. 2026-12-01T09:00:00Z or +01:00).",
    }

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.validators.append(MinValueValidator(EARLIEST))
        self.validators.append(MaxValueValidator(LATEST))

    def enforce_timezone(self, value):
        if timezone.is_naive(value):
            self.fail("timezone_required")
        return super().enforce_timezone(value)


class JSONObjectField(serializers.JSONField):
    """A JSON object of bounded encoded size."""

    default_error_messages = {
        "not_object": "Must be a JSON object.",
        "too_large": "Must encode to at most {max_bytes} bytes.",
        "unstorable": "Must not contain NUL characters or unpaired surrogates.",
    }

    def __init__(self, *, max_bytes: int = 4096, **kwargs):
        self.max_bytes = max_bytes
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if not isinstance(value, dict):
            self.fail("not_object")
        encoded = json.dumps(value, separators=(",", ":"))
        if len(encoded.encode("utf-8", errors="surrogatepass")) > self.max_bytes:
            self.fail("too_large", max_bytes=self.max_bytes)
        if _has_unstorable(value):
            self.fail("unstorable")
        return value


# PostgreSQL's jsonb refuses NUL characters and lone UTF-16 surrogates, which JSON can carry.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _has_unstorable(value) -> bool:
    if isinstance(value, str):
        return bool(_UNSTORABLE.search(value))
    if isinstance(value, dict):
        return any(_has_unstorable(k) or _has_unstorable(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_unstorable(v) for v in value)
    return False


IDENTITY_PATTERN = r"^[A-Za-z0-9_.@:+-]{1,128}$"


class AuditEventSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    actor_type = serializers.CharField()
    actor_id = serializers.CharField()
    action = serializers.CharField()
    object_type = serializers.CharField()
    object_id = serializers.CharField()
    outcome = serializers.CharField()
    ip = serializers.CharField(allow_null=True)
    request_id = serializers.CharField()
    details = serializers.JSONField()


class AuditFilterSerializer(QueryFilterSerializer):
    object_id = serializers.CharField(required=False, max_length=100)
    action = serializers.CharField(required=False, max_length=60)
