"""Join links (invitations): one person's way into one room, redeemed for short-lived credentials.

The link secret is never stored: only its SHA-256 (the secret has 256 bits of entropy, so a
fast hash is enough), and it is shown once, in the creation response.
"""

from __future__ import annotations

import hashlib
import secrets

from django.db import models

from core.models import BaseModel
from rooms.models import Room


def generate_link_secret() -> str:
    return secrets.token_urlsafe(32)


def hash_link_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def generate_identity() -> str:
    return "p_" + secrets.token_hex(8)


class Invitation(BaseModel):
    """A join link (only the hash of its secret is kept).

    Created through the ORM, but each redemption counts its use with a hand-written UPDATE
    (access/services/links.py, core.orm_bypass) and revocations are QuerySet.update(): a save()
    override or signal would miss every counted use and every revocation. The event flow reads it
    through core.orm_bypass (rooms/services/sessions.py)."""

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="invitations")
    role = models.CharField(max_length=40)
    display_name = models.CharField(max_length=200)
    identity = models.CharField(max_length=128, default=generate_identity)
    metadata = models.CharField(max_length=2000, blank=True)
    secret_hash = models.CharField(max_length=64, unique=True, editable=False)
    max_uses = models.PositiveIntegerField(null=True, blank=True)
    uses = models.PositiveIntegerField(default=0)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["room", "identity"],
                condition=models.Q(revoked_at__isnull=True),
                name="invitation_identity_unique_per_room",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.role} link for {self.identity}"


class RemovalReason(models.TextChoices):
    REMOVED = "removed", "removed by the application"
    LINK_REVOKED = "link_revoked", "the identity's join link was revoked"


class ParticipantRemoval(BaseModel):
    """This identity may not be in this room, and the provider removal that makes it so.

    Barred while lifted_at is null (one such row per room and identity); only an explicit
    readmit lifts it. The provider removal is pending while done_at is null: retried with
    backoff (attempts, next_attempt_at, last_error) until it succeeds or the room closes (the
    room's close at the provider disconnects everyone). A join event of a barred identity makes
    it pending again, with a new requested_at: an attempt started earlier cannot settle it.

    Every join event reads it locked through core.orm_bypass (access/services/removals.py); its
    changes are QuerySet.update() calls, which run no save() and no save signals.
    """

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="removals")
    identity = models.CharField(max_length=128)
    reason = models.CharField(max_length=20, choices=RemovalReason.choices)
    requested_at = models.DateTimeField()
    done_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    lifted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["room", "identity"],
                condition=models.Q(lifted_at__isnull=True),
                name="participant_removal_one_bar_per_identity",
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(done_at__isnull=True, lifted_at__isnull=True),
                name="participant_removal_pending",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.identity} barred from {self.room_id} ({self.reason})"


class LobbyStatus(models.TextChoices):
    """waiting -> admitted | denied | expired; all three are final. A guest who was turned away by
    expiry (nobody decided, or the guest's page stopped listening) may knock again: a new entry."""

    WAITING = "waiting"
    ADMITTED = "admitted"
    DENIED = "denied"
    EXPIRED = "expired"


class LobbyEntry(BaseModel):
    """A guest waiting to be let into a room with a waiting room, and the host's decision.

    An admission lets the link in for the rest of the room's life (a reload or a reconnect does
    not send the guest back to the lobby); a denial keeps it out. last_seen_at is refreshed while
    the guest's page listens for the decision: an entry nobody listens to any more expires."""

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="lobby_entries")
    invitation = models.ForeignKey(Invitation, on_delete=models.CASCADE, related_name="lobby_entries")
    identity = models.CharField(max_length=128)
    display_name = models.CharField(max_length=200)
    status = models.CharField(max_length=10, choices=LobbyStatus.choices, default=LobbyStatus.WAITING)
    last_seen_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.CharField(max_length=80, blank=True)  # "application:<id>", "link:<id>", "expiry"

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["invitation"],
                condition=models.Q(status="waiting"),
                name="lobby_entry_one_waiting_per_link",
            ),
        ]
        indexes = [models.Index(fields=["room", "status"])]

    def __str__(self) -> str:
        return f"{self.identity} {self.status} in {self.room_id}"
