"""The SSRF guard's decision, with name resolution stubbed (nothing here reaches the network):
private, loopback, link-local and metadata addresses and plain http are refused at creation
(400) and again before each attempt (a name re-pointed after creation: DNS rebinding)."""

from __future__ import annotations

import pytest

from outbound import urlguard
from outbound.models import WebhookDelivery
from tests.outbound.conftest import deliver_pending


@pytest.fixture
def resolves_to(monkeypatch, settings):
    settings.CONVENE_WEBHOOK_ALLOW_PRIVATE_URLS = False
    answer: list[str] = []
    monkeypatch.setattr(urlguard, "resolve", lambda host, port: list(answer))

    def set_answer(*addresses: str) -> None:
        answer[:] = addresses

    return set_answer


def _create(app_client, url: str):
    return app_client.post("/api/v1/webhook-endpoints", {"url": url}, format="json")


@pytest.mark.parametrize(
    "addresses",
    [
        ("127.0.0.1",),
        ("10.1.2.3",),
        ("192.168.0.10",),
        ("172.16.5.4",),
        ("169.254.169.254",),  # cloud metadata
        ("100.100.100.200",),  # carrier-grade NAT (another cloud's metadata)
        ("::1",),
        ("fd00:ec2::254",),
        ("fe80::1",),
        ("::ffff:127.0.0.1",),
        ("0.0.0.0",),
        ("93.184.215.14", "10.0.0.1"),  # one private answer among public ones is enough
    ],
)
def test_a_url_resolving_to_a_non_public_address_is_refused_at_creation(app_client, resolves_to, addresses):
    resolves_to(*addresses)
    response = _create(app_client, "https://hooks.example.com/convene")
    assert response.status_code == 400
    assert response.json()["error"] == {**response.json()["error"], "code": "url_not_allowed"}
    assert response.json()["error"]["details"]["reason"] == "private_address"


def test_a_public_https_url_is_accepted(app_client, resolves_to):
    resolves_to("93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c")
    assert _create(app_client, "https://hooks.example.com/convene").status_code == 201


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://hooks.example.com/convene", "https_required"),
        ("https://user:pw@hooks.example.com/convene", "credentials"),
        ("ftp://hooks.example.com/convene", None),
    ],
)
def test_plain_http_credentials_and_other_schemes_are_refused(app_client, resolves_to, url, reason):
    resolves_to("93.184.215.14")
    response = _create(app_client, url)
    assert response.status_code == 400
    if reason:
        assert response.json()["error"]["details"]["reason"] == reason


def test_a_name_that_does_not_resolve_is_refused(app_client, monkeypatch, settings):
    settings.CONVENE_WEBHOOK_ALLOW_PRIVATE_URLS = False

    def fail(host, port):
        raise OSError("no such name")

    monkeypatch.setattr(urlguard, "resolve", fail)
    assert _create(app_client, "https://nowhere.invalid/x").json()["error"]["details"]["reason"] == "unresolvable"


def test_a_name_re_pointed_at_loopback_after_creation_is_refused_before_the_attempt(
    app_client, resolves_to, receiver, settings
):
    settings.DEBUG = True  # plain http allowed, so the stubbed name can point at the local receiver's port
    port = receiver.url.split(":")[2].split("/")[0]
    resolves_to("93.184.215.14")
    created = _create(app_client, f"http://hooks.example.com:{port}/convene").json()
    resolves_to("127.0.0.1")  # rebinding: the name now leads to an internal address
    app_client.post(f"/api/v1/webhook-endpoints/{created['id']}/test")
    assert deliver_pending() == ["retry"]
    assert WebhookDelivery.objects.get().last_error == "url_not_allowed: private_address"
    assert receiver.events() == []


def test_the_patch_of_a_url_is_checked_too(app_client, resolves_to):
    resolves_to("93.184.215.14")
    created = _create(app_client, "https://hooks.example.com/convene").json()
    resolves_to("169.254.169.254")
    response = app_client.patch(
        f"/api/v1/webhook-endpoints/{created['id']}", {"url": "https://other.example.com/x"}, format="json"
    )
    assert response.status_code == 400 and response.json()["error"]["code"] == "url_not_allowed"
