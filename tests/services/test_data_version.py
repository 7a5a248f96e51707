"""The data version behind the API's weak ETags: it moves when points are posted and with every kind of edit
those answers show (an experiment's edit, a membership's status, a name, an opt-out, a setting, a team, a
catalog name...), with the local day and when a challenge opens or closes, and not otherwise; it is read off
indexes, never by scanning the ledger or the experiments (BENCH B6: no read path touches the ledger)."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from plugin.challenges.schemas import ChallengeIn
from plugin.challenges.service import create_challenge
from plugin.core.actor import Role
from plugin.core.clock import utcnow
from plugin.experiments.service import update_experiment
from plugin.extensions import db
from plugin.insights import changes
from plugin.insights.models import DataChange
from plugin.insights.version import data_version, version_query
from plugin.leaderboards.service import set_opt_out
from plugin.settings.service import set_time_zone, time_zone_name
from plugin.teams.service import add_members, create_team, rename_team
from plugin.tenancy import service as tenancy
from plugin.tenancy.service import RosterEntry
from tests.services.factories import NOW, identity, later, log, make_actor, make_platform
from tests.services.test_concurrency import committing_thread


@pytest.fixture
def course(appctx):
    platform = make_platform()
    ada = make_actor(platform, "ada", name="Ada Lovelace")
    c = type("Course", (), {})()
    c.platform, c.ada = platform, ada
    c.bo = make_actor(platform, "bo", name="Bo Diddley")
    c.boss = make_actor(platform, "boss", Role.MANAGER)
    c.admin = make_actor(platform, "admin", Role.ADMIN)
    c.experiment = log(ada, later(1)).experiment
    db.session.commit()
    return c


def changes_logged() -> int:
    return db.session.scalar(select(func.count()).select_from(DataChange))


def test_a_new_entry_changes_the_version_and_nothing_changes_it_otherwise(course):
    before = data_version(course.ada.course_id, later(5))
    assert data_version(course.ada.course_id, later(5)) == before
    assert data_version(course.ada.course_id, later(5 + 3 * 60)) == before  # no hour in it any more
    log(course.ada, later(6))
    assert data_version(course.ada.course_id, later(6)) != before


def test_the_day_rolls_over_at_local_midnight(course):
    evening = NOW.replace(hour=20, minute=30)  # 23:30 in Istanbul (UTC+3), 20:30 in UTC
    set_time_zone(course.admin, "Europe/Istanbul", NOW)
    db.session.commit()
    before = data_version(course.ada.course_id, evening)
    assert data_version(course.ada.course_id, evening + timedelta(minutes=40)) != before  # 00:10 there
    assert data_version(course.ada.course_id, evening + timedelta(minutes=20)) == before


def test_the_zone_the_answer_reuses_is_in_the_version_even_when_its_change_row_is_overtaken(course):
    """The answer reuses the zone the version's statement read, but is read later: a zone change that commits in
    between, its change row below one the version already saw, must still move the next version, not be confirmed
    with 304 under the old zone's weeks (seen as a race in review; here its outcome, without the change row)."""
    noon = NOW.replace(hour=12)  # 15:00 in Istanbul, 13:00 in Berlin: the same day in both
    set_time_zone(course.admin, "Europe/Istanbul", NOW)
    db.session.commit()
    before = data_version(course.ada.course_id, noon)
    db.session.rollback()  # the request ends
    with db.engine.begin() as other:  # another instance's transaction, past the session hook: no change row
        other.execute(text("UPDATE organisation_settings SET time_zone = 'Europe/Berlin'"))
    after = data_version(course.ada.course_id, noon)
    assert after != before
    assert time_zone_name(course.ada.organisation_id) == "Europe/Berlin"  # what the answer built now would use


