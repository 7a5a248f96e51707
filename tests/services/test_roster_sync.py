"""Writing a fetched roster (tenancy.sync_members through lti.roster.apply) for a course of hundreds, on a real
database: a fixed handful of statements per chunk of members, not one per member (the course's membership rows are
locked until the commit, and each award in the course waits on its author's), with the same outcome a member-by-
member write had: newcomers added, leavers made inactive, names and addresses refreshed, an erased person left out,
an administrator kept one."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import event, func, select

from plugin.core.actor import Role
from plugin.core.clock import utcnow
from plugin.core.db import writing
from plugin.extensions import db
from plugin.insights.models import DataChange
from plugin.lti import roster
from plugin.tenancy import service as tenancy
from plugin.tenancy.models import Membership, User
from tests.services.factories import NOW, identity, make_actor, make_platform
from tests.services.test_concurrency import committing_thread, until_it_waits_for_a_lock

LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
SIZE, CHUNK = 250, 40  # several chunks of each kind of statement


def entry(i: int | str, **changes) -> tenancy.RosterEntry:
    sub = f"p{i}" if isinstance(i, int) else i
    values = {"sub": sub, "role": Role.LEARNER, "lti_roles": (LEARNER,), "active": True,
              "name": f"Person {i}", "email": f"{sub}@example.org", **changes}
    return tenancy.RosterEntry(**values)


def apply(course_id: int, entries: list[tenancy.RosterEntry]) -> str:
    """The write half of a sync, in the caller's transaction."""
    return roster.apply(course_id, roster.Fetched(entries=entries), NOW)


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


# --- syncs, launches and each other, at once (PostgreSQL row locks) ---------------------------------------------
LATER = NOW + timedelta(minutes=5)


def _postgresql_only() -> None:
    if db.engine.dialect.name != "postgresql":
        pytest.skip("row locks: PostgreSQL")


def _paused_when(thread: str, starts: str):
    """A cursor listener pausing `thread` once, after its first statement starting with `starts`: (listener,
    paused, go)."""
    paused, go = threading.Event(), threading.Event()

    def pause(_conn, _cursor, statement, *_args):
        if threading.current_thread().name == thread and statement.lstrip().upper().startswith(starts) \
                and not paused.is_set():
            paused.set()
            go.wait(30)

    return pause, paused, go


def _both(appctx, first: tuple, second: tuple, starts: str) -> tuple[list, dict]:
    """Run `first` (name, work) until its first statement starting with `starts`, then `second` until it waits
    for a lock, then let both finish; returns (errors, results)."""
    pause, paused, go = _paused_when(first[0], starts)
    errors: list[BaseException] = []
    results: dict = {}
    event.listen(db.engine, "after_cursor_execute", pause)
    try:
        one = committing_thread(appctx, first[0], first[1], errors, results)
        assert paused.wait(30)
        two = committing_thread(appctx, second[0], second[1], errors, results)
        until_it_waits_for_a_lock(two)
        go.set()
        one.join(60)
        two.join(60)
        assert not one.is_alive() and not two.is_alive()
    finally:
        go.set()
        event.remove(db.engine, "after_cursor_execute", pause)
    return errors, results


def test_two_courses_syncing_at_once_after_the_lms_renamed_shared_people_both_go_through(appctx):
    """Two courses of one platform share people; the LMS changed X's name and Y's and W's addresses, and both
    courses' background syncs (one per course after a launch, several app instances) write them at once. Course A
    lists W, X, Y; course B lists X, Y. Each goes through, one waiting for the other; none fails with a deadlock."""
    _postgresql_only()
    platform = make_platform()
    course_a = make_actor(platform, "boss-a", Role.MANAGER, context_id="a").course_id
    course_b = make_actor(platform, "boss-b", Role.MANAGER, context_id="b").course_id
    db.session.commit()
    with writing():  # accounts made in the order X, Y, W
        apply(course_b, [entry("x"), entry("y")])
        apply(course_a, [entry("w"), entry("x"), entry("y")])
        db.session.commit()
    later = {"w": entry("w", email="w@new.example.org"), "x": entry("x", name="X Renamed"),
             "y": entry("y", email="y@new.example.org")}

    errors, results = _both(appctx, ("sync-a", lambda: apply(course_a, [later["w"], later["x"], later["y"]])),
                            ("sync-b", lambda: apply(course_b, [later["x"], later["y"]])), "UPDATE USER_ACCOUNT")
    assert errors == [], f"a roster sync failed: {errors!r}"
    assert results["sync-a"].startswith("0 added, 0 updated, 0 deactivated")
    db.session.remove()
    assert dict(db.session.execute(select(User.sub, User.name).where(User.sub.in_(["w", "x", "y"]))).all()) == {
        "w": "Person w", "x": "X Renamed", "y": "Person y"}


