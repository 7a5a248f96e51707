"""Admins editing the organisation's lists at once (two tabs, two admins, two instances)."""
from __future__ import annotations

import pytest

from plugin.catalog.service import add_item, items, rename_item, set_active
from plugin.core.actor import Role
from tests.services.factories import make_actor, make_platform
from tests.services.test_concurrency import while_the_first_waits_to_commit


@pytest.mark.parametrize("kind", ["tools", "categories", "values"])
def test_two_admins_turning_off_the_last_two_items_at_once_leave_one_on(appctx, kind):
    platform = make_platform()
    admins = [make_actor(platform, f"admin-{i}", role=Role.ADMIN) for i in range(2)]
    listed = items(platform.organisation_id, kind)
    for item in listed[2:]:
        set_active(admins[0], kind, item.id, False)
    last_two = [item.id for item in listed[:2]]

    def turn_off(i):
        return lambda: set_active(admins[i], kind, last_two[i], False) and "off"

    results = while_the_first_waits_to_commit(appctx, turn_off(0), turn_off(1))
    assert results == ["off", "refused"]
    assert len(items(platform.organisation_id, kind)) == 1  # learners can still log: one tool, one category left


@pytest.mark.parametrize("spellings", [("Tabnine", "Tabnine"), ("Öneri Aracı", "ÖNERİ ARACI"),
                                       ("Öneri Aracı", "O\u0308neri  Aracı")])  # decomposed, two spaces
def test_the_same_item_added_twice_at_once_is_one_item(appctx, spellings):
    """A double click on Add (or two admins adding the same tool): one item, and no server error for the second."""
    platform = make_platform()
    admin = make_actor(platform, "admin", role=Role.ADMIN)
    before = len(items(platform.organisation_id, "tools"))

    def add(i):
        return lambda: add_item(admin, "tools", spellings[i]).id

    first, second = while_the_first_waits_to_commit(appctx, add(0), add(1))
    assert first == second
    assert len(items(platform.organisation_id, "tools")) == before + 1


def test_two_items_renamed_to_one_name_at_once_the_second_is_told_it_is_taken(appctx):
    platform = make_platform()
    admin = make_actor(platform, "admin", role=Role.ADMIN)
    a, b = (item.id for item in items(platform.organisation_id, "tools")[:2])
    results = while_the_first_waits_to_commit(appctx, lambda: rename_item(admin, "tools", a, "Tabnine").name,
                                              lambda: rename_item(admin, "tools", b, "TABNINE").name)
    assert results == ["Tabnine", "refused"]
    assert [item.name for item in items(platform.organisation_id, "tools")].count("Tabnine") == 1
