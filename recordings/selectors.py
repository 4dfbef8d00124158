"""Reads of consent and recordings, scoped to the caller."""

from __future__ import annotations

from django.db.models import QuerySet

from core.errors import NotFound
from core.models import Application
from core.selectors import filter_given
from recordings.models import ConsentDecision, ConsentEvent, ConsentNotice, Recording, RecordingStatus, notice_hash
from rooms.models import PERSON_KINDS, ParticipantSession, RecordingPolicy, Room


def consent_notice_current(*, application: Application) -> ConsentNotice | None:
    return ConsentNotice.objects.filter(application=application).order_by("-version").first()


def consent_notice_list(*, application: Application) -> QuerySet[ConsentNotice]:
    """Every version the application published, newest first."""
    return ConsentNotice.objects.filter(application=application).order_by("-version")


def consent_latest_by_identity(*, room: Room) -> dict[str, ConsentEvent]:
    """Each identity's latest decision in this room (the ledger is small per room)."""
    latest: dict[str, ConsentEvent] = {}
    for event in ConsentEvent.objects.filter(room=room).order_by("id"):
        latest[event.identity] = event
    return latest


def consent_is_active(event: ConsentEvent | None, notice: ConsentNotice | None) -> bool:
    """Granted, and for the notice currently in force (a new version needs a new consent)."""
    return (
        event is not None
        and notice is not None
        and event.decision == ConsentDecision.GRANTED
        and event.notice_version == notice.version
        # Recomputed from the text, so a text changed behind the model's back voids the consent.
        and event.notice_hash == notice_hash(notice.text)
    )


def present_people(*, room: Room) -> list[ParticipantSession]:
    """People connected now according to the event flow: recorders and agents are not people."""
    return list(
        ParticipantSession.objects.filter(
            call_session__room=room,
            call_session__ended_at__isnull=True,
            left_at__isnull=True,
            joined_at__isnull=False,
            connection_aborted=False,
            kind__in=PERSON_KINDS,
        ).order_by("joined_at")
    )


def consent_missing(*, room: Room) -> tuple[list[str], list[ParticipantSession], dict[str, ConsentEvent]]:
    """(identities present without an active consent, the people present, the latest decisions)."""
    notice = consent_notice_current(application=room.application)
    latest = consent_latest_by_identity(room=room)
    people = present_people(room=room)
    missing = sorted({p.identity for p in people if not consent_is_active(latest.get(p.identity), notice)})
    return missing, people, latest


def recording_list(*, applications: QuerySet[Application] | list[Application], room_id=None, status=None):
    recordings = Recording.objects.filter(room__application__in=applications).select_related("room")
    return filter_given(recordings, room_id=room_id, status=status)


def recording_get(*, applications, recording_id) -> Recording:
    recording = (
        Recording.objects.filter(room__application__in=applications, pk=recording_id)
        .select_related("room", "room__application", "call_session")
        .first()
    )
    if recording is None:
        raise NotFound("Recording not found.")
    return recording


def consent_requirement(*, room: Room, identity: str) -> dict:
    """What the join page must ask: is consent needed in this room (always when it may be
    recorded), to which notice, and does this person already have an active one. A recordable room
    without a notice (created before notices were required) still says required, with no notice:
    nobody can consent yet, so nothing can be recorded."""
    recordable = room.recording_policy != RecordingPolicy.OFF
    notice = consent_notice_current(application=room.application) if recordable else None
    if notice is None:
        return {
            "required": recordable,
            "notice_version": None,
            "notice_hash": None,
            "notice_text": None,
            "consented": False,
        }
    latest = ConsentEvent.objects.filter(room=room, identity=identity).order_by("-id").first()
    return {
        "required": True,
        "notice_version": notice.version,
        "notice_hash": notice.text_hash,
        "notice_text": notice.text,
        "consented": consent_is_active(latest, notice),
    }


def room_consents(*, room: Room) -> dict:
    """The room's ledger and each participant's current state."""
    notice = consent_notice_current(application=room.application)
    latest = consent_latest_by_identity(room=room)
    states = [
        {
            "identity": identity,
            "consented": consent_is_active(event, notice),
            "last_decision": event.decision,
            "last_decision_at": event.created_at,
            "notice_version": event.notice_version,
        }
        for identity, event in sorted(latest.items())
    ]
    ledger = list(ConsentEvent.objects.filter(room=room).order_by("id"))
    return {"room_id": room.pk, "notice": notice, "participants": states, "ledger": ledger}


def room_is_recording(*, room: Room) -> bool:
    """Whether the room is being recorded (or about to be), as the join page shows it: a stop
    asked for (ending) already counts as off."""
    return Recording.objects.filter(
        room=room, status__in=(RecordingStatus.REQUESTED, RecordingStatus.STARTING, RecordingStatus.ACTIVE)
    ).exists()
