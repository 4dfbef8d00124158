"""Convene's own Schemathesis checks, loaded by the Schemathesis run of test_schemathesis.py.

They run inside the Schemathesis process (never imported by pytest) and learn the second
application's key and object ids from the environment that test sets.
"""

from __future__ import annotations

import os
import uuid

import requests
import schemathesis

OTHER_KEY_ENV = "CONVENE_OTHER_API_KEY"
OTHER_OBJECT_IDS_ENV = "CONVENE_OTHER_OBJECT_IDS"  # comma-separated ids owned by the other application
PUBLIC_PATH_PARAMETERS = {"secret"}  # a join link's secret is its own credential: no application involved


def _error_code(response) -> str | None:
    try:
        return response.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None


def _names_an_object(case) -> bool:
    """A documented request (not an unexpected-method probe) whose path names a tenant's object."""
    names = set(case.path_parameters or {})
    documented = case.method.upper() == case.operation.method.upper()
    return documented and bool(names) and not names & PUBLIC_PATH_PARAMETERS


def _replay_as_other_application(response, *, path_values: set[str], on_missing_object: bool = False):
    """Send the request again with the other application's key (and, if asked, random ids in the path)."""
    sent = response.request
    headers = {k: v for k, v in sent.headers.items() if k.lower() not in ("authorization", "cookie", "content-length")}
    headers["Authorization"] = f"Api-Key {os.environ[OTHER_KEY_ENV]}"
    url = sent.url
    if on_missing_object:
        for value in path_values:
            url = url.replace(value, str(uuid.uuid4()))
    return requests.request(sent.method, url, data=sent.body, headers=headers, timeout=10, allow_redirects=False)


@schemathesis.check
def another_application_gets_not_found(ctx, response, case):
    """Object-level authorization: a request that names an object answers another application exactly
    as for a missing object.

    Requests sent with application A's key that name one of application B's objects must get 404;
    a request on any other object that A did not get a 404 for is replayed with B's key, which must
    get 404 `not_found`, or else exactly what B gets for an id that does not exist (a refusal that
    comes before the object is looked up, such as a reviewer-only 403): so B can neither read nor
    change A's object, nor learn that it exists.
    """
    if not _names_an_object(case):
        return None
    other_ids = set(filter(None, os.environ.get(OTHER_OBJECT_IDS_ENV, "").split(",")))
    named = {str(value) for value in case.path_parameters.values()}
    if named & other_ids:
        assert response.status_code == 404, (
            f"application A's key reached application B's object: {response.status_code} for "
            f"{case.method} {case.formatted_path}"
        )
        return None
    if response.status_code == 404:
        return None
    replay = _replay_as_other_application(response, path_values=named)
    if replay.status_code == 404 and _error_code(replay) == "not_found":
        return None
    missing = _replay_as_other_application(response, path_values=named, on_missing_object=True)
    assert (replay.status_code, _error_code(replay)) == (missing.status_code, _error_code(missing)), (
        f"application B's key on application A's object answered {replay.status_code} {replay.text[:300]!r} "
        f"but {missing.status_code} {missing.text[:300]!r} on a missing one, "
        f"for {case.method} {case.formatted_path} (application A got {response.status_code})"
    )
    return None


@schemathesis.check
def errors_have_the_convene_error_shape(ctx, response, case):
    """Every 4xx and 5xx is JSON {"error": {"code", "message", "details"}} (ARCHITECTURE.md, Errors)."""
    if response.status_code < 400:
        return None
    content_type = (response.headers.get("content-type") or [""])[0]
    assert content_type.split(";")[0].strip() == "application/json", (
        f"{response.status_code} error with Content-Type {content_type!r}"
    )
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    assert (
        isinstance(error, dict)
        and set(body) == {"error"}
        and set(error) == {"code", "message", "details"}
        and isinstance(error["code"], str)
        and error["code"]
        and isinstance(error["message"], str)
        and isinstance(error["details"], dict)
    ), f"{response.status_code} error body is not Convene's error shape: {response.text[:300]!r}"
    return None
