"""The client address (core.clientip.request_ip) behind NUM_PROXIES proxies, for audit rows
and join limits. X-Forwarded-For is believed only from a trusted proxy (FORWARDED_ALLOW_IPS), only
the entries the proxies appended count, and an entry that is not an address is never a 500."""

from __future__ import annotations

import pytest
from django.test import RequestFactory

from core.clientip import request_ip
from core.models import AuditEvent
from tests.factories import InvitationFactory

pytestmark = pytest.mark.django_db

PROXY = "10.0.0.5"


@pytest.fixture
def behind_proxies(settings):
    """The documented deployment: Convene reachable only through proxies at 10.0.0.0/24."""

    def configure(num_proxies: int = 1):
        settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": num_proxies}
        settings.CONVENE_TRUSTED_PROXIES = ["10.0.0.0/24"]
        return settings

    return configure


def ip_of(remote_addr: str, forwarded: str | None = None) -> str | None:
    headers = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded is not None else {}
    return request_ip(RequestFactory().get("/", REMOTE_ADDR=remote_addr, **headers))


@pytest.mark.parametrize(
    ("forwarded", "expected"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("198.51.100.1, 203.0.113.7", "203.0.113.7"),  # what the client wrote itself is not believed
        (" 2001:db8::1 ", "2001:db8::1"),
        ("not-an-address", PROXY),
        ("203.0.113.7, <script>", PROXY),
        ("", PROXY),
        ("1" * 5000, PROXY),
        ("203.0.113.7:4711", PROXY),
    ],
)
def test_behind_one_proxy_the_address_it_appended_is_the_client(behind_proxies, forwarded, expected):
    behind_proxies(1)
    assert ip_of(PROXY, forwarded) == expected


def test_behind_two_proxies_the_address_the_outer_one_appended_is_the_client(behind_proxies):
    behind_proxies(2)
    assert ip_of(PROXY, "198.51.100.1, 203.0.113.7, 10.0.0.9") == "203.0.113.7"
    assert ip_of(PROXY, "203.0.113.7") == "203.0.113.7"  # reached the inner proxy directly


def test_a_connection_that_is_not_from_a_trusted_proxy_is_its_own_client(behind_proxies):
    behind_proxies(1)
    assert ip_of("203.0.113.50", "198.51.100.1") == "203.0.113.50"


def test_without_proxies_the_header_is_ignored(settings):
    assert ip_of("203.0.113.50", "198.51.100.1") == "203.0.113.50"


def test_a_malformed_forwarded_header_on_a_join_is_not_a_500(anon_client, behind_proxies):
    behind_proxies(1)
    link = InvitationFactory()
    response = anon_client.post(f"/api/v1/join/{link.secret}", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="x, ::zz")
    assert response.status_code == 200, response.content
    assert AuditEvent.objects.get(action="token.issue").ip == PROXY


def test_the_audit_row_records_the_client_behind_the_proxy(anon_client, behind_proxies):
    behind_proxies(1)
    link = InvitationFactory()
    anon_client.post(f"/api/v1/join/{link.secret}", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="203.0.113.7")
    assert AuditEvent.objects.get(action="token.issue").ip == "203.0.113.7"


def test_rotating_the_header_without_the_proxy_does_not_escape_the_join_limit(anon_client, behind_proxies):
    """Reaching Convene around its proxy with a new X-Forwarded-For each time: one client."""
    behind_proxies(1).CONVENE_JOIN_FAILURE_LIMIT = "2/min"
    codes = [
        anon_client.post(
            f"/api/v1/join/guess-{n}", REMOTE_ADDR="203.0.113.50", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}"
        ).status_code
        for n in range(3)
    ]
    assert codes == [404, 404, 429]


def test_rotating_what_the_client_writes_before_the_proxys_entry_does_not_escape_the_join_limit(
    anon_client, behind_proxies
):
    behind_proxies(1).CONVENE_JOIN_FAILURE_LIMIT = "2/min"
    codes = [
        anon_client.post(
            f"/api/v1/join/guess-{n}", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=f"198.51.100.{n}, 203.0.113.7"
        ).status_code
        for n in range(3)
    ]
    assert codes == [404, 404, 429]
