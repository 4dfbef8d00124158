"""The role table (settings.CONVENE_ROLES) turned into provider-neutral grants, and its check.

A role only ever grants in-room rights; server rights (room admin, record, create) cannot be
expressed here, so no browser token can carry them.
"""

from __future__ import annotations

from django.conf import settings
from django.core import checks

from core.errors import ConveneError
from providers.base import RoleGrants, TrackSource

ROLE_FIELDS = {"can_publish", "can_subscribe", "can_publish_data", "publish_sources", "hidden"}
PUBLISH_SOURCES = {
    TrackSource.CAMERA,
    TrackSource.MICROPHONE,
    TrackSource.SCREEN_SHARE,
    TrackSource.SCREEN_SHARE_AUDIO,
}


def role_names() -> list[str]:
    return sorted(settings.CONVENE_ROLES)


def role_grants(role: str) -> RoleGrants:
    try:
        entry = settings.CONVENE_ROLES[role]
    except KeyError:
        raise ConveneError(f"Unknown role {role!r}.", code="unknown_role", details={"roles": role_names()}) from None
    return RoleGrants(
        can_publish=bool(entry["can_publish"]),
        can_subscribe=bool(entry["can_subscribe"]),
        can_publish_data=bool(entry["can_publish_data"]),
        publish_sources=tuple(entry.get("publish_sources", ())),
        hidden=bool(entry.get("hidden", False)),
    )


def role_table_problems(table: object) -> list[str]:
    if not isinstance(table, dict) or not table:
        return ["CONVENE_ROLES must be a non-empty JSON object of role name -> grants"]
    problems = []
    for name, entry in table.items():
        if not isinstance(entry, dict):
            problems.append(f"role {name!r} must be an object")
            continue
        unknown = set(entry) - ROLE_FIELDS
        missing = {"can_publish", "can_subscribe", "can_publish_data"} - set(entry)
        bad_sources = set(entry.get("publish_sources", [])) - PUBLISH_SOURCES
        if unknown:
            problems.append(f"role {name!r} has fields Convene does not grant: {sorted(unknown)}")
        if missing:
            problems.append(f"role {name!r} lacks {sorted(missing)}")
        if bad_sources:
            problems.append(f"role {name!r} has unknown publish sources {sorted(bad_sources)}")
    return problems


@checks.register(checks.Tags.security)
def check_role_table(app_configs, **kwargs):
    return [checks.Error(p, id="convene.E001") for p in role_table_problems(settings.CONVENE_ROLES)]
