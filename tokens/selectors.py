"""Reads of join links, always scoped to the calling application."""

from __future__ import annotations

from django.db.models import QuerySet

from core.errors import NotFound
from core.models import Application
from rooms.models import Room
from tokens.models import Invitation, hash_link_secret


def invitation_get(*, application: Application, invitation_id) -> Invitation:
    invitation = (
        Invitation.objects.select_related("room", "room__application")
        .filter(room__application=application, pk=invitation_id)
        .first()
    )
    if invitation is None:
        raise NotFound("Invitation not found.")
    return invitation


def invitation_list(*, room: Room) -> QuerySet[Invitation]:
    return Invitation.objects.filter(room=room)


def invitation_by_secret(*, secret: str) -> Invitation:
    """The link a secret opens (any state; callers decide what a revoked link may still do)."""
    try:
        return Invitation.objects.select_related("room", "room__application").get(
            secret_hash=hash_link_secret(secret)
        )
    except Invitation.DoesNotExist:
        raise NotFound("This link does not exist.") from None
