"""The admin's application page: listing a user as a reviewer, the only way to see an application's
recordings (superusers included), is audited."""

from __future__ import annotations

import pytest

from core.models import Application, AuditEvent
from tests.recordings.conftest import make_staff

pytestmark = pytest.mark.django_db


def change(client, application: Application, reviewers: list) -> int:
    data = {
        "name": application.name,
        "is_active": "on",
        "recording_retention_days": application.recording_retention_days,
        "reviewers": [str(user.pk) for user in reviewers],
    }
    return client.post(f"/admin/core/application/{application.pk}/change/", data).status_code


def test_adding_and_removing_reviewers_writes_an_audit_row_under_the_application(client, app_client, django_user_model):
    root = django_user_model.objects.create_superuser("root", password=None)
    client.force_login(root)
    alice, bob = make_staff("alice", reviewer=True), make_staff("bob", reviewer=True)
    application = app_client.application
    assert change(client, application, [alice, bob]) == 302
    assert change(client, application, [bob]) == 302
    assert change(client, application, [bob]) == 302  # no change, no row
    rows = list(AuditEvent.objects.filter(action="application.reviewers").order_by("id"))
    assert [(r.application, r.actor_id, r.details) for r in rows] == [
        (application, str(root.pk), {"added": sorted([alice.pk, bob.pk]), "removed": []}),
        (application, str(root.pk), {"added": [], "removed": [alice.pk]}),
    ]
