"""Checks on admin pages shared by the apps' admin tests."""

from __future__ import annotations


def assert_shown_and_deletable_but_never_added_or_changed(client, changelist: str, row, shown: str) -> None:
    """The admin of system-written rows (core.admin.RecordAdminMixin): `changelist` is the model's
    admin URL, `row` one of its rows, `shown` a value its page must show. Deletes the row."""
    assert client.get(f"{changelist}add/").status_code == 403
    page = client.get(f"{changelist}{row.pk}/change/")
    assert page.status_code == 200 and shown in page.content.decode()
    assert client.post(f"{changelist}{row.pk}/change/", {"attempts": 7}).status_code == 403
    assert client.post(f"{changelist}{row.pk}/delete/", {"post": "yes"}).status_code == 302
    assert not type(row).objects.filter(pk=row.pk).exists()
