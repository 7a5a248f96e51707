"""Recompute every board and team aggregate (team standings included), and the experiment tallies the rules read
(facts.tallies), from the truth: the ledger, experiments, confirmed helps and badge awards. `flask ledger rebuild-aggregates` runs it; `verify()` rebuilds inside a savepoint, compares
with what the writers maintained and rolls back, so it can run on a live database.

Boards are summed by the database (see _boards); member figures are gathered in Python and written in batches.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from itertools import islice

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    column,
    delete,
    exists,
    func,
    or_,
    select,
    text,
    true,
)

from plugin.badges.models import BadgeAward
from plugin.challenges.models import Challenge
from plugin.core.db import BULK_BATCH, UTCDateTime, batch_memory, bulk_insert
from plugin.experiments.models import Experiment
from plugin.extensions import db
from plugin.facts import tallies
from plugin.facts.models import ExperimentTally
from plugin.identity.people import holders
from plugin.leaderboards import aggregates as agg
from plugin.leaderboards import keys
from plugin.leaderboards.models import BoardRank, BoardScore, MemberStat, TeamStanding, TeamStat
from plugin.leaderboards.periods import ALL, keys_for, local_days, month_key, week_key
from plugin.leaderboards.rebuild_teams import rebuild_teams, team_points
from plugin.ledger.models import TOTAL
from plugin.peer_help.models import PeerHelp
from plugin.settings.service import time_zone
from plugin.teams.models import Team
from plugin.tenancy.models import Course

TABLES = (BoardScore, BoardRank, MemberStat, TeamStat, TeamStanding, ExperimentTally)


@dataclass
class Rebuilt:
    board_rows: int = 0
    member_rows: int = 0
    tally_rows: int = 0
    teams: int = 0
    challenges: int = 0


@dataclass
class _Scope:
    organisation_id: int | None
    courses: dict[int, int] = field(default_factory=dict)  # course id -> organisation id

    def where_course(self, column):
        return column.in_(list(self.courses)) if self.organisation_id is not None else true()


def _scope(organisation_id: int | None) -> _Scope:
    query = select(Course.id, Course.organisation_id)
    if organisation_id is not None:
        query = query.where(Course.organisation_id == organisation_id)
    return _Scope(organisation_id, dict(db.session.execute(query).all()))


def _boards_in(model, scope: _Scope):
    """The rows of board_score / board_rank a rebuild of this scope owns."""
    if scope.organisation_id is None:
        return true()
    prefixes = [keys.organisation_scope(scope.organisation_id) + ":"] + [keys.course_scope(c) + ":" for c in scope.courses]
    challenge_boards = [keys.board_key(keys.challenge_scope(c), "all", "total") for c in db.session.scalars(
        select(Challenge.id).where(Challenge.course_id.in_(list(scope.courses))))]
    return or_(model.board.in_(challenge_boards + [keys.blocks_key(b) for b in challenge_boards]),
               *[model.board.startswith(p, autoescape=True) for p in prefixes])


def _wipe(scope: _Scope) -> None:
    """Member and team figures are written afresh; boards are brought in line with the rebuilt rows (_boards)."""
    if scope.organisation_id is None:
        for model in (MemberStat, TeamStat, TeamStanding, ExperimentTally):
            db.session.execute(delete(model))
        return
    db.session.execute(delete(MemberStat).where(MemberStat.course_id.in_(list(scope.courses))))
    db.session.execute(delete(ExperimentTally).where(ExperimentTally.course_id.in_(list(scope.courses))))
    db.session.execute(delete(TeamStanding).where(TeamStanding.course_id.in_(list(scope.courses))))
    db.session.execute(delete(TeamStat).where(TeamStat.team_id.in_(
        select(Team.id).where(Team.course_id.in_(list(scope.courses))))))


# --- boards, in the database ------------------------------------------------------------------------------
# The ledger is summed by the database in three passes, not walked row by row in Python (which cost ten times
# a bulk fill of the same tables):
# 1. every counted entry, summed per course, person, dimension, week and month of the organisation (its local
#    day found in a small calendar of the organisations' local days, built here: see _day_of);
# 2. those sums spread over the boards they feed (course and organisation, all time / ISO week / month, the
#    entry's dimension and the total; a linked person's organisation rows under their holder), summed per
#    board and person; challenge boards straight from the ledger, as their windows are not whole days;
# 3. board_rank's buckets counted from those rows (its blocks from the buckets), the teams' points from step 1's
#    sums (rebuild_teams), and board_score and board_rank brought in line (_write).
# (A colon before a word is escaped, '\\:total': text() would read it as a parameter.)
# Working tables are temporary and dropped at the end (or with the transaction / verify()'s savepoint).
_TEMP = MetaData()
_DAY = Table("rebuild_day", _TEMP, Column("id", Integer, primary_key=True), Column("organisation_id", Integer),
             Column("starts_at", UTCDateTime), Column("week", String(10)), Column("month", String(10)),
             Index("ix_rebuild_day", "organisation_id", "starts_at"), prefixes=["TEMPORARY"])
_HOLDER = Table("rebuild_holder", _TEMP, Column("user_id", Integer, primary_key=True), Column("holder_id", Integer),
                prefixes=["TEMPORARY"])
_FINE = Table("rebuild_fine", _TEMP, Column("course_id", Integer), Column("organisation_id", Integer),
              Column("user_id", Integer), Column("holder_id", Integer), Column("dimension", String(40)),
              Column("week", String(10)), Column("month", String(10)), Column("amount", BigInteger),
              prefixes=["TEMPORARY"])
_BOARD = Table("rebuild_board", _TEMP, Column("board", String(80), primary_key=True),
               Column("user_id", Integer, primary_key=True), Column("points", BigInteger), prefixes=["TEMPORARY"])
_RANK = Table("rebuild_rank", _TEMP, Column("board", String(80), primary_key=True),
              Column("points", BigInteger, primary_key=True, autoincrement=False), Column("members", Integer),
              prefixes=["TEMPORARY"])
_WORK = (_DAY, _HOLDER, _FINE, _BOARD, _RANK)

_EARNED_AT = "COALESCE(o.created_at, l.created_at)"  # a reversal counts when the entry it cancels was earned


def _counted(whole_ledger: bool = False) -> str:
    """The entries that count on boards: the writers' own test (aggregates.eligible_members), inlined.
    `whole_ledger`: the statement reads every entry; SQLite then walks the table in storage order rather than
    through ix_ledger_course_user, which fetched each row at random (~20% of the pass at 200k rows)."""
    dialect = db.session.get_bind().dialect
    eligible = agg.eligible_members().compile(dialect=dialect, compile_kwargs={"literal_binds": True})
    scan = " NOT INDEXED" if whole_ledger and dialect.name == "sqlite" else ""
    return (f"FROM ledger_entry l{scan} JOIN course c ON c.id = l.course_id JOIN ({eligible}) m "
            "ON m.course_id = l.course_id AND m.user_id = l.user_id LEFT JOIN ledger_entry o ON o.id = l.reverses_id")


def _spread() -> str:
    """Step 2's SELECT: each week's and month's sums onto every board they feed, summed per board and person within
    each part. No two parts make the same board, so their rows go in as they come: grouping the parts' rows
    together, by the long board keys, once cost more than the twelve small groupings by numbers and a short key."""
    parts = []
    for prefix, scope, person in (("c", "f.course_id", "f.user_id"), ("o", "f.organisation_id", "f.holder_id")):
        for period in ("'all'", "f.week", "f.month"):
            by_period = "" if period == "'all'" else f", {period}"
            parts.append(f"SELECT '{prefix}' || {scope} || ':' || {period} || ':' || f.dimension AS board, "
                         f"{person} AS user_id, SUM(f.amount) AS amount FROM rebuild_fine f "
                         f"WHERE f.dimension <> '{TOTAL}' GROUP BY {scope}{by_period}, f.dimension, {person}")
            parts.append(f"SELECT '{prefix}' || {scope} || ':' || {period} || '\\:{TOTAL}' AS board, "
                         f"{person} AS user_id, SUM(f.amount) AS amount FROM rebuild_fine f "
                         f"GROUP BY {scope}{by_period}, {person}")
    return " UNION ALL ".join(parts)


def _days(scope: _Scope) -> list[dict]:
    """The calendar: each organisation's local days (periods.local_days) from its first entry's to its last,
    with the UTC moment each starts and its week and month keys."""
    # The span of the entries' own times: it holds every moment an entry counts at (a reversal counts at its
    # original's, which is an entry too), and needs no join.
    where = "WHERE course_id IN :courses" if scope.organisation_id is not None else ""
    spans = db.session.execute(text(
        f"SELECT organisation_id, MIN(created_at), MAX(created_at) FROM ledger_entry {where} GROUP BY organisation_id"
    ).bindparams(*_courses_param(scope)).columns(
        column("organisation_id", Integer), column("first", UTCDateTime), column("last", UTCDateTime)), _courses(scope))
    rows = []
    for organisation_id, first, last in spans:
        for starts_at, day in local_days(first, last, time_zone(organisation_id)):
            rows.append({"id": len(rows) + 1, "organisation_id": organisation_id, "starts_at": starts_at,
                         "week": week_key(day), "month": month_key(day)})
    return rows


def _courses(scope: _Scope) -> dict:
    return {"courses": list(scope.courses)} if scope.organisation_id is not None else {}


def _courses_param(scope: _Scope) -> list:
    return [bindparam("courses", expanding=True)] if scope.organisation_id is not None else []


def _day_of(dialect: str) -> tuple[str, str, str]:
    """How step 1 finds an entry's local day in the calendar: the join, and its week and month. PostgreSQL
    searches each organisation's day starts, gathered into one sorted array, with width_bucket (a binary search in
    memory); SQLite seeks ix_rebuild_day once per entry (PostgreSQL took ~3x longer that way at 240k entries)."""
    if dialect == "postgresql":
        calendar = ("SELECT organisation_id, array_agg(starts_at ORDER BY starts_at) AS starts, "
                    "array_agg(week ORDER BY starts_at) AS weeks, array_agg(month ORDER BY starts_at) AS months "
                    "FROM rebuild_day GROUP BY organisation_id")
        at = f"width_bucket({_EARNED_AT}, d.starts)"
        return f"JOIN ({calendar}) d ON d.organisation_id = c.organisation_id", f"d.weeks[{at}]", f"d.months[{at}]"
    day = (f"(SELECT d.id FROM rebuild_day d WHERE d.organisation_id = c.organisation_id "
           f"AND d.starts_at <= {_EARNED_AT} ORDER BY d.starts_at DESC LIMIT 1)")
    return f"JOIN rebuild_day d ON d.id = {day}", "d.week", "d.month"


def _boards(scope: _Scope) -> tuple[int, list[tuple]]:
    """Boards and rank buckets; returns how many board rows, and the teams' points (rebuild_teams.team_points)."""
    connection = db.session.connection()
    for table in _WORK:
        table.drop(connection, checkfirst=True)
        table.create(connection)
    try:
        days = _days(scope)
        if days:
            connection.execute(_DAY.insert(), days)
        linked = holders(scope.organisation_id)
        if linked:
            connection.execute(_HOLDER.insert(), [{"user_id": u, "holder_id": h} for u, h in linked.items()])
        counted, scoped = _counted(), _courses(scope)
        whole = _counted(whole_ledger=scope.organisation_id is None)
        in_scope = "AND l.course_id IN :courses" if scope.organisation_id is not None else ""
        day, week, month = _day_of(connection.dialect.name)
        connection.execute(text(
            "INSERT INTO rebuild_fine (course_id, organisation_id, user_id, holder_id, dimension, week, month, amount) "
            f"SELECT l.course_id, c.organisation_id, l.user_id, COALESCE(h.holder_id, l.user_id), l.dimension, "
            f"{week}, {month}, SUM(l.amount) {whole} {day} "
            f"LEFT JOIN rebuild_holder h ON h.user_id = l.user_id "
            f"WHERE 1 = 1 {in_scope} GROUP BY 1, 2, 3, 4, 5, 6, 7").bindparams(*_courses_param(scope)), scoped)
        _analyze(connection, _FINE)
        challenge_boards = (
            f"SELECT 'x' || x.id || '\\:{ALL}\\:{TOTAL}', l.user_id, SUM(l.amount) {counted} "
            f"JOIN challenge x ON x.course_id = l.course_id AND x.cancelled_at IS NULL "
            f"AND x.starts_at <= {_EARNED_AT} AND x.ends_at > {_EARNED_AT} "
            "WHERE (x.team_id IS NULL OR EXISTS (SELECT 1 FROM team_member t WHERE t.team_id = x.team_id "
            f"AND t.user_id = l.user_id)) {in_scope} GROUP BY x.id, l.user_id")
        # On SQLite a first rebuild (or one after a wipe) writes the boards straight into the empty table, in key
        # order; otherwise into rebuild_board, from which _write brings board_score in line. (PostgreSQL took
        # 2.5x longer to write the grouped rows straight into board_score than into the working table and copy.)
        empty = (connection.dialect.name == "sqlite" and not _any(connection, BoardScore, scope)
                 and not _any(connection, BoardRank, scope))
        boards, where = (BoardScore.__table__, _boards_in(BoardScore, scope)) if empty else (_BOARD, true())
        written = connection.execute(text(
            f"INSERT INTO {boards.name} (board, user_id, points) SELECT board, user_id, amount FROM "
            f"({_spread()} UNION ALL {challenge_boards}) AS spread ORDER BY board, user_id"
        ).bindparams(*_courses_param(scope)), scoped).rowcount
        _analyze(connection, boards)
        # Rank buckets per value, then the blocks summed from those (far fewer rows than the board's).
        connection.execute(_RANK.insert().from_select(["board", "points", "members"], select(
            boards.c.board, boards.c.points, func.count()).where(where).group_by(boards.c.board, boards.c.points)))
        connection.execute(text(
            f"INSERT INTO rebuild_rank (board, points, members) SELECT board || '{keys.BLOCKS}', "
            f"CASE WHEN points >= 0 THEN points / {keys.BLOCK} ELSE -((-points + {keys.BLOCK - 1}) / {keys.BLOCK}) END, "
            "SUM(members) FROM rebuild_rank GROUP BY 1, 2"))
        points = team_points()
        if not empty:
            _write(connection, scope, BoardScore, _BOARD, "user_id", "points")
        _write(connection, scope, BoardRank, _RANK, "points", "members")
        return written, points
    finally:
        for table in reversed(_WORK):
            table.drop(connection, checkfirst=True)


