"""POST/GET /api/v1/consent-notices: an application publishes the notice people agree to, through
the API: versions count up per application, a published text never changes, the list is newest
first; a room that may be recorded cannot exist without one."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient

from core.models import AuditEvent
from recordings.models import ConsentNotice, notice_hash
from rooms.models import RecordingPolicy, Room
from tests.factories import RoomFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/consent-notices"


def publish(client, text: str):
    return client.post(URL, {"text": text}, format="json")


def test_publishing_a_notice_answers_its_version_hash_and_time_and_audits_it(app_client):
    response = publish(app_client, "We record this call.")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["version"] == 1 and body["text"] == "We record this call."
    assert body["text_hash"] == notice_hash("We record this call.") and body["created_at"]
    notice = ConsentNotice.objects.get()
    assert (notice.application, notice.version) == (app_client.application, 1)
    audit = AuditEvent.objects.get(action="consent_notice.publish")
    assert (audit.application, audit.object_id, audit.details["version"]) == (
        app_client.application,
        str(notice.pk),
        1,
    )


def test_versions_count_up_per_application_and_the_list_is_newest_first(app_client, other_client):
    assert publish(app_client, "v1 text").json()["version"] == 1
    assert publish(app_client, "v2 text").json()["version"] == 2
    assert publish(other_client, "B's own text").json()["version"] == 1
    listed = app_client.get(URL).json()
    assert listed["count"] == 2
    assert [(n["version"], n["text"]) for n in listed["results"]] == [(2, "v2 text"), (1, "v1 text")]
    assert [n["text"] for n in other_client.get(URL).json()["results"]] == ["B's own text"]


def test_the_text_in_force_again_publishes_nothing_and_answers_that_notice(app_client):
    first = publish(app_client, "We record this call.").json()
    again = publish(app_client, "We record this call.")
    assert again.status_code == 200 and again.json() == first
    assert ConsentNotice.objects.count() == 1
    assert publish(app_client, "v1 text then changed").json()["version"] == 2


def test_the_text_is_kept_exactly_as_sent_so_its_hash_matches(app_client):
    text = "  Line one.\n\nLine two, with trailing space.  \n"
    body = publish(app_client, text).json()
    assert body["text"] == text and body["text_hash"] == notice_hash(text)


@pytest.mark.parametrize(
    "body",
    [{}, {"text": ""}, {"text": "   \n"}, {"text": 7}, {"text": "x" * 20001}, {"text": "a", "version": 5}],
    ids=["missing", "empty", "blank", "not a string", "too long", "a version of its own"],
)
def test_a_notice_without_usable_text_is_a_400(app_client, body):
    response = app_client.post(URL, body, format="json")
    assert response.status_code == 400, response.content
    assert not ConsentNotice.objects.exists()


def test_notices_need_an_application_key(anon_client):
    assert anon_client.get(URL).status_code == 401
    assert publish(anon_client, "text").status_code == 401


@pytest.mark.django_db(transaction=True)
def test_concurrent_publications_get_distinct_consecutive_versions(app_client):
    results: list[int] = []

    def publish_in_a_thread(text: str) -> None:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {app_client.api_key}")
        try:
            results.append(publish(client, text).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=publish_in_a_thread, args=(f"text {n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert results == [201] * 4
    assert sorted(ConsentNotice.objects.values_list("version", flat=True)) == [1, 2, 3, 4]


# -- the dead end is gone: a notice published through the API opens recording --------------------


def test_a_recordable_room_cannot_be_created_before_a_notice_exists_and_can_after(app_client):
    for policy in (RecordingPolicy.ON_DEMAND, RecordingPolicy.AUTO):
        refused = app_client.post("/api/v1/rooms", {"recording_policy": policy}, format="json")
        assert refused.status_code == 409 and refused.json()["error"]["code"] == "no_consent_notice"
    assert not Room.objects.exists()
    assert app_client.post("/api/v1/rooms", {"recording_policy": "off"}, format="json").status_code == 201
    publish(app_client, "We record this call.")
    created = app_client.post("/api/v1/rooms", {"recording_policy": "on_demand"}, format="json")
    assert created.status_code == 201 and created.json()["recording_policy"] == "on_demand"


def test_a_room_cannot_be_made_recordable_before_a_notice_exists(app_client):
    room = RoomFactory(application=app_client.application, recording_policy=RecordingPolicy.OFF)
    refused = app_client.patch(f"/api/v1/rooms/{room.pk}", {"recording_policy": "auto"}, format="json")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "no_consent_notice"
    room.refresh_from_db()
    assert room.recording_policy == RecordingPolicy.OFF
    assert app_client.patch(f"/api/v1/rooms/{room.pk}", {"title": "still off"}, format="json").status_code == 200
    publish(app_client, "We record this call.")
    accepted = app_client.patch(f"/api/v1/rooms/{room.pk}", {"recording_policy": "auto"}, format="json")
    assert accepted.status_code == 200 and accepted.json()["recording_policy"] == "auto"


def test_another_applications_notice_does_not_count(app_client, other_client):
    publish(other_client, "B records its calls.")
    refused = app_client.post("/api/v1/rooms", {"recording_policy": "on_demand"}, format="json")
    assert refused.status_code == 409


def test_a_notice_published_through_the_api_is_the_one_consent_is_given_to(app_client, anon_client):
    publish(app_client, "We record this call.")
    room_id = app_client.post("/api/v1/rooms", {"recording_policy": "on_demand"}, format="json").json()["id"]
    granted = app_client.post(
        f"/api/v1/rooms/{room_id}/consents", {"identity": "pat", "decision": "granted"}, format="json"
    )
    assert granted.status_code == 201 and granted.json()["notice_version"] == 1


# -- the admin publishes through the same service ----------------------------------------------------


@pytest.fixture
def superuser_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("root", password=None))
    return client


def test_the_admin_publishes_the_next_version_audited_and_never_deletes_one(superuser_client, app_client):
    publish(app_client, "v1 text")
    response = superuser_client.post(
        "/admin/recordings/consentnotice/add/", {"application": str(app_client.application.pk), "text": "v2 text"}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    notice = ConsentNotice.objects.get(version=2)
    assert (notice.application, notice.text, notice.text_hash) == (
        app_client.application,
        "v2 text",
        notice_hash("v2 text"),
    )
    assert AuditEvent.objects.filter(action="consent_notice.publish", object_id=str(notice.pk)).count() == 1
    assert (
        superuser_client.post(f"/admin/recordings/consentnotice/{notice.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )
    assert ConsentNotice.objects.count() == 2
