"""Post-processing per-track recordings (Janus): once the media server has written a recording's
raw .mjr files, make one composite file of the call, probe it, store it, and only then delete the
raw files.

The row says what is pending, so nothing is lost if a worker dies mid-way: a recording stays
`ending` with its `source_dir` until the composite is stored; a run holds a lease
(processing_started_at) that the sweep breaks once it is older than the longest run could take.
Every step can be repeated: the composite is rebuilt from the raw files and stored over any earlier
copy; raw files are deleted only after the row says complete.
"""

from __future__ import annotations

import logging
import tempfile
import time
from datetime import timedelta
from enum import StrEnum
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from recordings import composite, storage
from recordings.models import Recording, RecordingStatus
from recordings.services.recording import recording_report_status, recording_retention_fill, recording_transition

logger = logging.getLogger(__name__)

MAX_ATTEMPTS_WITHOUT_FILES = 3  # a shared folder may show the files a little after Janus closed them
MAX_ATTEMPTS = 8  # runs that died or were deferred (storage down) before the recording is given up
LEASE_MARGIN = timedelta(minutes=5)


class PostprocessOutcome(StrEnum):
    """What one post-processing run did (the task's result, for logs and tests; never stored)."""

    COMPLETE = "complete"  # the composite is stored and the recording complete
    FAILED = "failed"  # the recording failed (the raw files are kept)
    NOT_PENDING = "not_pending"
    SOURCES_DELETED = "sources_deleted"


class ProcessingDeferred(Exception):
    """Try again later: the raw files are not visible yet, or storage could not be reached."""


def processing_lease() -> timedelta:
    return timedelta(seconds=settings.RECORDING_PROCESS_TIMEOUT_SECONDS) + LEASE_MARGIN


def _pending(now) -> Q:
    return (
        Q(status=RecordingStatus.ENDING, deleted_at__isnull=True)
        & ~Q(source_dir="")
        & (Q(processing_started_at__isnull=True) | Q(processing_started_at__lt=now - processing_lease()))
    )


def recording_postprocess(*, recording_id) -> PostprocessOutcome:
    """Make, store and record the composite of one per-track recording (task entry). Returns what
    happened: complete, failed, not_pending (another run has it, or it is not per-track and
    ending), or sources_deleted (a finished one whose raw files were still there)."""
    now = timezone.now()
    claimed = Recording.objects.filter(_pending(now), pk=recording_id).update(
        processing_started_at=now, processing_attempts=F("processing_attempts") + 1
    )
    if not claimed:
        return _delete_sources_if_done(recording_id)
    recording = Recording.objects.select_related("room__application").get(pk=recording_id)
    if recording.processing_attempts > MAX_ATTEMPTS:
        _finish(recording, failed=f"gave up after {MAX_ATTEMPTS} attempts (the raw files are kept)")
        return PostprocessOutcome.FAILED
    try:
        outcome = _make_and_store(recording)
    except composite.ToolFailed as exc:
        _finish(recording, failed=str(exc))
        logger.warning("recording post-processing failed recording=%s tool=%s", recording.pk, exc.tool)
        return PostprocessOutcome.FAILED
    except ProcessingDeferred:
        Recording.objects.filter(pk=recording.pk).update(processing_started_at=None)
        raise
    _finish(recording, stored=outcome)
    _delete_sources(recording)
    return PostprocessOutcome.COMPLETE


def _make_and_store(recording: Recording) -> tuple[str, composite.Probe]:
    deadline = time.monotonic() + settings.RECORDING_PROCESS_TIMEOUT_SECONDS
    files = composite.raw_files(recording.source_dir, recording.source_prefix)
    if not files:
        if recording.processing_attempts < MAX_ATTEMPTS_WITHOUT_FILES:
            raise ProcessingDeferred("no raw files yet")
        raise composite.ToolFailed("janus-pp-rec", f"no {recording.source_prefix}*.mjr files in the recording folder")
    location = str(Path(recording.location or f"{recording.room_id}/{recording.pk}").with_suffix(".webm"))
    with tempfile.TemporaryDirectory(prefix="convene-composite-") as workdir:
        output = Path(workdir) / "composite.webm"
        tracks = composite.media_tracks(files, deadline=deadline)
        composite.make_composite(tracks, output=output, workdir=Path(workdir), deadline=deadline)
        probed = composite.probe(output, deadline=deadline)
        try:
            storage.for_recording(recording).store(location, output)
        except Exception as exc:  # S3 or a full disk: the raw files are kept and the run repeated
            logger.warning("composite not stored recording=%s error=%s", recording.pk, type(exc).__name__)
            raise ProcessingDeferred("storage unavailable") from exc
    return location, probed


def _finish(recording: Recording, *, stored: tuple[str, composite.Probe] | None = None, failed: str = "") -> None:
    with transaction.atomic():
        locked = Recording.objects.select_for_update().select_related("room__application").get(pk=recording.pk)
        before = locked.status
        if recording_transition(locked, RecordingStatus.FAILED if failed else RecordingStatus.COMPLETE):
            if stored:
                locked.location, probed = stored
                locked.size_bytes, locked.duration_seconds = probed.size_bytes, round(probed.duration_seconds)
            locked.error = locked.error or (f"post-processing: {failed}" if failed else "")
            locked.ended_at = locked.ended_at or timezone.now()
            recording_retention_fill(locked)
        locked.processing_started_at = None
        locked.save()
        recording_report_status(locked, before=before)  # recording.ready / recording.failed
    logger.info("recording post-processed recording=%s status=%s", locked.pk, locked.status)


def _delete_sources(recording: Recording) -> None:
    """Raw files go once the composite is stored and the row says so; a failed recording keeps
    them (retention or a delete removes them with the row)."""
    for path in composite.raw_files(recording.source_dir, recording.source_prefix):
        path.unlink(missing_ok=True)
    Recording.objects.filter(pk=recording.pk).update(sources_deleted_at=timezone.now())


def _delete_sources_if_done(recording_id) -> PostprocessOutcome:
    recording = Recording.objects.filter(pk=recording_id).first()
    if recording is None or not recording.source_dir or recording.sources_deleted_at is not None:
        return PostprocessOutcome.NOT_PENDING
    if recording.status == RecordingStatus.COMPLETE or recording.deleted_at is not None:
        _delete_sources(recording)
        return PostprocessOutcome.SOURCES_DELETED
    return PostprocessOutcome.NOT_PENDING


def recording_sources_delete(*, recording: Recording) -> None:
    """Deleting a per-track recording (retention, on demand) removes its raw files too."""
    if recording.source_dir and recording.sources_deleted_at is None:
        _delete_sources(recording)


def recordings_postprocess_sweep(*, now=None) -> int:
    """Periodic: re-ring for recordings whose post-processing was never run or whose run died, and
    for finished ones whose raw files are still there. Returns how many were enqueued."""
    from recordings.tasks import postprocess_recording

    now = now or timezone.now()
    settled = now - timedelta(minutes=1)  # leave a freshly enqueued one to its own task
    waiting = Recording.objects.filter(_pending(now), updated_at__lt=settled)
    leftovers = Recording.objects.filter(
        Q(status=RecordingStatus.COMPLETE) | Q(deleted_at__isnull=False),
        ~Q(source_dir=""),
        sources_deleted_at__isnull=True,
        updated_at__lt=settled,
    )
    ids = list(waiting.values_list("pk", flat=True)) + list(leftovers.values_list("pk", flat=True))
    for recording_id in ids:
        postprocess_recording.apply_async((str(recording_id),))
    return len(ids)
