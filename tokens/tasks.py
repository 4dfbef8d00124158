"""Celery entry points for tokens: thin callers of tokens.services."""

from celery import shared_task

from rooms.models import Room
from tokens.services import participant_remove_at_provider


@shared_task(bind=True, name="tokens.remove_revoked_participant", max_retries=5)
def remove_revoked_participant(self, room_id: str, identity: str) -> bool:
    """S5: someone whose link was revoked connected anyway (an old token): remove them again."""
    room = Room.objects.filter(pk=room_id).first()
    if room is None:
        return False
    if not participant_remove_at_provider(room=room, identity=identity):
        raise self.retry(countdown=10 * (self.request.retries + 1))
    return True