def test_two_courses_syncing_the_same_newcomers_listed_in_other_orders_both_go_through(appctx, monkeypatch):
    """Two courses' rosters list the same two new people, in opposite orders (LMSs order rosters as they like):
    their accounts are made in one order by both syncs, so one waits for the other instead of each holding the
    account the other makes next."""
    _postgresql_only()
    monkeypatch.setattr(tenancy, "ROSTER_CHUNK", 1)  # a statement per account: the syncs can interleave
    platform = make_platform()
    course_a = make_actor(platform, "boss-a", Role.MANAGER, context_id="a").course_id
    course_b = make_actor(platform, "boss-b", Role.MANAGER, context_id="b").course_id
    db.session.commit()

    errors, results = _both(appctx, ("sync-a", lambda: apply(course_a, [entry("new-1"), entry("new-2")])),
                            ("sync-b", lambda: apply(course_b, [entry("new-2"), entry("new-1")])),
                            "INSERT INTO USER_ACCOUNT")
    assert errors == [], f"a roster sync failed: {errors!r}"
    assert results["sync-a"].startswith("2 added") and results["sync-b"].startswith("2 added")
    db.session.remove()
    assert db.session.scalar(select(func.count()).select_from(User).where(User.sub.in_(["new-1", "new-2"]))) == 2


@pytest.mark.parametrize("first", ["launch", "sync"])
def test_a_first_launch_racing_the_sync_that_lists_the_person_makes_one_account_and_one_membership(appctx, first):
    """Nadia launches Tinker for the first time while the course's roster sync, which lists her, writes: whichever
    makes her account first, both go through, and she has one account and one membership."""
    platform = make_platform()
    course_id = make_actor(platform, "boss", Role.MANAGER, context_id="a").course_id
    db.session.commit()
    who = identity(platform, "nadia", Role.LEARNER, "a", "Nadia N", email="nadia@example.org")
    work = {"launch": lambda: tenancy.provision(who, NOW)[1].id,
            "sync": lambda: apply(course_id, [entry("boss", role=Role.MANAGER), entry("nadia", name="Nadia N")])}
    second = "sync" if first == "launch" else "launch"
    if db.engine.dialect.name != "postgresql":  # SQLite: writers take turns whole; one after the other
        for name in (first, second):
            with writing():
                work[name]()
                db.session.commit()
            db.session.remove()
    else:
        errors, _results = _both(appctx, (first, work[first]), (second, work[second]), "INSERT INTO USER_ACCOUNT")
        assert errors == [], f"{errors!r}"
    db.session.remove()
    assert db.session.scalar(select(func.count()).select_from(User).where(User.sub == "nadia")) == 1
    assert db.session.execute(select(Membership.role, Membership.status).join(User, User.id == Membership.user_id)
                              .where(User.sub == "nadia", Membership.course_id == course_id)).all() == [
        ("learner", "active")]
    assert db.session.scalar(select(User.name).where(User.sub == "nadia")) == "Nadia N"


def test_a_returning_member_launching_while_the_sync_renames_them_both_go_through(appctx):
    """The LMS renamed Xavier; his course's roster sync (which lists the new name) and his own launch (which brings
    it too) run at once. Both go through: the launch waits for his membership row, which the sync holds, before
    writing his account (it wrote the account first, and one of the two failed with a deadlock)."""
    _postgresql_only()
    platform = make_platform()
    course_id = make_actor(platform, "boss", Role.MANAGER, context_id="a").course_id
    make_actor(platform, "x", Role.LEARNER, context_id="a", name="Person x")
    renamed = identity(platform, "x", Role.LEARNER, "a", "X New")
    db.session.commit()

    errors, _results = _both(
        appctx, ("sync", lambda: apply(course_id, [entry("boss", role=Role.MANAGER, name="Person boss"),
                                                  entry("x", name="X New")])),
        ("launch", lambda: tenancy.provision(renamed, LATER)[1].id), "SELECT MEMBERSHIP.ID")
    assert errors == [], f"{errors!r}"
    db.session.remove()
    assert db.session.scalar(select(User.name).where(User.sub == "x")) == "X New"