def _analyze(connection, table: Table) -> None:
    """PostgreSQL plans temporary tables without statistics (autovacuum never sees them) unless told."""
    if connection.dialect.name == "postgresql":
        connection.execute(text(f"ANALYZE {table.name}"))


def _any(connection, model, scope: _Scope) -> bool:
    table = model.__table__
    return connection.execute(select(table.c.board).where(_boards_in(model, scope)).limit(1)).first() is not None


# A rebuild replaces a table's rows outright (delete, then insert in key order) when at least this share of them
# would change: after a bulk import, a restore or a change of time zone nearly every row moves, and upserting each
# was the slow way (PostgreSQL, 16M board rows over stale ones: the whole rebuild took 454 s upserting, 337 s
# replacing). Below it (a repair run: few rows wrong) only the rows that differ are written.
REPLACE_SHARE = 0.5
SAMPLE_ROWS = 20_000


def _changed_share(connection, model, rebuilt: Table, key: str, value: str) -> float:
    """The share of rebuilt rows that differ from (or are missing in) the table, estimated from a random sample
    of about SAMPLE_ROWS of them (every row when there are fewer)."""
    table = model.__table__.name
    rows = connection.execute(select(func.count()).select_from(rebuilt)).scalar() or 0
    if not rows:
        return 0.0
    share = min(1.0, SAMPLE_ROWS / rows)
    if share >= 1.0:
        sample = f"{rebuilt.name} AS r"
    elif connection.dialect.name == "postgresql":
        sample = f"{rebuilt.name} AS r TABLESAMPLE BERNOULLI ({share * 100:.6f})"
    else:  # SQLite's random() is a 64-bit integer
        sample = f"(SELECT * FROM {rebuilt.name} WHERE abs(random() % {round(1 / share)}) = 0) AS r"
    taken, same = connection.execute(text(
        f"SELECT count(*), count(t.board) FROM {sample} LEFT JOIN {table} t "
        f"ON t.board = r.board AND t.{key} = r.{key} AND t.{value} = r.{value}")).one()
    return 1.0 - same / taken if taken else 0.0


