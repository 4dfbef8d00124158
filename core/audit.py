"""Who did an audited action and from where: the AuditContext every service that writes an audit
row takes instead of the HTTP request. Views and the admin build it once per request
(AuditContext.from_request); tasks and commands name the system (AuditContext.system)."""

from __future__ import annotations

from dataclasses import dataclass

from core.clientip import request_ip
from core.models import ActorType


@dataclass(frozen=True, slots=True)
class AuditContext:
    """The actor, client address, request id and user agent an audit row (and a consent event)
    records. Services never see the request itself."""

    actor_type: str
    actor_id: str = ""
    ip: str | None = None
    request_id: str = ""
    user_agent: str = ""

    @classmethod
    def from_request(cls, request) -> AuditContext:
        """For views and the admin only: whoever made the request (an application's key, a user,
        or anonymous), its client address (core.clientip.request_ip) and request id."""
        actor_type, actor_id = actor_of(request)
        return cls(
            actor_type=actor_type,
            actor_id=actor_id,
            ip=request_ip(request),
            request_id=getattr(request, "request_id", ""),
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
        )

    @classmethod
    def system(cls, actor_id: str = "") -> AuditContext:
        """Convene itself (a task, a command, a schedule); actor_id names which part, if any."""
        return cls(actor_type=ActorType.SYSTEM, actor_id=actor_id)


SYSTEM = AuditContext.system()


def actor_of(request) -> tuple[str, str]:
    """(actor_type, actor_id) of whoever made the request."""
    user = getattr(request, "user", None)
    application = getattr(user, "application", None)
    if application is not None:
        return ActorType.APPLICATION, str(application.pk)
    if user is not None and getattr(user, "is_authenticated", False):
        return ActorType.USER, str(user.pk)
    return ActorType.ANONYMOUS, ""