def test_a_challenge_opening_or_closing_changes_the_version(course):
    create_challenge(course.boss, ChallengeIn().load({
        "title": "Tries", "goal_kind": "count", "goal_value": "5", "starts_at": "2025-03-04T10:00",
        "ends_at": "2025-03-05T10:00"}), NOW)
    db.session.commit()
    before_start = data_version(course.ada.course_id, NOW.replace(day=4, hour=9))
    assert data_version(course.ada.course_id, NOW.replace(day=4, hour=9, minute=59)) == before_start
    open_ = data_version(course.ada.course_id, NOW.replace(day=4, hour=10, minute=1))
    assert open_ != before_start
    assert data_version(course.ada.course_id, NOW.replace(day=4, hour=23)) == open_
    assert data_version(course.ada.course_id, NOW.replace(day=5, hour=9)) != open_  # the next day
    assert data_version(course.ada.course_id, NOW.replace(day=5, hour=10, minute=1)) != data_version(
        course.ada.course_id, NOW.replace(day=5, hour=9))  # closed


def _edit_experiment(c):
    update_experiment(c.ada, c.experiment.id, {"title": "A better title"}, later(10))


def _membership_status(c):  # the roster no longer lists Bo
    tenancy.sync_members(c.ada.course_id, [
        RosterEntry(sub=s, role=r, lti_roles=(), active=True, name=n) for s, r, n in (
            ("ada", Role.LEARNER, "Ada Lovelace"), ("boss", Role.MANAGER, "Person boss"),
            ("admin", Role.ADMIN, "Person admin"))], later(10))


def _rename_at_launch(c):
    tenancy.provision(identity(c.platform, "ada", name="Ada King"), later(10))


def _opt_out(c):
    set_opt_out(c.ada, True, later(10))


def _time_zone(c):
    set_time_zone(c.admin, "Europe/Istanbul", later(10))


def _team(c):
    team = create_team(c.boss, {"name": "Red"}, later(10))
    db.session.commit()
    return lambda: rename_team(c.boss, team.id, {"name": "Blue"}, later(11))


def _team_member(c):
    team = create_team(c.boss, {"name": "Red"}, later(10))
    db.session.commit()
    return lambda: add_members(c.boss, team.id, [c.bo.user_id], later(11))


def _catalog_rename(c):
    from plugin.catalog.service import items, rename_item
    tool = items(c.ada.organisation_id, "tools")[0]
    rename_item(c.admin, "tools", tool.id, "Renamed tool")


@pytest.mark.parametrize("edit", [_edit_experiment, _membership_status, _rename_at_launch, _opt_out, _time_zone,
                                  _team, _team_member, _catalog_rename])
def test_each_kind_of_edit_changes_the_version(course, edit):
    prepared = edit(course) if edit in (_team, _team_member) else None
    db.session.commit()
    before = data_version(course.ada.course_id, later(20))
    (prepared or (lambda: edit(course)))()
    db.session.commit()
    assert data_version(course.ada.course_id, later(20)) != before


def test_opting_back_in_changes_the_version_too(course):
    set_opt_out(course.ada, True, later(10))
    db.session.commit()
    before = data_version(course.ada.course_id, later(20))
    set_opt_out(course.ada, False, later(11))
    db.session.commit()
    assert data_version(course.ada.course_id, later(20)) != before


def test_hot_paths_and_unchanged_relaunches_record_no_change_and_a_rollback_keeps_none(course):
    before = changes_logged()
    log(course.ada, later(30))  # an award: ledger, aggregates, contributions
    tenancy.provision(identity(course.platform, "ada", name="Ada Lovelace"), later(31))  # same name, new time
    db.session.commit()
    assert changes_logged() == before
    update_experiment(course.ada, course.experiment.id, {"title": "Rolled back"}, later(32))
    db.session.flush()
    db.session.rollback()
    assert changes_logged() == before


