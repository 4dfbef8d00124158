"""A call through the join page on Janus, two browsers: run by test_join_page_janus_call.py inside a
private network namespace (media cannot flow on loopback alone), never collected on its own."""

from __future__ import annotations

import statistics
import time

import pytest

from access.models import Invitation
from rooms.models import ConnectionTelemetry, ParticipantSession
from tests.browser import RequestLog, chromium, in_thread, screenshot, serious_accessibility_violations
from tests.webhooks.conftest import process_events_until

pytestmark = pytest.mark.django_db(transaction=True)
RUNS = 3


@pytest.fixture
def _janus_posts_events_to_convene(settings, live_server):
    """Set before Janus starts: its event handler posts to the live server (as in production), so
    Convene knows who is connected and a removal can kick them."""
    settings.JANUS_TEST_WEBHOOK_URL = live_server.url + "/webhooks/janus"


@pytest.fixture(autouse=True)
def _page_settings(settings, _janus_posts_events_to_convene, janus):
    settings.CONVENE_JOIN_RATE_LIMIT = "1000/min"
    settings.CONVENE_JOIN_EVENTS_STREAM_SECONDS = 1
    yield
    time.sleep(2)  # the pages' last event streams end while the database is open to them


def _room_links(app_client) -> tuple[str, str, str]:
    """A Janus room for a host and a guest: (room id, host's link secret, guest's link secret)."""
    people = [{"role": "host", "display_name": "Dr. Lee"}, {"role": "guest", "display_name": "Ana Souza"}]
    response = app_client.post("/api/v1/rooms", {"provider": "janus", "participants": people}, format="json")
    assert response.status_code == 201, response.content
    host, guest = (link["url"].rsplit("/", 1)[1] for link in response.json()["participants"])
    return response.json()["id"], host, guest


def _join(page, live_server, secret: str) -> None:
    page.goto(f"{live_server.url}/join/{secret}")
    page.wait_for_function("() => document.getElementById('preview').videoWidth > 0")
    page.locator("#join-button").click()


def _remote_video_playing(page) -> None:
    page.wait_for_function(
        "() => [...document.querySelectorAll('.tile video')].some((v, i) => i > 0 && v.videoWidth > 0)",
        timeout=20_000,
    )


def test_two_people_see_each_other_through_the_join_page(app_client, live_server, settings):
    to_joined, to_first_frame = [], []
    janus_origin = settings.JANUS_URL.removesuffix("/janus")
    with chromium() as people:
        for run in range(RUNS):
            room_id, host_secret, guest_secret = in_thread(lambda: _room_links(app_client))
            host, guest = people.new_page(), people.new_page()
            requests = RequestLog(guest)
            _join(host, live_server, host_secret)
            _join(guest, live_server, guest_secret)
            for page in (host, guest):
                page.locator("#screen-call").wait_for(state="visible", timeout=20_000)
                _remote_video_playing(page)
                to_joined.append(page.evaluate("() => window.convene.joinedAt") / 1000)
            # The guest joins second: the host's video is there to receive from their first moment.
            first_frame = guest.evaluate("() => window.convene.firstRemoteFrameAt - window.convene.joinedAt")
            to_first_frame.append(first_frame / 1000)
            assert host.locator(".tile .name").all_inner_texts() == ["Dr. Lee (You)", "Ana Souza"]
            assert requests.origins() == {live_server.url, janus_origin}  # Convene and the media server only
            if run == 0:
                screenshot(guest, "in-call-janus")
                assert serious_accessibility_violations(guest) == []
                guest.locator("#mic-toggle").click()
                assert guest.locator("#mic-toggle").get_attribute("aria-pressed") == "true"
                time.sleep(6)  # one telemetry sample
                guest.locator("#leave-button").click()
                guest.locator("#screen-end").wait_for(state="visible")
                assert guest.locator("#end-heading").inner_text() == "You left the call"
            elif run == 1:
                closed = in_thread(lambda room_id=room_id: app_client.post(f"/api/v1/rooms/{room_id}/close"))
                assert closed.status_code == 200
                for page in (host, guest):
                    page.locator("#screen-end").wait_for(state="visible", timeout=5000)
                    assert page.locator("#end-heading").inner_text() == "The call has ended"
                screenshot(guest, "ended")
            else:
                guest_identity = in_thread(
                    lambda room_id=room_id: Invitation.objects.get(room_id=room_id, role="guest").identity
                )

                def guest_connected(room_id=room_id, identity=guest_identity):
                    return ParticipantSession.objects.filter(call_session__room_id=room_id, identity=identity).exists()

                in_thread(lambda: process_events_until(guest_connected))
                removed = in_thread(
                    lambda room_id=room_id, identity=guest_identity: app_client.post(
                        f"/api/v1/rooms/{room_id}/participants/{identity}/remove"
                    )
                )
                assert removed.status_code == 200, removed.content
                guest.locator("#screen-end").wait_for(state="visible", timeout=5000)
                assert guest.locator("#end-heading").inner_text() == "You were removed from this call"
                screenshot(guest, "removed")
            host.context.close()
            guest.context.close()
    rows = list(ConnectionTelemetry.objects.filter(provider="janus"))
    sampled = [row for row in rows if row.samples]
    assert sampled, "no telemetry sample arrived"
    assert any(s["frames_decoded"] > 0 and s["candidate_type"] for row in sampled for s in row.samples)
    print(
        f"\njoin page on Janus, p50 over {len(to_joined)} page loads: page load to joined "
        f"{statistics.median(to_joined) * 1000:.0f} ms; joined to the first remote video frame "
        f"{statistics.median(to_first_frame) * 1000:.0f} ms"
    )
