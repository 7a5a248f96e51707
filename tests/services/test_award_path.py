"""The award path's merged statements (ledger entry and totals in one statement on PostgreSQL, a person's board
rows moved in one UPDATE on SQLite, the preflight carrying the author's recent texts) and the Hot statements
they run as: boards, buckets and totals stay what a rebuild from the ledger gives, at their edges; cursor
listeners still see every statement; errors reach callers as SQLAlchemy's; the data version misses nothing."""
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from plugin.core.actor import Role
from plugin.core.db import Hot
from plugin.experiments.models import Experiment
from plugin.experiments.service import log_experiment
from plugin.extensions import db
from plugin.insights import changes
from plugin.leaderboards import rebuild
from plugin.leaderboards.models import BoardRank, BoardScore
from plugin.ledger.models import LedgerEntry, PointsTotal
from plugin.ledger.service import Posting, post_entry, reverse_entry
from plugin.settings.service import limits, update_limits
from tests.services.factories import NOW, experiment_data, log, make_actor, make_platform


@pytest.fixture
def ada(appctx):
    platform = make_platform()
    admin = make_actor(platform, "admin", role=Role.ADMIN)
    learner = make_actor(platform, "ada")
    return admin, learner


def _post(actor, key: str, amount: int, at=NOW) -> int | None:
    return post_entry(Posting(organisation_id=actor.organisation_id, course_id=actor.course_id,
                              user_id=actor.user_id, amount=amount, dimension="experimenting", source_type="manual",
                              source_id=None, key=key), at)


def _aggregates(user_id: int) -> tuple[dict, dict, dict]:
    boards = {b: p for b, p in db.session.execute(select(BoardScore.board, BoardScore.points).where(
        BoardScore.user_id == user_id))}
    buckets = {(b, p): n for b, p, n in db.session.execute(select(BoardRank.board, BoardRank.points,
                                                                  BoardRank.members))}
    totals = {d: p for d, p in db.session.execute(select(PointsTotal.dimension, PointsTotal.points).where(
        PointsTotal.user_id == user_id))}
    return boards, buckets, totals


def test_a_board_row_at_zero_moves_out_of_the_zero_bucket(ada):
    """A reversal leaves the person's rows at 0 points (still on the boards, in the 0 bucket); the next award
    moves them out of it, as a rebuild from the ledger says."""
    _admin, learner = ada
    first = _post(learner, "zero:1", 10)
    reverse_entry(first, "zero:1:reversed", NOW + timedelta(minutes=1))
    boards, buckets, _ = _aggregates(learner.user_id)
    assert boards and set(boards.values()) == {0}
    _post(learner, "zero:2", 5, NOW + timedelta(minutes=2))
    boards, buckets, totals = _aggregates(learner.user_id)
    assert set(boards.values()) == {5}
    assert all(buckets.get((board, 0), 0) == 0 for board in boards)
    assert totals == {"experimenting": 5, "total": 5}
    assert rebuild.verify(learner.organisation_id) == {}


def test_a_new_week_and_month_put_the_person_on_those_boards_and_move_the_rest(ada):
    _admin, learner = ada
    _post(learner, "week:1", 10)
    before, _, _ = _aggregates(learner.user_id)
    _post(learner, "week:2", 7, NOW + timedelta(days=31))  # another ISO week and another month
    after, _, _ = _aggregates(learner.user_id)
    assert set(after) > set(before)  # newcomer rows for the new week and month
    assert all(after[b] == 7 for b in set(after) - set(before))
    assert all(after[b] == before[b] + 7 for b in before if ":all:" in b)
    assert rebuild.verify(learner.organisation_id) == {}


def test_the_same_key_again_moves_no_total_board_or_bucket(ada):
    _admin, learner = ada
    assert _post(learner, "again:1", 10) is not None
    once = _aggregates(learner.user_id)
    assert _post(learner, "again:1", 10) is None
    assert _post(learner, "again:1", 99) is None
    assert _aggregates(learner.user_id) == once
    assert db.session.scalar(select(sa.func.count()).select_from(LedgerEntry).where(
        LedgerEntry.idempotency_key == "again:1")) == 1


