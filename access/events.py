"""GET /api/v1/join/<secret>/events: the join page's live view of Convene's side of the call, as
server-sent events: recording on or off, the room closing, a waiting guest's admission or denial,
and for hosts who is waiting. Public (the link's secret), rate limited on its own bucket.

Each stream lasts at most CONVENE_JOIN_EVENTS_STREAM_SECONDS and tells the browser to reconnect
after a second (EventSource does): a worker is never held for long, and nothing polls tightly.
"""

from __future__ import annotations

import json
import time
from types import SimpleNamespace

from django.conf import settings
from django.db import connection
from django.http import JsonResponse, StreamingHttpResponse
from django.utils import timezone

from access.models import Invitation, LobbyStatus
from access.selectors import invitation_by_secret
from access.services import lobby_is_host, lobby_list, lobby_touch
from core.errors import ConveneError, Gone, error_body
from core.throttling import FAILED_STATUSES, JoinEventsThrottle
from recordings.selectors import room_is_recording
from rooms.models import Room

CHECK_INTERVAL_SECONDS = 0.5
HEARTBEAT_EVERY = 4  # checks: a comment line every 2 s while nothing changes
FINAL_LOBBY_STATES = (LobbyStatus.DENIED, LobbyStatus.EXPIRED)


def join_events(request, secret: str):
    throttle = JoinEventsThrottle()
    if not throttle.allow_request(request, SimpleNamespace(kwargs={"secret": secret})):
        wait = int(throttle.wait()) + 1
        body = error_body("rate_limited", "Too many requests.", {"retry_after_seconds": wait})
        return JsonResponse(body, status=429, headers={"Retry-After": str(wait)})
    try:
        invitation = invitation_by_secret(secret=secret)
        if invitation.revoked_at is not None:
            raise Gone("This link has been revoked.", code="link_revoked")
    except ConveneError as exc:
        if exc.status_code in FAILED_STATUSES:
            throttle.record_failure()
        return JsonResponse(error_body(exc.code, exc.message, exc.details), status=exc.status_code)
    response = StreamingHttpResponse(_stream(invitation), content_type="text/event-stream")
    response["Cache-Control"] = "no-store"
    response["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
    return response


def join_live_state(*, invitation: Invitation) -> dict:
    """What the page shows of Convene's side right now."""
    room = Room.objects.get(pk=invitation.room_id)
    state = {"recording": room_is_recording(room=room), "room_closed": room.is_closed}
    if room.waiting_room and lobby_is_host(invitation):
        state["lobby"] = [
            {"id": str(entry.pk), "display_name": entry.display_name, "identity": entry.identity}
            for entry in lobby_list(room=room)
        ]
    elif room.waiting_room:
        entry = lobby_touch(invitation=invitation, now=timezone.now())
        state["lobby_entry"] = {"id": str(entry.pk), "status": entry.status} if entry else None
    return state


def _stream(invitation: Invitation):
    try:
        yield from _events(invitation)
    finally:
        # A page that went away ends the stream with a failed write; some servers then skip the
        # response's close() (and with it request_finished): close the connection here. A stream
        # lasts long enough that keeping it open for the next request saves nothing.
        connection.close()


def _events(invitation: Invitation):
    yield "retry: 1000\n\n"
    deadline = time.monotonic() + settings.CONVENE_JOIN_EVENTS_STREAM_SECONDS
    last, quiet = None, 0
    while True:
        state = join_live_state(invitation=invitation)
        if state != last:
            yield f"event: state\ndata: {json.dumps(state, separators=(',', ':'))}\n\n"
            last, quiet = state, 0
        elif (quiet := quiet + 1) % HEARTBEAT_EVERY == 0:
            yield ":\n\n"  # a comment: writing it finds out when the page has gone, ending the stream
        entry = state.get("lobby_entry") or {}
        if state["room_closed"] or entry.get("status") in FINAL_LOBBY_STATES or time.monotonic() >= deadline:
            return
        time.sleep(CHECK_INTERVAL_SECONDS)
