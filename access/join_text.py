"""Every sentence the join page shows, in one place, marked for translation. The template reads
them from here and the page's scripts receive them as JSON; neither holds text of its own."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

# A refused link or room: the error code a redemption would get -> the screen's title and body.
STATE_SCREENS = {
    "not_found": (_("This link does not work"), _("Check that you opened the whole link, or ask for a new one.")),
    "application_inactive": (_("This link does not work"), _("The service that sent it is no longer active.")),
    "link_revoked": (_("This link was cancelled"), _("Ask whoever invited you for a new link.")),
    "identity_revoked": (_("This link was cancelled"), _("Ask whoever invited you for a new link.")),
    "participant_removed": (_("You were removed from this call"), _("You cannot rejoin with this link.")),
    "link_exhausted": (_("This link has been used up"), _("It cannot be used again. Ask for a new link.")),
    "too_late": (_("This link has expired"), _("The time for this call has passed. Ask for a new link.")),
    "room_closed": (_("This call has ended"), _("The room is closed. Nothing more to do here.")),
    "too_early": (_("It is not time yet"), _("This page moves on by itself when the call opens.")),
    "lobby_denied": (_("The host did not let you in"), _("You cannot join this call. Contact whoever invited you.")),
    "throttled": (_("Too many attempts"), _("Please wait a minute, then reload this page.")),
}

PAGE_TEXT = {
    "page_title": _("Join your call"),
    "joining_as": _("You are joining as"),
    "starts_at": _("Starts"),
    "countdown": _("Opens in {time}"),
    "preview_label": _("Your camera preview"),
    "camera": _("Camera"),
    "microphone": _("Microphone"),
    "mic_level": _("Microphone level"),
    "no_device": _("None"),
    "permission_prompt": _("Your browser will ask to use your camera and microphone. Please allow it."),
    "permission_denied": _(
        "Your browser blocked the camera and microphone. Open the site settings (the icon beside the address) "
        "and allow them, then reload. You can also join without them and listen only."
    ),
    "no_camera": _("No camera found: you will join with sound only."),
    "no_microphone": _("No microphone found: others will not hear you."),
    "no_devices": _("No camera or microphone found: you will join to watch and listen only."),
    "consent_title": _("This call may be recorded"),
    "consent_version": _("Notice version {version}"),
    "consent_grant": _("I agree to be recorded"),
    "consent_decline": _("I do not agree"),
    "consent_granted": _("Thank you. You agreed to be recorded."),
    "consent_declined": _("You declined. You can still join; the call will not be recorded."),
    "consent_needed": _("Please answer the recording question before joining."),
    "join": _("Join now"),
    "connecting": _("Connecting…"),
    "waiting_title": _("Waiting for the host"),
    "waiting_body": _("The host knows you are here and will let you in shortly. Keep this page open."),
    "denied_title": _("The host did not let you in"),
    "denied_body": _("You cannot join this call. Contact whoever invited you."),
    "lobby_timeout_title": _("Nobody let you in"),
    "lobby_timeout_body": _("You waited a long time without the host letting you in. Reload to try again."),
    "lobby_title": _("Waiting to join"),
    "lobby_empty": _("Nobody is waiting."),
    "admit": _("Let in"),
    "deny": _("Turn away"),
    "mute": _("Mute"),
    "unmute": _("Unmute"),
    "camera_off": _("Stop camera"),
    "camera_on": _("Start camera"),
    "share_screen": _("Share screen"),
    "stop_share": _("Stop sharing"),
    "leave": _("Leave"),
    "you": _("You"),
    "recording": _("Recording"),
    "reconnecting": _("Connection lost. Reconnecting…"),
    "poor_connection": _("Your connection is weak: video may freeze."),
    "left_title": _("You left the call"),
    "left_body": _("You can close this page, or join again with the same link while it is valid."),
    "removed_title": _("You were removed from this call"),
    "removed_body": _("The host removed you. You cannot rejoin with this link."),
    "ended_title": _("The call has ended"),
    "ended_body": _("The room was closed. You can close this page."),
    "failed_title": _("Could not connect"),
    "failed_body": _("Check your internet connection and try again."),
    "try_again": _("Try again"),
}


def page_text() -> dict[str, str]:
    """The page's sentences as plain strings (translated for the current language), for JSON."""
    return {key: str(value) for key, value in PAGE_TEXT.items()}


def state_text(code: str) -> tuple[str, str]:
    title, body = STATE_SCREENS.get(code, STATE_SCREENS["not_found"])
    return str(title), str(body)