def test_the_daily_cap_reached_exactly_pays_the_rest_and_then_nothing(ada):
    """The cap's edge through the whole path (preflight, facts, the ledger's one-statement posting): 25 of a cap
    of 25 is paid in full, the next experiment that day is logged without points, the books agree."""
    admin, learner = ada
    update_limits(admin, {**limits(admin.organisation_id).__dict__, "daily_points_cap": 25}, NOW)
    paid = [sum(r.points for r in log(learner, NOW + timedelta(minutes=i)).recognitions
                if r.dimension == "experimenting" and r.ledger_entry_id) for i in range(4)]
    assert paid[:2] == [10, 10] and paid[2] == 5 and paid[3] == 0
    _, _, totals = _aggregates(learner.user_id)
    assert totals["experimenting"] == db.session.scalar(select(sa.func.sum(LedgerEntry.amount)).where(
        LedgerEntry.user_id == learner.user_id, LedgerEntry.dimension == "experimenting"))
    assert rebuild.verify(learner.organisation_id) == {}


def test_an_award_below_zero_moves_within_the_negative_block_as_a_rebuild_says(ada):
    """Board rows and the buckets and blocks they move are written together at the end of an award (on PostgreSQL
    in one statement): a person far below zero (block -2) stays in their block, counted as a rebuild counts."""
    _admin, learner = ada
    _post(learner, "deep:1", -2000)
    log(learner, NOW + timedelta(minutes=1))
    boards, buckets, _ = _aggregates(learner.user_id)
    course_all = next(b for b in boards if b.startswith("c") and ":all:total" in b)
    assert boards[course_all] == -1990
    assert buckets[(course_all, -1990)] == 1 and buckets.get((course_all, -2000), 0) == 0
    assert buckets[(course_all + "#", -2)] == 1
    assert rebuild.verify(learner.organisation_id) == {}


def test_an_award_to_a_linked_identity_moves_the_persons_organisation_boards(appctx):
    """The organisation boards of linked identities belong to one person (board_holder): an experiment logged by
    the second identity moves the holder's organisation rows and its own course rows, in the award's one write."""
    from plugin.identity import service as linking
    from plugin.identity.people import board_holder

    moodle = make_platform(issuer="https://moodle.example.org", client_id="moodle-1", organisation="Org A")
    canvas = make_platform(issuer="https://canvas.instructure.com", client_id="1000042", organisation="Org A")
    first, second = make_actor(moodle, "ada"), make_actor(canvas, "ada-c")
    log(first)
    issued = linking.issue_code(first, NOW)
    linking.redeem_code(second, issued.code, NOW + timedelta(minutes=1))
    holder = board_holder(second.user_id)
    assert holder == first.user_id != second.user_id  # the first identity holds the person's organisation rows
    before = _aggregates(holder)[0]
    log(second, NOW + timedelta(minutes=2), title="Another experiment entirely", tried="Asked for a quiz")
    after = _aggregates(holder)[0]
    organisation_all = f"o{second.organisation_id}:all:total"
    assert after[organisation_all] == before[organisation_all] + 10
    assert rebuild.verify(second.organisation_id) == {}


