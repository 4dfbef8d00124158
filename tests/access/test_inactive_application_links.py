"""A deactivated application's join links stop working, like its API keys."""

from __future__ import annotations

import pytest

from core.models import Application, AuditEvent
from tests.factories import InvitationFactory

pytestmark = pytest.mark.django_db


def deactivate(invitation) -> None:
    Application.objects.filter(pk=invitation.room.application_id).update(is_active=False)


def test_a_deactivated_applications_link_mints_no_token(anon_client):
    invitation = InvitationFactory()
    deactivate(invitation)
    response = anon_client.post(f"/api/v1/join/{invitation.secret}")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "application_inactive"
    invitation.refresh_from_db()
    assert invitation.uses == 0
    assert not AuditEvent.objects.filter(action="token.issue").exists()


def test_a_deactivated_applications_link_records_no_consent(anon_client):
    invitation = InvitationFactory()
    deactivate(invitation)
    response = anon_client.post(f"/api/v1/join/{invitation.secret}/consent", {"decision": "granted"}, format="json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "application_inactive"