def test_an_award_committed_after_a_later_one_still_moves_the_version(course, app):
    """PostgreSQL: an award draws its ids in its preflight, so one that drew lower ids can commit after another
    award's higher ids. Read between the two commits, the version must still move when the first commits: else a
    client holding the board without its points is told 304 (nothing changed) until the next write anywhere."""
    if db.session.get_bind().dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time: ids are drawn in the order transactions commit")
    elsewhere = make_actor(make_platform("https://other-lms.example.org", organisation="Org B"), "cy")
    db.session.commit()
    drawn, release, errors = threading.Event(), threading.Event(), []

    def award_held_open():
        log(course.bo, later(7))  # drew its ids and wrote its rows; commits once released
        drawn.set()
        assert release.wait(30)

    late = committing_thread(app, "late award", award_held_open, errors)
    assert drawn.wait(30), errors
    log(elsewhere, later(8))  # another organisation's award: higher ids, committed first
    db.session.commit()
    seen = data_version(course.ada.course_id, later(9))  # what a client's copy, without Bo's points, was tagged
    db.session.rollback()
    release.set()
    late.join(30)
    assert errors == [] and not late.is_alive()
    assert data_version(course.ada.course_id, later(9)) != seen
    db.session.rollback()
    assert data_version(course.ada.course_id, later(9)) == data_version(course.ada.course_id, later(9))


def _postgresql_only():
    if db.session.get_bind().dialect.name != "postgresql":
        pytest.skip("the transactions still drawing ids are PostgreSQL's part of the version")


def test_a_transaction_that_draws_an_id_moves_the_version_while_it_runs_and_others_do_not(course):
    """PostgreSQL: a transaction that drew a ledger id (it may commit rows below the ids read) is in the version until
    it ends. One that only holds a transaction id (an API token's last use, a launch's session, ANALYZE) is not: under
    such traffic a client's copy is still confirmed with 304. Nor is one in another database of the same server (a
    neighbour application drawing from a sequence of the same name), nor this session's own draw."""
    _postgresql_only()
    from sqlalchemy import create_engine

    engine = db.session.get_bind()
    here = course.ada.course_id

    def version():
        try:
            return data_version(here, later(9))
        finally:
            db.session.rollback()

    before = version()
    neighbour, own = create_engine(engine.url.set(database="postgres")), create_engine(engine.url)
    try:
        with neighbour.connect() as other, own.connect() as mine:
            other.execute(text("CREATE TEMPORARY SEQUENCE ledger_entry_id_seq"))
            other.execute(text("SELECT pg_current_xact_id(), nextval('ledger_entry_id_seq')"))
            mine.execute(text("SELECT pg_current_xact_id()"))  # a writer of something else, running
            assert version() == before
            db.session.execute(text("SELECT nextval('ledger_entry_id_seq')"))  # this session's own draw
            assert data_version(here, later(9)) == before
            db.session.rollback()
            mine.execute(text("SELECT nextval('ledger_entry_id_seq')"))
            assert version() != before
            mine.rollback()
            assert version() == before
    finally:
        neighbour.dispose()
        own.dispose()


def test_the_apps_transactions_are_read_committed_whatever_the_servers_default(appctx):
    """PostgreSQL: an operator's default_transaction_isolation does not reach the app. Its row locks and unique
    constraints are written for read committed, and the data version names only the transactions still holding the
    sequences because the answer it tags is read under a later snapshot than its own: under repeatable read the answer
    would share the version's snapshot, and an award holding lower ids that committed between that snapshot and the
    version's lock read would be in neither (plugin/insights/version.py)."""
    _postgresql_only()
    import psycopg

    engine = db.session.get_bind()
    database = engine.url.database
    db.session.rollback()
    with engine.connect() as conn:
        conn.execute(text(f'ALTER DATABASE "{database}" SET default_transaction_isolation = \'repeatable read\''))
        conn.commit()
    engine.dispose()
    try:
        raw = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(raw) as plain:  # what any other client of this database now gets
            assert plain.execute("SHOW transaction_isolation").fetchone()[0] == "repeatable read"
        assert db.session.scalar(text("SHOW transaction_isolation")) == "read committed"
    finally:
        db.session.rollback()
        with engine.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{database}" RESET default_transaction_isolation'))
            conn.commit()
        engine.dispose()


