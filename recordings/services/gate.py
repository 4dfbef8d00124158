"""The consent gate's own actions in the event flow: a joiner without consent stops the room's
recording; everyone present having consented starts an auto recording. Recording start and stop
themselves (and their audit rows) stay in recordings.services.recording."""

from __future__ import annotations

from django.db import transaction

from core.errors import ConveneError
from providers.base import NeutralEvent
from recordings.models import ACTIVE_RECORDING_STATUSES, Recording, RecordingTrigger, StopReason
from recordings.selectors import consent_missing
from recordings.services.recording import recording_start, recording_stop_for_room
from rooms.models import RecordingPolicy, Room


def recording_auto_start_if_ready(*, room: Room) -> None:
    """Policy auto: once two or more people are present and all have consented, start (after
    commit, in a task that re-checks the gate)."""
    if room.recording_policy != RecordingPolicy.AUTO or room.is_closed:
        return
    if Recording.objects.filter(room=room, status__in=ACTIVE_RECORDING_STATUSES).exists():
        return
    missing, people, _ = consent_missing(room=room)
    if len(people) >= 2 and not missing:
        from recordings.tasks import auto_start_recording

        transaction.on_commit(lambda: auto_start_recording.apply_async((str(room.pk),)), robust=True)


def recording_auto_start(*, room_id) -> str:
    room = Room.objects.filter(pk=room_id).first()
    if room is None or room.recording_policy != RecordingPolicy.AUTO:
        return "not_applicable"
    try:
        recording_start(room=room, trigger=RecordingTrigger.AUTO)
    except ConveneError as exc:
        return exc.code
    return "started"


def recording_gate_on_join(*, room: Room, event: NeutralEvent) -> None:
    """Event flow (participant.joined): a person without an active consent joining a recorded
    room stops the recording; otherwise the join may complete the conditions for auto."""
    if room.recording_policy == RecordingPolicy.OFF:
        return
    if (
        room.recording_policy == RecordingPolicy.ON_DEMAND
        and not Recording.objects.filter(room=room, status__in=ACTIVE_RECORDING_STATUSES).exists()
    ):
        return
    missing, _, _ = consent_missing(room=room)
    if missing:
        recording_stop_for_room(room=room, reason=StopReason.UNCONSENTED_PARTICIPANT)
    else:
        recording_auto_start_if_ready(room=room)
