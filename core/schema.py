"""OpenAPI pieces: the API-key security scheme, paginated list shapes, and a postprocessing hook
that documents the one error shape on every operation and closes request objects to unknown
properties (the API refuses them)."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers

ERROR_STATUSES = {
    "400": "Invalid input (code: invalid, unknown_field, malformed_request, invalid_window, …).",
    "401": "Missing or invalid credentials.",
    "403": "Not allowed (e.g. not_a_reviewer, too_early).",
    "404": "Not found, or not yours.",
    "405": "Method not allowed.",
    "409": "Conflicts with the current state.",
    "410": "No longer available (room_closed, link_revoked, link_exhausted, too_late).",
    "413": "Body too large.",
    "415": "Unsupported media type.",
    "429": "Rate limited.",
    "503": "A dependency is unavailable; retry.",
}
ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "details"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "details": {"type": "object", "additionalProperties": True},
            },
        }
    },
}


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "core.auth.ApiKeyAuthentication"
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": 'Value: "Api-Key <key>" (from `manage.py create_application`).',
        }


def paginated(serializer_class: type[serializers.Serializer]) -> serializers.Serializer:
    """The {count, next, previous, results} page every list endpoint returns."""
    name = serializer_class.__name__.removesuffix("Serializer")
    return inline_serializer(
        name=f"Paginated{name}List",
        fields={
            "count": serializers.IntegerField(),
            "next": serializers.URLField(allow_null=True),
            "previous": serializers.URLField(allow_null=True),
            "results": serializer_class(many=True),
        },
    )


def list_schema(operation_id: str, serializer_class: type[serializers.Serializer], filters=None):
    """extend_schema for a list endpoint (its view answers with core.pagination.paginated_response):
    its query-string filters (a QueryFilterSerializer, limit and offset included) as parameters, the
    page of `serializer_class` rows as the response."""
    return extend_schema(
        operation_id=operation_id, parameters=[filters] if filters else None, responses=paginated(serializer_class)
    )


def document_errors(result, generator, request, public):
    """drf-spectacular postprocessing hook."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["Error"] = ERROR_SCHEMA
    for name, schema in schemas.items():
        if name.endswith("Request") and schema.get("type") == "object":
            schema["additionalProperties"] = False
    error_ref = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation.setdefault("responses", {})
            for status, description in ERROR_STATUSES.items():
                responses.setdefault(status, {"description": description, "content": error_ref})
    return result
