"""core.audit.AuditContext: who did an audited action and from where, built once from a request
by views and the admin, or naming the system for tasks; services take it instead of the request."""

from __future__ import annotations

import dataclasses

import pytest
from django.contrib.auth.models import AnonymousUser, User
from django.test import RequestFactory

from core.audit import SYSTEM, AuditContext
from core.auth import ApplicationPrincipal
from tests.factories import ApplicationFactory


def request_from(user, **meta):
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.7", HTTP_USER_AGENT="Firefox/140", **meta)
    request.user, request.request_id = user, "req-7"
    return request


@pytest.mark.django_db
def test_a_request_with_an_application_key_is_the_applications():
    application = ApplicationFactory()
    context = AuditContext.from_request(request_from(ApplicationPrincipal(application=application, api_key_id="k")))
    assert context == AuditContext(
        actor_type="application",
        actor_id=str(application.pk),
        ip="10.0.0.7",
        request_id="req-7",
        user_agent="Firefox/140",
    )


@pytest.mark.django_db
def test_a_signed_in_users_request_is_the_users():
    user = User.objects.create_user("rev", password=None)
    context = AuditContext.from_request(request_from(user))
    assert (context.actor_type, context.actor_id, context.ip, context.request_id) == (
        "user",
        str(user.pk),
        "10.0.0.7",
        "req-7",
    )


def test_an_anonymous_request_names_no_one_but_keeps_where_it_came_from():
    context = AuditContext.from_request(request_from(AnonymousUser()))
    assert (context.actor_type, context.actor_id, context.ip, context.request_id) == (
        "anonymous",
        "",
        "10.0.0.7",
        "req-7",
    )


def test_a_request_without_a_request_id_or_user_agent_has_empty_ones():
    request = RequestFactory().get("/", REMOTE_ADDR="not-an-ip")
    request.user = AnonymousUser()
    context = AuditContext.from_request(request)
    assert (context.ip, context.request_id, context.user_agent) == (None, "", "")


def test_the_system_has_no_address_and_no_request_id():
    assert AuditContext.system("retention") == AuditContext(actor_type="system", actor_id="retention")
    assert (SYSTEM.actor_type, SYSTEM.actor_id, SYSTEM.ip, SYSTEM.request_id) == ("system", "", None, "")


def test_a_context_cannot_be_changed_once_built():
    with pytest.raises(dataclasses.FrozenInstanceError):
        SYSTEM.actor_type = "user"  # type: ignore[misc]
