"""Reads owned by core: who reviews an application's recordings (and reads its audit log); a
list's optional filters."""

from __future__ import annotations

from django.db.models import QuerySet

from core.auth import ApplicationPrincipal
from core.models import Application


def filter_given(queryset: QuerySet, **lookups) -> QuerySet:
    """`queryset` narrowed by each lookup whose value was given (a list's optional filters): a
    None, empty or zero value filters nothing."""
    given = {lookup: value for lookup, value in lookups.items() if value}
    return queryset.filter(**given) if given else queryset


# The permission of the "Recording reviewers" group; a string, so core imports no app for it.
REVIEW_PERMISSION = "recordings.review_recording"


def is_reviewer(user) -> bool:
    """A person (never an application's key) with the review permission; which applications they
    review is reviewed_applications."""
    return (
        not isinstance(user, ApplicationPrincipal)
        and getattr(user, "is_authenticated", False)
        and user.is_active
        and user.has_perm(REVIEW_PERMISSION)
    )


def reviewed_applications(user) -> QuerySet[Application]:
    """The applications `user` is listed on as a reviewer (superusers too: nobody has an implicit
    all-applications scope)."""
    return user.reviewed_applications.all()


def applications_of(user) -> list[Application]:
    """Whose audit log an action of `user` belongs in when it concerns no one application: a key's
    own application, the applications a signed-in user is listed on, else none."""
    if isinstance(user, ApplicationPrincipal):
        return [user.application]
    return list(reviewed_applications(user)) if getattr(user, "is_authenticated", False) else []
