"""Writing a fetched roster (tenancy.sync_members through lti.roster.apply) for a course of hundreds, on a real
database: a fixed handful of statements per chunk of members, not one per member (the course's membership rows are
locked until the commit, and each award in the course waits on its author's), with the same outcome a member-by-
member write had: newcomers added, leavers made inactive, names and addresses refreshed, an erased person left out,
an administrator kept one."""
from __future__ import annotations

import pytest
from sqlalchemy import event, select

from plugin.core.actor import Role
from plugin.core.clock import utcnow
from plugin.core.db import writing
from plugin.extensions import db
from plugin.insights.models import DataChange
from plugin.lti import roster
from plugin.tenancy import service as tenancy
from plugin.tenancy.models import Membership, User
from tests.services.factories import make_actor, make_platform

LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
SIZE, CHUNK = 250, 40  # several chunks of each kind of statement


def entry(i: int, **changes) -> tenancy.RosterEntry:
    values = {"sub": f"p{i}", "role": Role.LEARNER, "lti_roles": (LEARNER,), "active": True,
              "name": f"Person {i}", "email": f"p{i}@example.org", **changes}
    return tenancy.RosterEntry(**values)


def sync(course_id: int, entries: list[tenancy.RosterEntry]) -> tuple[str, list[str]]:
    """Apply the roster in a transaction of its own; returns the summary and the statements sent."""
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_args):
        statements.append(" ".join(statement.split()))

    fetched = roster.Fetched()
    fetched.entries = entries
    db.session.remove()
    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        with writing():
            summary = roster.apply(course_id, fetched, utcnow())
            db.session.commit()
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    return summary, statements


def changed_tables() -> set[str]:
    """What the last transaction's data_change row names."""
    db.session.remove()
    return set(db.session.scalar(select(DataChange.tables).order_by(DataChange.id.desc()).limit(1)).split(","))


def people(course_id: int) -> dict[str, tuple]:
    db.session.remove()
    return {row.sub: tuple(row)[1:] for row in db.session.execute(
        select(User.sub, User.name, User.email, Membership.role, Membership.status).join(
            Membership, Membership.user_id == User.id).where(Membership.course_id == course_id))}


@pytest.fixture
def course(appctx, monkeypatch):
    monkeypatch.setattr(tenancy, "ROSTER_CHUNK", CHUNK)
    platform = make_platform()
    admin = make_actor(platform, "p0", context_id="big", role=Role.ADMIN)  # on the roster as a learner below
    db.session.commit()
    return admin.course_id


def test_a_course_of_hundreds_syncs_in_a_handful_of_statements_per_chunk_with_every_change_made(course):
    roster_now = [entry(i) for i in range(SIZE)]
    summary, statements = sync(course, roster_now)
    # p0 was a member already: their LTI roles now as the roster lists them
    assert summary.startswith(f"{SIZE - 1} added, 1 updated, 0 deactivated")
    chunks = -(-SIZE // CHUNK)
    # per chunk: the newcomers looked up, their accounts made, their memberships made
    assert len(statements) <= 3 * chunks + 25, "\n".join(statements)
    found = people(course)
    assert len(found) == SIZE
    assert found["p7"] == ("Person 7", "p7@example.org", "learner", "active")
    assert found["p0"][2] == "admin"  # a roster lists course roles: only a launch takes the admin role away

    # Nothing changed: no member's row written (the course notes its sync; boards recount who counts)
    summary, statements = sync(course, roster_now)
    assert summary.startswith("0 added, 0 updated, 0 deactivated")
    assert changed_tables() == {"course"}
    assert not [s for s in statements if s.upper().startswith(("INSERT INTO USER_ACCOUNT", "UPDATE USER_ACCOUNT",
                                                                 "INSERT INTO MEMBERSHIP", "UPDATE MEMBERSHIP"))]

    # A tenth leave, a tenth are renamed, a tenth become managers, one new address, one newcomer.
    later = [entry(i, name=f"Person {i} Renamed") if i % 10 == 1 else
             entry(i, role=Role.MANAGER) if i % 10 == 2 else
             entry(i, email="new@example.org") if i == 3 else entry(i)
             for i in range(SIZE) if i % 10 != 5] + [entry(SIZE)]
    summary, statements = sync(course, later)
    assert summary.startswith(f"1 added, {SIZE // 10} updated, {SIZE // 10} deactivated")
    assert len(statements) <= 6 * chunks + 25, "\n".join(statements)
    found = people(course)
    assert found["p5"] == ("Person 5", "p5@example.org", "learner", "inactive")  # kept, not deleted
    assert found["p11"] == ("Person 11 Renamed", "p11@example.org", "learner", "active")
    assert found["p12"][2:] == ("manager", "active")
    assert found["p3"] == ("Person 3", "new@example.org", "learner", "active")
    assert found[f"p{SIZE}"] == (f"Person {SIZE}", f"p{SIZE}@example.org", "learner", "active")
    assert len(found) == SIZE + 1


def test_a_new_address_alone_changes_nothing_pages_show_but_a_new_name_or_status_does(course):
    """What the pages' data version hears of (their cached copies are dropped when it moves): names and standing,
    not e-mail addresses or LTI role strings."""
    sync(course, [entry(i) for i in range(3)])
    sync(course, [entry(0), entry(1, email="elsewhere@example.org", lti_roles=(LEARNER, "urn:other")), entry(2)])
    assert people(course)["p1"][1] == "elsewhere@example.org"
    assert changed_tables() == {"course"}
    sync(course, [entry(0), entry(1, name="Someone Else", email="elsewhere@example.org"), entry(2)])
    assert people(course)["p1"][0] == "Someone Else"
    assert changed_tables() == {"course", "user_account"}
    sync(course, [entry(0), entry(1, name="Someone Else", email="elsewhere@example.org")])
    assert people(course)["p2"][3] == "inactive"
    assert changed_tables() == {"course", "membership"}


def test_a_name_the_lms_withholds_never_blanks_the_one_known(course):
    sync(course, [entry(0), entry(1)])
    sync(course, [entry(0), entry(1, name=None, email=None)])
    assert people(course)["p1"][:2] == ("Person 1", "p1@example.org")


def test_someone_with_an_account_already_joins_the_course_with_it_and_no_second_one(course):
    """An account from another course of the platform (or a first launch while the roster was being read): the sync
    takes it, and refreshes its name from the roster."""
    platform_id = db.session.scalar(select(User.platform_id).where(User.sub == "p0"))
    db.session.add(User(platform_id=platform_id, sub="p1", name="From Launch", created_at=utcnow()))
    db.session.commit()
    summary, _ = sync(course, [entry(0), entry(1), entry(2)])
    assert summary.startswith("2 added")
    db.session.remove()
    assert db.session.scalars(select(User.name).where(User.sub == "p1")).all() == ["Person 1"]