def _write(connection, scope: _Scope, model, rebuilt: Table, key: str, value: str) -> None:
    """Bring board_score / board_rank in line with the rebuilt rows. Into an empty table (a first rebuild, or
    after a wipe) they go straight in, in key order, and so they do, after the scope's rows are deleted, when most
    rows would change (REPLACE_SHARE); otherwise changed rows are upserted and stale ones deleted: when the writers
    kept them right (the usual case) nothing is written, and a row that moved is one update instead of a delete
    and an insert."""
    table = model.__table__
    columns = f"board, {key}, {value}"
    if _any(connection, model, scope) and _changed_share(connection, model, rebuilt, key, value) >= REPLACE_SHARE:
        connection.execute(delete(table).where(_boards_in(model, scope)))
    if _any(connection, model, scope):
        connection.execute(text(
            f"INSERT INTO {table.name} ({columns}) SELECT {columns} FROM {rebuilt.name} "
            f"WHERE 1 = 1 ON CONFLICT (board, {key}) DO UPDATE SET {value} = excluded.{value} "
            f"WHERE {table.name}.{value} <> excluded.{value}"))
        connection.execute(delete(table).where(_boards_in(model, scope), ~exists().where(
            rebuilt.c.board == table.c.board, rebuilt.c[key] == table.c[key])))
    else:  # in key order: on PostgreSQL unsorted rows took twice as long to go in (index pages touched at random)
        connection.execute(text(
            f"INSERT INTO {table.name} ({columns}) SELECT {columns} FROM {rebuilt.name} ORDER BY board, {key}"))


