"""Celery entry points for recordings: thin callers of recordings.services."""

from celery import shared_task
from django.conf import settings

from recordings.services.gate import recording_auto_start
from recordings.services.postprocess import ProcessingDeferred, recording_postprocess, recordings_postprocess_sweep
from recordings.services.recording import recording_provider_stop
from recordings.services.retention import recordings_delete_expired


@shared_task(bind=True, name="recordings.stop_recording", max_retries=8)
def stop_recording(self, recording_id: str) -> bool:
    if not recording_provider_stop(recording_id=recording_id):
        raise self.retry(countdown=min(60, 2 ** (self.request.retries + 1)))
    return True


@shared_task(name="recordings.auto_start_recording")
def auto_start_recording(room_id: str) -> str:
    return recording_auto_start(room_id=room_id)


@shared_task(name="recordings.delete_expired_recordings")
def delete_expired_recordings() -> dict[str, int]:
    return recordings_delete_expired()


@shared_task(
    bind=True,
    name="recordings.postprocess_recording",
    max_retries=8,
    soft_time_limit=settings.RECORDING_PROCESS_TIMEOUT_SECONDS + 60,
    time_limit=settings.RECORDING_PROCESS_TIMEOUT_SECONDS + 120,
)
def postprocess_recording(self, recording_id: str) -> str:
    try:
        return recording_postprocess(recording_id=recording_id)
    except ProcessingDeferred:
        raise self.retry(countdown=min(300, 2 ** (self.request.retries + 2))) from None


@shared_task(name="recordings.sweep_postprocessing")
def sweep_postprocessing() -> int:
    return recordings_postprocess_sweep()
