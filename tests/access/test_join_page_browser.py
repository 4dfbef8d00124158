"""The join page in a real browser (headless Chromium, fake camera and microphone): every screen,
the preview, refused permissions, the consent step, and the LiveKit adapter reaching the media
server's signalling endpoint with the token Convene minted. Screenshots go to $CONVENE_SCREENSHOTS
when set (to look at them)."""

from __future__ import annotations

import statistics
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from recordings.models import ConsentEvent, Recording, RecordingStatus
from recordings.services.consent import consent_notice_publish
from rooms.models import ConnectionTelemetry, RecordingPolicy, RoomStatus
from tests.browser import RequestLog, chromium, in_thread, screenshot, serious_accessibility_violations
from tests.factories import InvitationFactory, RoomFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _generous_join_limits_and_short_streams(settings, transactional_db, live_server):
    settings.CONVENE_JOIN_RATE_LIMIT = "1000/min"
    settings.CONVENE_JOIN_FAILURE_LIMIT = "1000/min"
    settings.CONVENE_JOIN_EVENTS_STREAM_SECONDS = 1  # pages reconnect after each
    yield
    # The browser is closed by now; let the live server's last event streams end while the
    # database is still open to them.
    time.sleep(settings.CONVENE_JOIN_EVENTS_STREAM_SECONDS + 1)


def open_page(people, live_server, secret: str):
    page = people.new_page()
    page.goto(f"{live_server.url}/join/{secret}")
    return page


def _state_links():
    now = timezone.now()
    scheduled = RoomFactory(status=RoomStatus.SCHEDULED, opens_at=now + timedelta(hours=3), title="Check-up")
    return {
        "link_revoked": InvitationFactory(revoked_at=now).secret,
        "link_exhausted": InvitationFactory(max_uses=1, uses=1).secret,
        "too_late": InvitationFactory(expires_at=now - timedelta(minutes=1)).secret,
        "room_closed": InvitationFactory(room=RoomFactory(status=RoomStatus.CLOSED)).secret,
        "too_early": InvitationFactory(room=scheduled).secret,
        "not_found": "no-such-link",
    }


def test_every_refused_link_has_a_clear_accessible_screen(live_server):
    links = _state_links()
    with chromium() as context:
        for state, secret in links.items():
            page = open_page(context, live_server, secret)
            heading = page.locator("#state-heading")
            assert page.locator(f'[data-state="{state}"]').count() == 1, state
            assert heading.inner_text().strip(), state
            screenshot(page, f"state-{state}")
            assert serious_accessibility_violations(page) == [], state
            page.context.close()


def test_too_early_counts_down_and_moves_on_by_itself(live_server, settings):
    opens_at = timezone.now() + timedelta(minutes=settings.CONVENE_JOIN_EARLY_MINUTES, seconds=3)
    link = InvitationFactory(room=RoomFactory(status=RoomStatus.SCHEDULED, opens_at=opens_at))
    with chromium() as context:
        page = open_page(context, live_server, link.secret)
        assert page.locator('[data-state="too_early"]').count() == 1
        assert "0:0" in page.locator("#countdown").inner_text()
        page.locator("#screen-prejoin").wait_for(state="visible", timeout=10_000)


def test_the_preview_shows_the_camera_lists_devices_and_the_meter_moves(live_server):
    link = InvitationFactory(room=RoomFactory(title="Physio"), display_name="Ana Souza")
    with chromium() as context:
        page = open_page(context, live_server, link.secret)
        page.wait_for_function("() => document.getElementById('preview').videoWidth > 0")
        page.wait_for_function("() => document.getElementById('mic-level').value > 0")
        assert page.locator("#camera-select option").count() >= 1
        assert page.locator("#mic-select option").count() >= 1
        assert "Ana Souza" in page.locator("#prejoin-heading").inner_text()
        assert page.locator("#media-status").is_hidden()
        screenshot(page, "prejoin")
        assert serious_accessibility_violations(page) == []


def test_refused_permission_says_how_to_allow_it_and_still_lets_one_join(live_server):
    link = InvitationFactory()
    with chromium(allow_media=False) as context:
        page = open_page(context, live_server, link.secret)
        status = page.locator("#media-status")
        status.wait_for(state="visible")
        page.wait_for_function("() => document.getElementById('media-status').className === 'error'")
        assert "blocked" in status.inner_text()
        assert page.locator("#join-button").is_enabled()
        screenshot(page, "permission-denied")
        assert serious_accessibility_violations(page) == []


@pytest.mark.parametrize(("button", "decision"), [("#consent-grant", "granted"), ("#consent-decline", "withdrawn")])
def test_the_consent_step_writes_the_decision_to_the_ledger(live_server, button, decision):
    link = InvitationFactory(room=RoomFactory(recording_policy=RecordingPolicy.ON_DEMAND))
    notice, _ = consent_notice_publish(application=link.room.application, text="We record calls for your records.")
    with chromium() as context:
        page = open_page(context, live_server, link.secret)
        assert page.locator("#consent-text").inner_text() == "We record calls for your records."
        page.locator("#join-button").click()
        assert page.locator("#join-error").inner_text()  # answer first
        screenshot(page, "consent")
        assert serious_accessibility_violations(page) == []
        page.locator(button).click()
        page.locator("#consent-status").filter(has_text=".").wait_for()
    event = ConsentEvent.objects.get(room=link.room, identity=link.identity)
    assert event.decision == decision
    assert event.method == "join_page"
    assert event.notice_version == notice.version