def _member_stats(scope: _Scope) -> int:
    zones = {org: time_zone(org) for org in set(scope.courses.values())}
    totals: dict[tuple, int] = defaultdict(int)

    def add(course_id: int, user_id: int, at, metrics: dict[str, int]) -> None:
        for period in keys_for(at, zones[scope.courses[course_id]]):
            for metric, value in metrics.items():
                totals[(course_id, user_id, period, metric)] += value

    for e in db.session.execute(select(Experiment.course_id, Experiment.user_id, Experiment.created_at,
                                       Experiment.minutes_saved, Experiment.task_category_id, Experiment.outcome)
                                .where(scope.where_course(Experiment.course_id))):
        add(e.course_id, e.user_id, e.created_at, agg.experiment_metrics(e.minutes_saved, e.task_category_id, e.outcome))
    for h in db.session.execute(select(PeerHelp.course_id, PeerHelp.helper_id, PeerHelp.resolved_at).where(
            PeerHelp.status == "confirmed", scope.where_course(PeerHelp.course_id))):
        add(h.course_id, h.helper_id, h.resolved_at, {"helps": 1})
    for b in db.session.execute(select(BadgeAward.course_id, BadgeAward.user_id, BadgeAward.awarded_at).where(
            BadgeAward.revoked_at.is_(None), scope.where_course(BadgeAward.course_id))):
        add(b.course_id, b.user_id, b.awarded_at, {"badges": 1})
    rows = [{"course_id": c, "user_id": u, "period": p, "metric": m, "value": v}
            for (c, u, p, m), v in totals.items() if v]
    bulk_insert(db.session, MemberStat.__table__, rows)
    _analyze(db.session.connection(), MemberStat.__table__)  # the team figures read it next, grouped by team
    return len(rows)


