"""Writes of access: join links and join credentials (links.py), removing participants (removals.py),
the waiting room (lobby.py), the no-show report (attendance.py), a link holder's consent (consent.py)."""

from access.services.attendance import attendance_no_shows_report
from access.services.consent import consent_record_by_link
from access.services.links import (
    IssuedCredentials,
    invitation_assert_usable,
    invitation_create,
    invitation_redeem,
    invitation_revoke,
    invitation_url,
    room_create_with_links,
    token_issue,
)
from access.services.lobby import (
    LobbyWaiting,
    lobby_entry_decide,
    lobby_is_host,
    lobby_list,
    lobby_touch,
)
from access.services.removals import (
    participant_publish_check,
    participant_removal_attempt,
    participant_removal_renew,
    participant_removal_renew_on_join,
    participant_removal_retry,
    participant_removals_due,
    participant_remove,
    participant_remove_at_provider,
)

__all__ = [
    "IssuedCredentials",
    "LobbyWaiting",
    "attendance_no_shows_report",
    "consent_record_by_link",
    "invitation_assert_usable",
    "invitation_create",
    "invitation_redeem",
    "invitation_revoke",
    "invitation_url",
    "lobby_entry_decide",
    "lobby_is_host",
    "lobby_list",
    "lobby_touch",
    "participant_publish_check",
    "participant_removal_attempt",
    "participant_removal_renew",
    "participant_removal_renew_on_join",
    "participant_removal_retry",
    "participant_removals_due",
    "participant_remove",
    "participant_remove_at_provider",
    "room_create_with_links",
    "token_issue",
]
