"""What a well-kept service does at the HTTP edge: body size limits answered 413, request ids the
client cannot choose, CORS only for the public join endpoints, API docs without a CDN, and a limit
on failed admin passwords."""

from __future__ import annotations

import json
import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.staticfiles import finders
from django.test import Client

from core.models import AuditEvent
from rooms.models import Room
from tests.factories import InvitationFactory, RoomFactory

pytestmark = pytest.mark.django_db


def test_a_json_body_over_the_upload_limit_is_413_with_the_error_shape_and_creates_nothing(app_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
    body = json.dumps({"title": "x", "metadata": {"note": "y" * (2 * 1024 * 1024)}})
    response = app_client.post("/api/v1/rooms", body, content_type="application/json")
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert response.json()["error"]["details"] == {"max_bytes": 1024 * 1024}
    assert not Room.objects.exists()


def test_a_json_body_at_the_upload_limit_is_parsed(app_client, settings):
    body = json.dumps({"title": "fits"})
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = len(body)
    response = app_client.post("/api/v1/rooms", body, content_type="application/json")
    assert response.status_code == 201, response.content


def test_a_request_id_sent_by_the_client_is_not_written_to_the_audit_log(app_client):
    response = app_client.post(
        "/api/v1/rooms", {"title": "x"}, format="json", HTTP_X_REQUEST_ID="someone-elses-request-0001"
    )
    assert response.status_code == 201
    row = AuditEvent.objects.get(action="room.create")
    assert row.request_id == response["X-Request-ID"] != "someone-elses-request-0001"
    assert re.fullmatch(r"[0-9a-f]{32}", row.request_id)


@pytest.mark.parametrize(
    ("incoming", "kept"),
    [
        ("proxy-7f3a9c1e-0b2d", True),
        ("short", False),  # under 8 characters
        ("x" * 65, False),
        ("has space in it", False),
        ("ends-with-newline-0001\n", False),
        ("<script>alert(1)</script>", False),
    ],
)
def test_a_trusted_proxys_request_id_is_kept_only_when_well_formed(incoming, kept, app_client, settings):
    settings.CONVENE_TRUST_REQUEST_ID = True
    response = app_client.post("/api/v1/rooms", {"title": "x"}, format="json", HTTP_X_REQUEST_ID=incoming)
    row = AuditEvent.objects.get(action="room.create")
    assert (row.request_id == incoming) is kept
    assert len(row.request_id) <= 64 and response["X-Request-ID"] == row.request_id


ORIGIN = "https://app.clinic.example"


@pytest.fixture
def cors(settings):
    settings.CORS_ALLOWED_ORIGINS = [ORIGIN]


def test_a_configured_origin_may_call_the_public_join_endpoint_from_a_browser(cors, anon_client):
    invitation = InvitationFactory(room=RoomFactory())
    preflight = anon_client.options(
        "/api/v1/join/some-secret",
        HTTP_ORIGIN=ORIGIN,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="content-type",
    )
    assert preflight.status_code == 200
    assert preflight["Access-Control-Allow-Origin"] == ORIGIN
    assert "POST" in preflight["Access-Control-Allow-Methods"]
    assert "Access-Control-Allow-Credentials" not in preflight
    response = anon_client.post(f"/api/v1/join/{invitation.secret}", HTTP_ORIGIN=ORIGIN)
    assert response.status_code == 200, response.content
    assert response["Access-Control-Allow-Origin"] == ORIGIN


def test_another_origin_gets_no_cors_headers_from_the_join_endpoint(cors, anon_client):
    response = anon_client.options(
        "/api/v1/join/some-secret", HTTP_ORIGIN="https://evil.example", HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST"
    )
    assert "Access-Control-Allow-Origin" not in response


@pytest.mark.parametrize("path", ["/api/v1/rooms", "/api/v1/recordings", "/api/v1/audit-events", "/admin/login/"])
def test_endpoints_other_than_join_get_no_cors_headers_even_for_a_configured_origin(path, cors, anon_client):
    response = anon_client.options(path, HTTP_ORIGIN=ORIGIN, HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET")
    assert "Access-Control-Allow-Origin" not in response


def test_the_api_docs_page_loads_nothing_from_another_site(anon_client):
    response = anon_client.get("/api/docs")
    assert response.status_code == 200
    html = response.content.decode()
    referenced = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html) + re.findall(
        r"""["'](/static/[^"']+)["']""", html
    )
    assert referenced, html
    assert not [url for url in referenced if re.match(r"(https?:)?//", url)]
    static = [url for url in referenced if url.startswith("/static/")]
    assert any("swagger-ui" in url for url in static)
    for url in static:
        assert finders.find(url.removeprefix("/static/")), f"{url} is not one of Convene's static files"
    assert "cdn.jsdelivr.net" not in html and "unpkg.com" not in html


@pytest.fixture
def staff_user(db):
    return get_user_model().objects.create_user("reviewer", password="the-right-password-41", is_staff=True)


def _login(password: str, *, ip: str = "203.0.113.7", username: str = "reviewer"):
    return Client(REMOTE_ADDR=ip).post("/admin/login/?next=/admin/", {"username": username, "password": password})


def test_admin_login_is_locked_after_five_failed_passwords_even_with_the_right_one(staff_user, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert _login("wrong-password").status_code == 200  # the form again, with an error
    assert _login("wrong-password").status_code == 429  # the failure that reaches the limit locks
    locked = _login("the-right-password-41")
    assert locked.status_code == 429
    assert "_auth_user_id" not in locked.wsgi_request.session


def test_admin_login_failures_against_one_username_lock_it_from_other_addresses_too(staff_user, settings):
    for n in range(settings.AXES_FAILURE_LIMIT):
        _login("wrong-password", ip=f"198.51.100.{n + 1}")
    assert _login("the-right-password-41", ip="192.0.2.200").status_code == 429


def test_a_successful_admin_login_below_the_limit_works_and_resets_the_count(staff_user, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        _login("wrong-password")
    assert _login("the-right-password-41").status_code == 302
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        _login("wrong-password")
    assert _login("the-right-password-41").status_code == 302