def _tallies(scope: _Scope) -> int:
    """The experiment tallies, person by person (the author index gives the order), written BULK_BATCH at a time."""
    experiments = db.session.execute(select(
        Experiment.course_id, Experiment.user_id, Experiment.ai_tool_id, Experiment.task_category_id,
        Experiment.created_at, Experiment.outcome, Experiment.visibility, Experiment.reflection_chars,
        Experiment.duplicate_of_id).where(scope.where_course(Experiment.course_id)).order_by(
        Experiment.user_id, Experiment.course_id))
    rows = tallies.rebuilt(experiments)
    written = 0
    while batch := list(islice(rows, BULK_BATCH)):
        bulk_insert(db.session, ExperimentTally.__table__, batch)
        written += len(batch)
    return written


def rebuild(organisation_id: int | None = None) -> Rebuilt:
    """Recompute boards, rank buckets, member and team figures (one organisation, or all)."""
    scope = _scope(organisation_id)
    with batch_memory(db.session):
        _wipe(scope)
        board_rows, points = _boards(scope)
        result = Rebuilt(board_rows=board_rows, member_rows=_member_stats(scope), tally_rows=_tallies(scope))
        # Challenge boards came with the ledger pass; team figures are sums of its rows and the member rows just written.
        result.teams = rebuild_teams(scope.where_course, points)
        result.challenges = db.session.scalar(select(db.func.count()).select_from(Challenge).where(
            Challenge.cancelled_at.is_(None), scope.where_course(Challenge.course_id))) or 0
        db.session.flush()
    return result


