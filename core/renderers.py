"""JSON responses in ASCII: anything a client sent (even a lone surrogate in a field name that an
error echoes back) is escaped rather than failing to encode."""

from rest_framework.renderers import JSONRenderer


class AsciiJSONRenderer(JSONRenderer):
    ensure_ascii = True
