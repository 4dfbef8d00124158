"""Limit/offset pagination for every list endpoint: {count, next, previous, results}."""

from rest_framework.pagination import LimitOffsetPagination
from rest_framework.response import Response


class Pagination(LimitOffsetPagination):
    default_limit = 50
    max_limit = 200


def paginated_response(request, view, rows, serializer_class) -> Response:
    """The page of `rows` (a queryset or a list) the request asks for, each row serialized by
    `serializer_class`: a list endpoint's response (core.schema.list_schema describes it)."""
    paginator = Pagination()
    page = paginator.paginate_queryset(rows, request, view=view)
    return paginator.get_paginated_response(serializer_class(page, many=True).data)