def test_the_sequences_the_version_reads_hand_out_ids_in_order(appctx):
    """PostgreSQL: an id drawn after the version's lock read is higher than every id its snapshot saw, which the data
    version relies on: each table whose newest id is in it draws from its own sequence (the one whose holders it
    names), one id at a time (a cache per session would hand out lower ids after higher ones). A table added to the
    version must be made the same way."""
    _postgresql_only()
    from plugin.insights.version import _SEQUENCES

    defaults = dict(db.session.execute(text(
        "SELECT pg_get_serial_sequence(table_name, 'id'), column_default FROM information_schema.columns "
        "WHERE column_name = 'id' AND table_schema = current_schema()")).all())
    caches = dict(db.session.execute(text(
        "SELECT sequencename, cache_size FROM pg_sequences WHERE schemaname = current_schema()")).all())
    for sequence in _SEQUENCES:
        assert defaults[f"public.{sequence}"] == f"nextval('{sequence}'::regclass)"
        assert caches[sequence] == 1


def test_every_table_is_classified_for_the_data_version(appctx):
    groups = [set(changes.WATCHED), changes.COVERED, changes.DERIVED, changes.UNRELATED]
    classified = set().union(*groups)
    assert sum(len(g) for g in groups) == len(classified), "a table is in two groups"
    assert set(db.metadata.tables) - classified == set(), "say whether edits of this table change boards"
    assert classified - set(db.metadata.tables) == set()


def test_the_version_is_read_off_indexes_without_scanning_big_tables(course):
    engine = db.session.get_bind()
    sql = str(version_query(course.ada.course_id, NOW).compile(engine, compile_kwargs={"literal_binds": True}))
    big = ("ledger_entry", "experiment", "badge_award", "audit_event", "membership", "data_change")
    if engine.dialect.name == "postgresql":
        db.session.execute(text("SET LOCAL enable_seqscan = off"))  # an empty table would be scanned anyway
        plan = "\n".join(r[0] for r in db.session.execute(text("EXPLAIN " + sql)))
        # max(id): the first entry of the primary key read backwards, whatever the table's size
        unbounded = [t for t in big if f"Scan Backward using pk_{t} on {t}" not in plan]
        # the next challenge start and end: a range of the course's challenges on one of its indexes
        bounded = plan.count("using ix_challenge_course_")
    else:
        lines = [r[-1] for r in db.session.execute(text("EXPLAIN QUERY PLAN " + sql))]
        plan = "\n".join(lines)
        # SQLite's min/max optimisation shows as a bare SEARCH; a range or a scan would name an index or SCAN
        unbounded = [t for t in big if f"SEARCH {t}" not in lines]
        bounded = sum(1 for line in lines if line.startswith("SEARCH challenge USING")
                      and "INDEX ix_challenge_course_" in line and "course_id=" in line)
    assert "Seq Scan" not in plan and not [line for line in plan.splitlines()
                                           if line.startswith("SCAN") and line != "SCAN CONSTANT ROW"], plan
    assert unbounded == [] and bounded == 2, plan


def test_the_change_log_is_pruned_to_a_day_and_the_version_stays(course, cli):
    _edit_experiment(course)
    db.session.commit()
    update_experiment(course.ada, course.experiment.id, {"title": "Second edit"}, later(11))
    db.session.commit()
    assert changes_logged() >= 2
    version = data_version(course.ada.course_id, later(20))
    assert changes.prune(utcnow()) == 0  # nothing a day old yet
    logged = changes_logged()
    assert changes.prune(utcnow() + timedelta(days=2)) == logged - 1
    db.session.commit()
    assert changes_logged() == 1 and data_version(course.ada.course_id, later(20)) == version
    result = cli("outbox", "run")  # the every-minute cron prunes too
    assert result.exit_code == 0, result.output


def test_locking_a_persons_standing_records_no_change(course):
    """A reaction takes its author's membership row as their awards do, and PostgreSQL writes the row back as it is
    (tenancy.lock_standing) so an award waiting for it reads again: that is no edit. Recorded as one, every reaction
    anywhere moved the data version of every course, and boards, team progress and insights were built anew (a 200
    where a 304 was right) for a change none of them shows."""
    from plugin.community.service import react

    before = changes_logged()
    react(course.bo, course.experiment.id, "helpful", later(30))
    db.session.commit()
    assert changes_logged() == before
