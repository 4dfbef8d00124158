"""Reconciling with the providers: ask each what is live and repair our session and recording
records to match. Runs on a schedule (reconciler.tasks); reads from providers, never writes to them."""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import transaction
from django.utils import timezone

import providers
from access.selectors import invitation_joined_with
from providers.base import ProviderError
from recordings.services.recording import recordings_reconcile
from rooms.models import Room
from rooms.services import sessions

logger = logging.getLogger(__name__)


def provider_reconcile(*, provider_name: str, now: datetime | None = None) -> dict[str, int]:
    """Ask the provider what is live and repair our session records to match.

    Rooms considered: those the provider reports live, and ours with a session we think is
    open. Each room is repaired in its own transaction; a provider failure stops the run there
    (rooms already repaired stay repaired, the rest wait for the next run).
    """
    now = now or timezone.now()
    provider = providers.get(provider_name)
    live_rooms = {r.name: r for r in provider.list_live_rooms()}
    names = set(live_rooms) | set(
        Room.objects.filter(provider=provider_name, sessions__ended_at__isnull=True).values_list(
            "provider_room_name", flat=True
        )
    )
    totals: dict[str, int] = {"rooms": 0, "recordings_changed": recordings_reconcile(provider_name=provider_name)}
    for room in Room.objects.filter(provider=provider_name, provider_room_name__in=names):
        live = live_rooms.get(room.provider_room_name)
        participants = provider.list_participants(room=room.as_provider_ref()) if live else []
        with transaction.atomic():
            locked = Room.objects.select_for_update().get(pk=room.pk)
            counts = sessions.session_reconcile(
                room=locked,
                live_session_id=live.sid if live else None,
                started_at=live.created_at if live else None,
                participants=participants,
                now=now,
                link_for=invitation_joined_with,
            )
        totals["rooms"] += 1
        for key, value in counts.items():
            totals[key] = totals.get(key, 0) + value
    return totals


def reconcile_all(*, now: datetime | None = None) -> dict[str, dict[str, int] | str]:
    results: dict[str, dict[str, int] | str] = {}
    for name in Room.objects.values_list("provider", flat=True).distinct():
        try:
            results[name] = provider_reconcile(provider_name=name, now=now)
        except ProviderError as exc:
            logger.warning("reconcile skipped provider=%s error=%s", name, exc)
            results[name] = f"skipped: {type(exc).__name__}"
    return results
