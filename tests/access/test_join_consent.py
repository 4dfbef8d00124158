"""POST /api/v1/join/{secret}/consent: a link holder records their own decision (access's
consent_record_by_link, then recordings' ledger); a link that no longer opens the room gives no grant."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from core.models import AuditEvent
from recordings.models import ConsentEvent, ConsentNotice
from rooms.models import RecordingPolicy
from tests.factories import InvitationFactory, RoomFactory
from tests.recordings.test_consent_ledger import error_code, link_consent

pytestmark = pytest.mark.django_db


@pytest.fixture
def room(app_client):
    return RoomFactory(application=app_client.application, recording_policy=RecordingPolicy.ON_DEMAND)


@pytest.fixture
def notice(app_client) -> ConsentNotice:
    return ConsentNotice.objects.create(application=app_client.application, version=1, text="We record this call.")


def test_a_link_holder_records_their_own_decision_with_ip_and_user_agent(anon_client, room, notice):
    link = InvitationFactory(room=room, identity="pat")
    response = anon_client.post(
        f"/api/v1/join/{link.secret}/consent",
        {"decision": "granted", "notice_version": 1},
        format="json",
        HTTP_USER_AGENT="Mozilla/5.0 (Test Browser)",
        REMOTE_ADDR="203.0.113.7",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["identity"] == "pat" and body["method"] == "join_page"
    assert body["invitation_id"] == str(link.pk)
    event = ConsentEvent.objects.get()
    assert (event.identity, event.method, event.invitation_id) == ("pat", "join_page", link.pk)
    assert event.ip == "203.0.113.7" and event.user_agent == "Mozilla/5.0 (Test Browser)"
    audit = AuditEvent.objects.get(action="consent.granted")
    assert (audit.actor_type, audit.actor_id, audit.ip) == ("link", str(link.pk), "203.0.113.7")


def test_a_link_holder_cannot_speak_for_someone_else(anon_client, room, notice):
    link = InvitationFactory(room=room, identity="pat")
    response = anon_client.post(
        f"/api/v1/join/{link.secret}/consent", {"decision": "granted", "identity": "doc"}, format="json"
    )
    assert response.status_code == 400
    assert not ConsentEvent.objects.exists()


def test_an_unknown_link_records_nothing(anon_client, room, notice):
    response = anon_client.post("/api/v1/join/not-a-real-secret/consent", {"decision": "granted"}, format="json")
    assert response.status_code == 404
    assert not ConsentEvent.objects.exists()


@pytest.mark.parametrize(
    ("link_state", "code"),
    [
        ({"expires_at": timezone.now() - timedelta(minutes=1)}, "too_late"),
        ({"revoked_at": timezone.now() - timedelta(minutes=1)}, "link_revoked"),
    ],
    ids=["expired", "revoked"],
)
def test_a_link_that_no_longer_opens_the_room_gives_no_grant_but_still_withdraws(
    anon_client, room, notice, link_state, code
):
    link = InvitationFactory(room=room, identity="pat", **link_state)
    refused = link_consent(anon_client, link, "granted")
    assert refused.status_code == 410 and error_code(refused) == code
    assert not ConsentEvent.objects.exists()
    assert link_consent(anon_client, link, "withdrawn").status_code == 201
    assert list(ConsentEvent.objects.values_list("identity", "decision")) == [("pat", "withdrawn")]


def test_a_used_up_link_still_records_its_holders_grant(anon_client, room, notice):
    link = InvitationFactory(room=room, identity="pat", max_uses=1, uses=1)
    assert link_consent(anon_client, link, "granted").status_code == 201
