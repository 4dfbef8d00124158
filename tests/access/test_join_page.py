"""GET /join/<secret>: the page a link opens. A refused link gets its own screen (never a framework
error page), with the status a redemption would get; the page is served with a strict CSP and no
Referer, and keeps the secret out of the logs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from core.logredact import redact
from rooms.models import RoomStatus
from tests.factories import InvitationFactory, RoomFactory

pytestmark = pytest.mark.django_db


def _page(client, secret):
    return client.get(f"/join/{secret}")


def test_a_usable_link_opens_the_pre_join_page_with_the_person_and_the_room(client):
    room = RoomFactory(title="Follow-up with Dr. Lee")
    link = InvitationFactory(room=room, display_name="Ana Souza")
    response = _page(client, link.secret)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Follow-up with Dr. Lee" in html and "Ana Souza" in html
    assert 'id="screen-prejoin"' in html
    assert "join/vendor/livekit-client.umd.js" in html


@pytest.mark.parametrize(
    ("make", "status", "state"),
    [
        (lambda: InvitationFactory(revoked_at=timezone.now()), 410, "link_revoked"),
        (lambda: InvitationFactory(max_uses=1, uses=1), 410, "link_exhausted"),
        (lambda: InvitationFactory(expires_at=timezone.now() - timedelta(minutes=1)), 410, "too_late"),
        (lambda: InvitationFactory(room=RoomFactory(status=RoomStatus.CLOSED)), 410, "room_closed"),
        (
            lambda: InvitationFactory(
                room=RoomFactory(status=RoomStatus.SCHEDULED, opens_at=timezone.now() + timedelta(hours=2))
            ),
            403,
            "too_early",
        ),
    ],
)
def test_a_refused_link_gets_its_own_screen_with_the_status_of_its_refusal(client, make, status, state):
    link = make()
    response = _page(client, link.secret)
    assert response.status_code == status
    html = response.content.decode()
    assert f'data-state="{state}"' in html
    assert "<h1" in html and "Traceback" not in html


def test_an_unknown_link_gets_the_not_found_screen(client):
    response = _page(client, "no-such-secret")
    assert response.status_code == 404
    assert 'data-state="not_found"' in response.content.decode()


def test_too_early_tells_when_joining_opens_so_the_page_can_count_down(client):
    opens_at = timezone.now() + timedelta(hours=2)
    link = InvitationFactory(room=RoomFactory(status=RoomStatus.SCHEDULED, opens_at=opens_at))
    response = _page(client, link.secret)
    config = response.context["config"]
    assert config["state"] == "too_early"
    assert config["join_allowed_from"] == (opens_at - timedelta(minutes=10)).isoformat()


def test_the_page_forbids_third_party_code_and_sends_no_referrer(client, settings):
    settings.LIVEKIT_URL = "https://media.example.org"
    link = InvitationFactory()
    response = _page(client, link.secret)
    policy = dict(d.strip().split(" ", 1) for d in response["Content-Security-Policy"].split(";"))
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == policy["style-src"] == policy["font-src"] == "'self'"
    assert policy["connect-src"] == "'self' https://media.example.org wss://media.example.org"
    assert policy["frame-ancestors"] == "'none'"
    assert "unsafe" not in response["Content-Security-Policy"]
    assert response["Referrer-Policy"] == "no-referrer"
    assert response["Cache-Control"] == "no-store"


def test_refused_link_screens_carry_the_same_policy(client):
    response = _page(client, "no-such-secret")
    assert "default-src 'none'" in response["Content-Security-Policy"]
    assert response["Referrer-Policy"] == "no-referrer"


def test_guessing_links_through_the_page_is_rate_limited_like_the_join_api(client, settings):
    settings.CONVENE_JOIN_FAILURE_LIMIT = "3/min"
    guesser = {"REMOTE_ADDR": "192.0.2.71"}
    statuses = [client.get(f"/join/guess-{n}", **guesser).status_code for n in range(4)]
    assert statuses == [404, 404, 404, 429]
    response = client.get("/join/guess-5", **guesser)
    assert 'data-state="throttled"' in response.content.decode()
    assert int(response["Retry-After"]) >= 1


def test_the_page_and_its_event_stream_urls_are_redacted_in_logs():
    link = InvitationFactory()
    for line in (f"GET /join/{link.secret} HTTP/1.1", f"GET /api/v1/join/{link.secret}/events HTTP/1.1"):
        assert link.secret not in redact(line)


def test_a_missing_browser_library_is_a_startup_warning(settings, monkeypatch):
    from access import pages

    assert pages.check_join_page_libraries(None) == []  # make test installs them (scripts/bootstrap.sh)
    monkeypatch.setattr(pages.finders, "find", lambda path: None)
    warnings = pages.check_join_page_libraries(None)
    assert [w.id for w in warnings] == ["convene.W101"] and "livekit-client" in warnings[0].msg
