"""Serving a local recording file with HTTP range support, so browsers can seek in the player."""

from __future__ import annotations

import re
from pathlib import Path

from django.http import FileResponse, HttpResponse, StreamingHttpResponse

from core.errors import NotFound
from recordings.storage import content_type

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
CHUNK = 64 * 1024


def _file_chunks(path: Path, start: int, length: int):
    with path.open("rb") as handle:
        handle.seek(start)
        remaining = length
        while remaining > 0:
            chunk = handle.read(min(CHUNK, remaining))
            if not chunk:
                return
            remaining -= len(chunk)
            yield chunk


def _requested_range(header: str, size: int) -> tuple[int, int] | None:
    """(start, end inclusive) of a single satisfiable range, None for no/unsupported ranges;
    raises ValueError for an unsatisfiable one."""
    match = _RANGE.match(header.strip())
    if not match or (not match.group(1) and not match.group(2)):
        return None
    first, last = match.group(1), match.group(2)
    if not first:  # suffix range: the last N bytes
        length = min(int(last), size)
        if length == 0:
            raise ValueError("empty suffix range")
        return size - length, size - 1
    start, end = int(first), min(int(last) if last else size - 1, size - 1)
    if start >= size or start > end:
        raise ValueError("unsatisfiable range")
    return start, end


def ranged_file_response(request, path: Path) -> HttpResponse:
    if not path.is_file():
        raise NotFound("The recording file is missing.")
    size, media_type = path.stat().st_size, content_type(path.name)
    try:
        wanted = _requested_range(request.headers.get("Range", ""), size)
    except ValueError:
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
        return response
    if wanted is None:
        response = FileResponse(path.open("rb"), content_type=media_type)
    else:
        start, end = wanted

        response = StreamingHttpResponse(
            _file_chunks(path, start, end - start + 1), status=206, content_type=media_type
        )
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
        response["Content-Length"] = str(end - start + 1)
    response["Accept-Ranges"] = "bytes"
    response["Cache-Control"] = "private, no-store"
    return response