def test_cursor_listeners_see_every_statement_of_an_award(ada):
    """Hot statements go to the DBAPI cursor directly, yet listeners (the bench's statement count, tracing) still
    see them, with their parameters."""
    _admin, learner = ada
    log(learner)  # the first award of a period inserts rows the next ones only move
    seen: list[str] = []

    def listen(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", listen)
    try:
        log(learner, NOW + timedelta(minutes=5), title="A second, different experiment")
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", listen)
    text = "\n".join(seen)
    for table in ("experiment", "member_stat", "ledger_entry", "points_total", "board_score", "board_rank"):
        assert table in text, f"no statement on {table} seen"
    assert sum("INSERT INTO ledger_entry" in s for s in seen) == 1


def test_the_logged_experiment_reads_after_the_commit_without_a_query_and_merges_back_to_change(ada):
    """What log_experiment returns stays readable once committed (the page it redirects to is built from its id)
    without reloading it; merged back into the session it is the row, and changes persist."""
    _admin, learner = ada
    logged = log(learner, title="Drafted the rota with it")
    db.session.commit()
    seen: list[str] = []

    def listen(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", listen)
    try:
        assert (logged.experiment.title, logged.experiment.user_id) == ("Drafted the rota with it", learner.user_id)
        assert logged.experiment.id > 0 and logged.experiment.created_at is not None
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", listen)
    assert seen == []
    row = db.session.merge(logged.experiment)
    row.title = "Drafted the holiday rota with it"
    db.session.commit()
    assert db.session.scalar(select(Experiment.title).where(Experiment.id == logged.experiment.id)) == \
        "Drafted the holiday rota with it"


def test_an_error_in_a_hot_statement_reaches_the_caller_as_sqlalchemys(ada):
    from plugin.experiments.service import _INSERT

    _admin, learner = ada
    row = {column.key: None for column in Experiment.__table__.columns if column.key != "id"}
    row.update(organisation_id=learner.organisation_id, course_id=learner.course_id, user_id=learner.user_id,
               submission_key="k", title="t", task_category_id=None, tried="x", outcome="worked",
               sensitive_data="no", visibility="course", created_at=NOW)  # task_category_id may not be NULL
    with pytest.raises(sa.exc.IntegrityError):
        _INSERT.scalar(db.session, row)
    db.session.rollback()
    assert db.session.scalar(select(sa.func.count()).select_from(Experiment)) == 0  # the session goes on


def test_hot_statements_write_nothing_the_data_version_watches(app):
    """The session hook that adds a data_change row does not see Hot statements: each may only write tables
    whose writes the data version leaves to ids it reads anyway (insert-only tables, read models), or tables
    nothing it covers shows (changes.UNRELATED: OIDC states, launch sessions), or write a row back unchanged."""
    import re

    from sqlalchemy.dialects import postgresql, sqlite

    import plugin.experiments.service  # noqa: F401 - their Hot statements are built at import
    import plugin.leaderboards.aggregates  # noqa: F401
    import plugin.ledger.service  # noqa: F401
    import plugin.lti.session  # noqa: F401
    from plugin.lti import shared_store

    shared_store._db_statements()  # built on first use

    assert Hot.registry
    for hot in Hot.registry:
        texts = []
        for dialect in (sqlite.dialect(), postgresql.dialect()):
            try:
                statement = hot._build(dialect.name) if callable(hot._build) else hot._build
                texts.append(str(statement.compile(dialect=dialect)))
            except sa.exc.CompileError:
                continue  # a statement written for the other database
        assert texts
        for text in texts:
            # A row written back as it is (experiments.service's turn on the author's membership row) changes
            # nothing a memo holds or a page shows.
            text = re.sub(r"UPDATE (\w+) SET (\w+)=\1\.\2 WHERE", "", text)
            written = set(re.findall(r"(?:INSERT INTO|(?<!DO )UPDATE|DELETE FROM) (\w+)", text))
            assert written <= set(hot.writes), (written, hot.writes)  # the memo forgets what is written
            for table in written - (changes.COVERED | changes.DERIVED | changes.UNRELATED):
                assert not changes.WATCHED[table].inserts and not re.search(rf"((?<!DO )UPDATE|DELETE FROM) {table}\b", text)


@pytest.mark.parametrize("moment", [
    NOW, NOW.replace(microsecond=0), NOW.replace(microsecond=7), NOW.astimezone(timezone(timedelta(hours=-5))),
    NOW.astimezone(timezone(timedelta(hours=14))).replace(year=999), datetime(2026, 3, 29, 1, 30, tzinfo=timezone.utc)])
def test_hot_statements_write_sqlite_timestamps_exactly_as_sqlalchemy_does(moment):
    """Hot statements on SQLite write UTC timestamps with their own one-call formatter: the text must be the one
    SQLAlchemy's UTCDateTime and DATETIME write (range reads compare these strings)."""
    from sqlalchemy.dialects import sqlite

    from plugin.core.db import UTCDateTime, sqlite_utc_text

    dialect = sqlite.dialect()
    reference = UTCDateTime().dialect_impl(dialect).bind_processor(dialect)
    assert sqlite_utc_text(moment) == reference(moment)
    with pytest.raises(ValueError):
        sqlite_utc_text(moment.replace(tzinfo=None))


def test_every_statement_of_an_award_is_converted_once_by_psycopg(ada, db_kind, monkeypatch):
    """psycopg parses a statement's placeholders once per text only up to 4 KB and 50 parameters unless told
    otherwise (core.db): no statement of an award goes down its parse-every-time path."""
    if db_kind != "postgresql":
        pytest.skip("psycopg is PostgreSQL's driver")
    from psycopg import _queries

    _admin, learner = ada
    log(learner, NOW, title="A first experiment")  # the first award of a period inserts rows the next only move
    parsed_again = []
    uncached = _queries._query2pg_nocache

    def counting(query, *args, **kwargs):
        parsed_again.append(bytes(query)[:60])
        return uncached(query, *args, **kwargs)

    monkeypatch.setattr(_queries, "_query2pg_nocache", counting)
    log(learner, NOW + timedelta(minutes=5), title="Yet another experiment")
    assert parsed_again == []


@pytest.mark.parametrize("values", [
    [], ["c12:all:total", "o3:2026-W48:experimenting#"],
    ['a "quote"', "back\\slash", "com,ma", "{brace}", " spaces ", "NULL", "", "çığ Ö", None]])
def test_hot_statements_send_text_arrays_that_postgresql_reads_back_exactly(appctx, db_kind, values):
    """PostgreSQL: Hot statements send ARRAY(String) parameters as array text (core.db.pg_text_array): quotes,
    backslashes, commas, braces, spaces, the word NULL, empty and non-ASCII strings and NULLs arrive as given."""
    if db_kind != "postgresql":
        pytest.skip("arrays are PostgreSQL's")
    hot = Hot(select(sa.bindparam("xs", type_=sa.ARRAY(sa.String))))
    assert hot.scalar(db.session, {"xs": values}) == values


def test_hot_statements_send_integer_arrays_that_postgresql_reads_back_exactly(appctx, db_kind):
    if db_kind != "postgresql":
        pytest.skip("arrays are PostgreSQL's")
    hot = Hot(select(sa.bindparam("xs", type_=sa.ARRAY(sa.BigInteger))))
    values = [0, -5, 2**40, None, 7]
    assert hot.scalar(db.session, {"xs": values}) == values
    assert hot.scalar(db.session, {"xs": []}) == []


def test_an_awards_arrays_go_as_text_not_through_psycopgs_list_dumper(ada, db_kind, monkeypatch):
    """An award's statements pass ~100 array elements; psycopg's list dumper handles them one by one in Python
    (about as much client time as the rest of those statements). None of an award's arrays takes that path."""
    if db_kind != "postgresql":
        pytest.skip("arrays are PostgreSQL's")
    from psycopg.types import array

    _admin, learner = ada
    log(learner, NOW, title="A first experiment")
    dumped = []
    for dumper in (array.ListDumper, array.ListBinaryDumper):
        original = dumper.dump
        monkeypatch.setattr(dumper, "dump",
                            lambda self, obj, _original=original: dumped.append(obj) or _original(self, obj))
    log(learner, NOW + timedelta(minutes=5), title="Yet another experiment")
    boards, _buckets, totals = _aggregates(learner.user_id)
    assert dumped == [] and totals["total"] > 0 and boards


def test_bulk_insert_writes_text_and_numbers_exactly(ada):
    """bulk_insert (the rebuilds' writer: arrays per column on PostgreSQL, an executemany on SQLite): quotes,
    backslashes, commas, braces, the word NULL, empty and non-ASCII keys and any integer arrive as given."""
    from plugin.core.db import bulk_insert
    from plugin.leaderboards.models import MemberStat

    _admin, learner = ada
    metrics = ['a "quote"', "back\\slash", "com,ma", "{brace}", " spaces ", "NULL", "", "çığ Ö"]
    rows = [{"course_id": learner.course_id, "user_id": learner.user_id, "period": "all", "metric": m,
             "value": v} for m, v in zip(metrics, [0, -5, 2**40, 7, 1, 2, 3, 4])]
    bulk_insert(db.session, MemberStat.__table__, rows)
    stored = dict(db.session.execute(select(MemberStat.metric, MemberStat.value).where(
        MemberStat.user_id == learner.user_id, MemberStat.period == "all")).all())
    assert stored == {r["metric"]: r["value"] for r in rows}


def test_an_author_whose_membership_is_gone_is_refused_after_one_preflight_not_two(ada):
    """`unchanged` compares the author's membership row version before and after taking its lock; with no row at all
    there is nothing to wait for, so the refusal comes without reading everything a second time."""
    from plugin.errors import Forbidden
    from plugin.tenancy.models import Membership, User

    _admin, learner = ada
    db.session.execute(sa.delete(Membership).where(Membership.user_id == learner.user_id))
    db.session.get(User, learner.user_id).erased_at = NOW
    db.session.commit()
    preflights: list[str] = []

    def seen(_conn, _cursor, statement, *_args):
        if "json_agg" in statement or "json_group_array" in statement:  # the preflight's recent entries
            preflights.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", seen)
    try:
        with pytest.raises(Forbidden):
            log(learner, title="After the erasure")
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", seen)
    db.session.rollback()
    assert len(preflights) == 1
    assert db.session.scalar(select(sa.func.count()).select_from(Experiment)) == 0


def _statements_of(action) -> list[str]:
    seen: list[str] = []

    def listen(_conn, _cursor, statement, *_args):
        seen.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", listen)
    try:
        result = action()
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", listen)
    return seen, result


def test_an_award_on_postgresql_is_its_preflight_and_one_write(ada, db_kind):
    """PostgreSQL: once the process keeps the organisation's configuration, an experiment's award reads everything its
    rules ask in its preflight and writes every row in one statement at its end (ledger/pending.py): two round trips,
    and the rows, totals, boards and ranks are what a rebuild from the ledger gives."""
    if db_kind != "postgresql":
        pytest.skip("the held-back write is PostgreSQL's")
    _admin, learner = ada
    log(learner)
    db.session.commit()  # a new transaction: the configuration comes from this process's memory
    data = experiment_data(learner.organisation_id, title="A second one")
    seen, logged = _statements_of(lambda: log_experiment(learner, data, NOW + timedelta(minutes=5)))
    assert [r.points for r in logged.recognitions if r.ledger_entry_id] == [10]
    assert len(seen) == 2, seen
    assert "FOR KEY SHARE" in seen[0] and "INSERT" not in seen[0]
    assert "INSERT INTO experiment" in seen[1] and "INSERT INTO ledger_entry" in seen[1]
    db.session.commit()
    entry = db.session.scalar(select(LedgerEntry).where(LedgerEntry.source_id == logged.experiment.id))
    assert entry.amount == 10 and entry.user_id == learner.user_id
    assert db.session.get(Experiment, logged.experiment.id).title == "A second one"
    assert rebuild.verify(learner.organisation_id) == {}


def test_an_entry_key_taken_meanwhile_stops_the_award_and_pays_nothing(ada, db_kind):
    """The entries an award holds back are written with ON CONFLICT DO NOTHING. Under the author's lock no other
    request can take their keys; should one have been taken all the same, the award stops with a conflict (the caller
    rolls it back) instead of reporting points it did not post, and the books stay whole."""
    from plugin.errors import Conflict
    from plugin.rules.models import Rule

    if db_kind != "postgresql":
        pytest.skip("the held-back write is PostgreSQL's")
    _admin, learner = ada
    log(learner)
    db.session.commit()
    rule_id = db.session.scalar(select(Rule.id).where(Rule.organisation_id == learner.organisation_id,
                                                      Rule.condition == "each_experiment"))
    last, called = db.session.execute(sa.text("SELECT last_value, is_called FROM experiment_id_seq")).one()
    next_id = last + 1 if called else last
    post_entry(Posting(organisation_id=learner.organisation_id, course_id=learner.course_id, user_id=learner.user_id,
                       amount=3, dimension="experimenting", source_type="manual", source_id=None,
                       key=f"rule:{rule_id}:experiment:{next_id}"), NOW)
    db.session.commit()
    before = db.session.scalar(select(sa.func.count()).select_from(LedgerEntry))
    with pytest.raises(Conflict):
        log(learner, NOW + timedelta(minutes=5), title="Its key was taken")
    db.session.rollback()
    assert db.session.scalar(select(sa.func.count()).select_from(Experiment)) == 1
    assert db.session.scalar(select(sa.func.count()).select_from(LedgerEntry)) == before
    assert rebuild.verify(learner.organisation_id) == {}


def test_a_configuration_changed_elsewhere_is_read_again_before_the_rules_ask(ada, db_kind):
    """The preflight's facts are read with the configuration this process keeps; when another instance changed it
    (here the time zone, which decides the day a daily cap counts), the preflight's version tells, and the facts
    are read again with the new one: an award the same local day as the last one pays only what the cap leaves."""
    from plugin.settings.service import set_time_zone
    from plugin.tenancy import config_cache
    from plugin.tenancy.models import Platform

    admin, learner = ada
    update_limits(admin, {**limits(admin.organisation_id).__dict__, "daily_points_cap": 15}, NOW)
    db.session.commit()
    late = datetime(2025, 3, 3, 23, 30, tzinfo=timezone.utc)  # 4 March in Tokyo, 08:30
    assert sum(r.points for r in log(learner, late).recognitions if r.ledger_entry_id) == 10
    db.session.commit()
    log(make_actor(db.session.get(Platform, learner.platform_id), "bea"), late)  # a colleague's award meanwhile
    db.session.commit()
    # the process keeps the configuration (UTC), as of this version, whatever earlier tests left in its memory
    assert config_cache.latest(learner.organisation_id, "settings", "asking_rules") is not None
    with db.engine.connect() as elsewhere:  # another instance's change, committed
        elsewhere.execute(sa.text("UPDATE organisation_settings SET time_zone = 'Asia/Tokyo' "
                                  "WHERE organisation_id = :o"), {"o": learner.organisation_id})
        elsewhere.commit()
    paid = sum(r.points for r in log(learner, late + timedelta(hours=1)).recognitions if r.ledger_entry_id)
    assert paid == 5  # the same day in Tokyo: the cap's room; in UTC, a new day's 10
    assert set_time_zone(admin, "Asia/Tokyo", NOW) is False  # the change was seen