def test_joining_a_livekit_room_connects_to_its_signalling_with_the_minted_token(live_server, fake_livekit):
    link = InvitationFactory(room=RoomFactory(title="Video visit"), max_uses=None)
    server_origin = live_server.url
    timings = []
    with chromium() as context:
        for attempt in range(3):
            page = context.new_page()
            requests = RequestLog(page)
            started = time.monotonic()
            page.goto(f"{server_origin}/join/{link.secret}")
            page.wait_for_function("() => document.getElementById('preview').videoWidth > 0")
            page.locator("#join-button").click()
            deadline = time.monotonic() + 10
            while len(fake_livekit.signal_connections) <= attempt and time.monotonic() < deadline:
                time.sleep(0.02)
            timings.append(time.monotonic() - started)
            assert len(fake_livekit.signal_connections) == attempt + 1
            if attempt == 0:
                screenshot(page, "connecting")
            page.context.close()
    telemetry = ConnectionTelemetry.objects.filter(identity=link.identity)
    assert telemetry.count() == 3  # one row per connection attempt, reported as it began
    assert set(telemetry.values_list("provider", flat=True)) == {"livekit"}
    connection = fake_livekit.signal_connections[0]
    assert connection.claims["sub"] == link.identity
    assert connection.claims["video"]["room"] == link.room.provider_room_name
    assert connection.claims["video"]["roomJoin"] is True
    assert connection.path in ("/rtc", "/rtc/v1")
    assert requests.origins() <= {server_origin, fake_livekit.url, fake_livekit.url.replace("http", "ws", 1)}
    print(
        f"\njoin page: page load to signalling connection, p50 over {len(timings)} runs: "
        f"{statistics.median(timings) * 1000:.0f} ms"
    )


def _wait_for_signal(fake_livekit, identity: str, seconds: float = 10) -> float:
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if any(c.claims.get("sub") == identity for c in fake_livekit.signal_connections):
            return time.monotonic() - started
        time.sleep(0.02)
    raise AssertionError(f"{identity} never reached the signalling endpoint")


def test_a_guest_waits_until_the_host_admits_them_from_the_host_page(live_server, fake_livekit):
    room = RoomFactory(waiting_room=True, title="Clinic")
    host = InvitationFactory(room=room, role="host", display_name="Dr. Lee")
    guest = InvitationFactory(room=room, display_name="Ana Souza")
    with chromium() as context:
        host_page = open_page(context, live_server, host.secret)
        host_page.locator("#lobby-empty").wait_for(state="visible")
        guest_page = open_page(context, live_server, guest.secret)
        guest_page.locator("#join-button").click()
        guest_page.locator("#screen-waiting").wait_for(state="visible")
        screenshot(guest_page, "waiting")
        assert serious_accessibility_violations(guest_page) == []
        admit = host_page.get_by_role("button", name="Let in: Ana Souza")
        admit.wait_for()
        screenshot(host_page, "host-lobby")
        assert serious_accessibility_violations(host_page) == []
        assert not any(c.claims.get("sub") == guest.identity for c in fake_livekit.signal_connections)
        admit.click()
        seconds = _wait_for_signal(fake_livekit, guest.identity)
        host_page.locator("#lobby-empty").wait_for(state="visible")
    print(f"\nwaiting room: admit click to the guest's signalling connection: {seconds * 1000:.0f} ms")
    assert seconds < 3


def test_a_denied_guest_is_told_so(live_server, fake_livekit):
    room = RoomFactory(waiting_room=True)
    host = InvitationFactory(room=room, role="host")
    guest = InvitationFactory(room=room, display_name="Sam")
    with chromium() as context:
        host_page = open_page(context, live_server, host.secret)
        guest_page = open_page(context, live_server, guest.secret)
        guest_page.locator("#join-button").click()
        guest_page.locator("#screen-waiting").wait_for(state="visible")
        host_page.get_by_role("button", name="Turn away: Sam").click()
        guest_page.locator("#screen-end").wait_for(state="visible")
        assert guest_page.locator("#end-heading").inner_text() == "The host did not let you in"
        screenshot(guest_page, "denied")
        assert serious_accessibility_violations(guest_page) == []
    assert fake_livekit.signal_connections == []


def test_the_recording_indicator_follows_convenes_recording_state(live_server):
    link = InvitationFactory()
    with chromium() as context:
        page = open_page(context, live_server, link.secret)
        indicator = page.locator("#recording-indicator")
        page.wait_for_function("() => window.convene.state !== undefined")
        assert indicator.is_hidden()
        recording = in_thread(
            lambda: Recording.objects.create(
                room=link.room,
                provider="livekit",
                status=RecordingStatus.ACTIVE,
                trigger="api",
                started_by="application:test",
                storage="file",
            )
        )
        indicator.wait_for(state="visible", timeout=3000)
        screenshot(page, "recording-on")
        # A withdrawal of consent stops the recording: ending already shows as off.
        in_thread(lambda: Recording.objects.filter(pk=recording.pk).update(status=RecordingStatus.ENDING))
        indicator.wait_for(state="hidden", timeout=3000)