def snapshot(organisation_id: int | None = None) -> dict[str, set[tuple]]:
    """Every aggregate row (zero values dropped: a zero and a missing row mean the same)."""
    scope = _scope(organisation_id)
    courses = list(scope.courses)
    prefixes = [keys.course_scope(c) + ":" for c in courses]
    if organisation_id is not None:
        prefixes.append(keys.organisation_scope(organisation_id) + ":")
    out: dict[str, set[tuple]] = {}
    for model, value in ((BoardScore, "points"), (BoardRank, "members"), (MemberStat, "value"), (TeamStat, "value"),
                         (TeamStanding, "members"), (ExperimentTally, "value")):
        query = select(*model.__table__.columns).where(model.__table__.c[value] != 0)
        if organisation_id is not None and model is TeamStanding:
            query = query.where(TeamStanding.course_id.in_(courses))
        elif organisation_id is not None and model in (BoardScore, BoardRank):
            challenge_boards = [keys.board_key(keys.challenge_scope(c), "all", "total") for c in db.session.scalars(
                select(Challenge.id).where(Challenge.course_id.in_(courses)))]
            query = query.where(or_(model.board.in_(challenge_boards + [keys.blocks_key(b) for b in challenge_boards]),
                                    *[model.board.startswith(p, autoescape=True) for p in prefixes]))
        elif organisation_id is not None and model in (MemberStat, ExperimentTally):
            query = query.where(model.course_id.in_(courses))
        elif organisation_id is not None:
            query = query.where(TeamStat.team_id.in_(select(Team.id).where(Team.course_id.in_(courses))))
        out[model.__tablename__] = {tuple(row) for row in db.session.execute(query)}
    out[TeamStanding.__tablename__] = _without_zero_boards(out[TeamStanding.__tablename__])
    return out


def _without_zero_boards(rows: set[tuple]) -> set[tuple]:
    """Team standings minus period boards where every team stands at zero: such a board reads the same as
    none (the readers list every team at zero), and writers may leave one behind where a rebuild makes none
    (the figures that created it were reversed, or the team that had them lost its members)."""
    columns = [c.name for c in TeamStanding.__table__.columns]
    course, period = columns.index("course_id"), columns.index("period")
    figures = [columns.index(f) for f in ("points", "experimenters", "helpers")]
    moved = {(row[course], row[period]) for row in rows if any(row[i] for i in figures)}
    return {row for row in rows if row[period] == ALL or (row[course], row[period]) in moved}


def verify(organisation_id: int | None = None) -> dict[str, tuple[set, set]]:
    """Differences between maintained and rebuilt aggregates: table -> (only maintained, only rebuilt)."""
    maintained = snapshot(organisation_id)
    savepoint = db.session.begin_nested()
    try:
        rebuild(organisation_id)
        rebuilt = snapshot(organisation_id)
    finally:
        savepoint.rollback()
    return {table: (maintained[table] - rebuilt[table], rebuilt[table] - maintained[table])
            for table in maintained if maintained[table] != rebuilt[table]}
