"""The writer side of boards and team pages: every fact's writer calls in here in its own transaction.

- ledger.post_entry -> apply_points: the person's course, organisation and challenge boards (each period,
  the entry's dimension and the total) and their teams' points.
- experiments, peer help, badges -> record_activity: per-person and per-team figures by period.
- a membership or team change -> reconcile_member / reconcile_course / team_members_changed.
- team boards' rows (team_standing) move with the team figures: see standings.py.

Who counts on boards ("eligible"): an active, non-test member of the course whose role is learner (staff
earn no points and are never on learner boards). Everyone's activity is kept in member_stat;
boards and team figures hold eligible people only, so ranks and team averages never include staff, people
who left, or the LMS's test student.

Writes touch a fixed handful of rows per fact (multi-row upserts, keys sorted so concurrent writers lock in
the same order); nothing here reads the ledger except the per-person and rebuild paths.
"""
from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Integer,
    String,
    and_,
    bindparam,
    case,
    cast,
    delete,
    func,
    literal,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import aliased

from plugin.challenges.models import Challenge
from plugin.core import memo
from plugin.core.actor import Role
from plugin.core.db import Hot, _insert_for, dialect_name, insert_for_dialect
from plugin.extensions import db
from plugin.identity.people import board_holder, identities
from plugin.leaderboards import standings
from plugin.leaderboards.models import BoardRank, BoardScore, MemberStat, TeamStat
from plugin.leaderboards.periods import ALL, keys_for
from plugin.ledger.models import TOTAL, LedgerEntry
from plugin.settings.service import time_zone
from plugin.teams.models import Team, TeamMember
from plugin.tenancy.models import Course, Membership, counted_membership
from plugin.tenancy.service import standing


# --- keys ------------------------------------------------------------------------------------------
def course_scope(course_id: int) -> str:
    return f"c{course_id}"


def organisation_scope(organisation_id: int) -> str:
    return f"o{organisation_id}"


def challenge_scope(challenge_id: int) -> str:
    return f"x{challenge_id}"


def board_key(scope: str, period: str, dimension: str) -> str:
    return f"{scope}:{period}:{dimension}"


def split_key(board: str) -> tuple[str, str, str]:
    scope, period, dimension = board.split(":", 2)
    return scope, period, dimension


# --- who counts --------------------------------------------------------------------------------------
def _eligible_clause():
    return counted_membership() & (Membership.role == Role.LEARNER.value)


def _eligible_members():
    return select(Membership.course_id, Membership.user_id).where(_eligible_clause())


def eligible(course_id: int, user_id: int) -> bool:
    """Whether the person counts on the course's boards now (the same test as _eligible_clause, for one)."""
    member = standing(course_id, user_id)
    return member is not None and member.counted_learner


# Built once: the award path runs these on every posting (compiling a fresh select each time cost more
# than running it).
_TEAM, _TEAM_MEMBER, _CHALLENGE = Team.__table__, TeamMember.__table__, Challenge.__table__
_TEAMS_OF = select(_TEAM_MEMBER.c.team_id).join(_TEAM, _TEAM.c.id == _TEAM_MEMBER.c.team_id).where(
    _TEAM.c.course_id == bindparam("course_id"), _TEAM_MEMBER.c.user_id == bindparam("user_id")).order_by(
    _TEAM_MEMBER.c.team_id)
_AT = bindparam("at", type_=_CHALLENGE.c.starts_at.type)
_OPEN_AT = select(_CHALLENGE.c.id, _CHALLENGE.c.team_id, _CHALLENGE.c.is_mission, _CHALLENGE.c.task_category_id,
                  _CHALLENGE.c.ai_tool_id).where(
    _CHALLENGE.c.course_id == bindparam("course_id"), _CHALLENGE.c.cancelled_at.is_(None),
    _CHALLENGE.c.starts_at <= _AT, _CHALLENGE.c.ends_at > _AT).order_by(_CHALLENGE.c.id)


# For a caller's own statement (binds "course_id", "user_id", "now"): the person's teams (how many, the lowest
# id) and whether any challenge of the course is open, for remember_teams_and_challenges.
_MY_TEAMS = select(_TEAM_MEMBER.c.team_id).join(_TEAM, _TEAM.c.id == _TEAM_MEMBER.c.team_id).where(
    _TEAM.c.course_id == bindparam("course_id"), _TEAM_MEMBER.c.user_id == bindparam("user_id")).subquery()
TEAMS_AND_CHALLENGES = (
    select(func.count()).select_from(_MY_TEAMS).scalar_subquery(),
    select(func.min(_MY_TEAMS.c.team_id)).scalar_subquery(),
    select(_CHALLENGE.c.id).where(_CHALLENGE.c.course_id == bindparam("course_id"), _CHALLENGE.c.cancelled_at.is_(None),
                                  _CHALLENGE.c.starts_at <= bindparam("now", type_=_CHALLENGE.c.starts_at.type),
                                  _CHALLENGE.c.ends_at > bindparam("now", type_=_CHALLENGE.c.starts_at.type)).exists())


def remember_teams_and_challenges(course_id: int, user_id: int, now: datetime, teams: int, first_team: int | None,
                                  any_open: bool) -> None:
    """TEAMS_AND_CHALLENGES as read by a caller's statement: _teams_of and open_challenges at `now` ask no more
    in this transaction when the answer is whole (no team or one; no open challenge)."""
    if teams <= 1:
        memo.store(db.session, ("teams_of", course_id, user_id), [] if not teams else [first_team],
                   (_TEAM.name, _TEAM_MEMBER.name))
    if not any_open:
        memo.store(db.session, ("open_challenges", course_id, now), [], (_CHALLENGE.name,))


def _teams_of(course_id: int, user_id: int) -> list[int]:
    """The person's teams in the course, read once per transaction (forgotten when teams change)."""
    return memo.remember(db.session, ("teams_of", course_id, user_id), (_TEAM.name, _TEAM_MEMBER.name),
                         lambda: list(db.session.scalars(_TEAMS_OF, {"course_id": course_id, "user_id": user_id})))


def open_challenges(course_id: int, user_id: int, at: datetime) -> list:
    """The course's challenges open at `at` that count this person (course-wide ones and their teams' ones):
    rows of id, team_id, is_mission, task_category_id, ai_tool_id. Read once per transaction and moment: an
    experiment's postings and its challenge progress all ask about the same moment."""
    rows = memo.remember(db.session, ("open_challenges", course_id, at), (_CHALLENGE.name,),
                         lambda: db.session.execute(_OPEN_AT, {"course_id": course_id, "at": at}).all())
    if not rows:
        return []
    teams = set(_teams_of(course_id, user_id))
    return [row for row in rows if row.team_id is None or row.team_id in teams]


def _tz(organisation_id: int) -> ZoneInfo:
    return time_zone(organisation_id)


# --- low-level upserts ---------------------------------------------------------------------------------
# Statements are built once per dialect and run with a list of parameter sets (one round trip, compiled
# once: a multi-row VALUES built per call would be compiled again on every award).
_statements: dict[tuple[str, str], object] = {}


def _statement(name: str, build):
    dialect = dialect_name(db.session)
    key = (dialect, name)
    if key not in _statements:
        _statements[key] = build(_insert_for(db.session, _TABLES[name]))
    return _statements[key]


_TABLES = {"member_stat": MemberStat.__table__, "team_stat": TeamStat.__table__,
           "board_rank": BoardRank.__table__}
_KEYS = {"member_stat": ["course_id", "user_id", "period", "metric"], "team_stat": ["team_id", "period", "metric"]}


def _add_values(table, key_columns: list[str], rows: dict[tuple, int], returning: bool = False):
    """Add each row's value to the stored one (creating rows as needed), keys sorted so concurrent writers
    lock in the same order. With `returning`, gives back (keys..., stored value) of each row."""
    rows = {k: v for k, v in rows.items() if v}
    if not rows:
        return []
    name = table.name
    assert _KEYS[name] == key_columns

    def build(ins):
        stmt = ins.on_conflict_do_update(index_elements=key_columns, set_={"value": table.c.value + ins.excluded.value})
        return stmt.returning(*[table.c[c] for c in key_columns], table.c.value) if returning else stmt

    params = [dict(zip(key_columns, key), value=delta) for key, delta in sorted(rows.items())]
    if not returning:
        _quiet(name, build).execute(db.session, many=params)
        return []
    return db.session.execute(_statement(name, build), params).all()


_hot: dict[str, Hot] = {}


def _quiet(name: str, build) -> Hot:
    """A statement of _add_values or _write_ranks that reads nothing back, as a Hot statement (one executemany)."""
    hot = _hot.get(name)
    if hot is None:
        hot = _hot[name] = Hot(lambda dialect: build(insert_for_dialect(dialect, _TABLES[name])),
                               writes=(_TABLES[name].name,))
    return hot


# Rank blocks: beside its buckets (people per points value) a board keeps, under the key "<board>#", how many
# people hold points in each block of BLOCK consecutive values (row points = block number). A rank then sums
# the blocks above a person's block plus the buckets above them inside it: at most BLOCK + (highest points /
# BLOCK) rows, however many distinct values the board holds. The sum of a board's blocks is its size.
BLOCK = 1024
BLOCKS = "#"


def blocks_key(board: str) -> str:
    return board + BLOCKS


def block_of(points: int) -> int:
    return points // BLOCK  # floor, negatives included


def with_blocks(buckets: dict[tuple[str, int], int]) -> dict[tuple[str, int], int]:
    """Bucket counts (board, points) -> the same plus the block counts they imply."""
    out: dict[tuple[str, int], int] = defaultdict(int)
    for (board, points), n in buckets.items():  # blocks_key() and block_of() inlined: every award moves ~24
        out[(board, points)] += n
        out[(board + BLOCKS, points // BLOCK)] += n
    return out


_LATE_RANKS = "tinker_late_ranks"
_LATE_BOARDS = "tinker_late_boards"


@contextmanager
def ranks_last() -> Iterator[None]:
    """Inside, rank bucket changes are gathered and written when the block ends, in one statement, keys sorted.

    Rank buckets and blocks are the rows every writer of a board shares (everyone's points fall in a few blocks):
    an award that locks them early holds them through its remaining statements, and concurrent awards queue
    there. A service wraps its whole award in this and returns right after, so the caller's commit follows
    the rank write at once. Nothing inside may read board_rank (no award path does)."""
    session = db.session()
    if _LATE_RANKS in session.info:  # already gathering: the outer block writes them
        yield
        return
    pending: dict[tuple[str, int], int] = defaultdict(int)
    session.info[_LATE_RANKS] = pending
    # PostgreSQL: the person's board rows wait too, and go in the rank write's statement (one round trip fewer
    # per award; the board rows, which only this person's writers share, are locked for less time as well).
    boards: dict[tuple[str, int], int] | None = {} if dialect_name(db.session) == "postgresql" else None
    if boards is not None:
        session.info[_LATE_BOARDS] = boards
    try:
        yield
    finally:
        session.info.pop(_LATE_RANKS, None)
        session.info.pop(_LATE_BOARDS, None)
    if boards:
        _write_boards_and_ranks(boards, pending)
    else:
        _write_ranks(pending)


def _move_ranks(changes: dict[tuple[str, int], int]) -> None:
    """Apply +/- counts to board_rank buckets (board, points) and to their blocks (gathered for the end of
    the block when inside ranks_last)."""
    changes = with_blocks(changes)
    pending = db.session().info.get(_LATE_RANKS)
    if pending is not None:
        for key, n in changes.items():
            pending[key] += n
        return
    _write_ranks(changes)


def _write_ranks(changes: dict[tuple[str, int], int]) -> None:
    changes = {k: v for k, v in changes.items() if v}
    if not changes:
        return
    rows = sorted(changes.items())
    if dialect_name(db.session) == "postgresql":
        _PG_RANKS.execute(db.session, {"boards": [b for (b, _p), _n in rows], "points": [p for (_b, p), _n in rows],
                                       "members": [n for _k, n in rows]})
        return
    _SQLITE_RANKS.execute(db.session, many=[{"board": b, "points": p, "members": n} for (b, p), n in rows])


def _ranks_upsert(ins):
    return ins.on_conflict_do_update(index_elements=["board", "points"],
                                     set_={"members": BoardRank.__table__.c.members + ins.excluded.members})


def _pg_ranks():
    # One statement of fixed text whatever the number of rows: the rows as three arrays, upserted in the sorted
    # order given (concurrent writers lock shared buckets in the same order).
    given = func.unnest(bindparam("boards", type_=ARRAY(String)), bindparam("points", type_=ARRAY(BigInteger)),
                        bindparam("members", type_=ARRAY(Integer))).table_valued(
        "board", "points", "members").render_derived()
    return _ranks_upsert(pg_insert(BoardRank.__table__).from_select(
        ["board", "points", "members"], select(given.c.board, given.c.points, given.c.members)))


_PG_RANKS = Hot(lambda _dialect: _pg_ranks(), writes=(BoardRank.__tablename__,))
# SQLite: one executemany (in C).
_SQLITE_RANKS = Hot(lambda dialect: _ranks_upsert(insert_for_dialect(dialect, BoardRank.__table__)),
                    writes=(BoardRank.__tablename__,))


def _pg_board_add():
    # As _pg_ranks: the person's rows as two arrays. A freshly inserted row's xmax is 0; the version an ON
    # CONFLICT update writes carries the id of the transaction that locked the row: so one statement tells a
    # newcomer to a board from a mover.
    table = BoardScore.__table__
    given = func.unnest(bindparam("boards", type_=ARRAY(String)), bindparam("deltas", type_=ARRAY(BigInteger))
                        ).table_valued("board", "points").render_derived()
    ins = pg_insert(table).from_select(["board", "user_id", "points"], select(
        given.c.board, bindparam("holder", type_=Integer), given.c.points))
    return ins.on_conflict_do_update(index_elements=["board", "user_id"],
                                     set_={"points": table.c.points + ins.excluded.points}).returning(
        table.c.board, table.c.points, literal_column("(xmax = 0)"))


_PG_BOARD_ADD = Hot(lambda _dialect: _pg_board_add(), writes=(BoardScore.__tablename__,))


def _write_boards_and_ranks(boards: dict[tuple[str, int], int], ranks: dict[tuple[str, int], int]) -> None:
    """PostgreSQL, at the end of ranks_last: the board rows gathered ((board, holder) -> points to add) and the rank
    buckets and blocks they move, with any other rank changes gathered (`ranks`), in one statement."""
    rows = sorted(boards.items())
    extra = sorted((key, n) for key, n in ranks.items() if n)  # blocks included (_move_ranks added them)
    _PG_BOARDS_AND_RANKS.execute(db.session, {
        "boards": [b for (b, _u), _d in rows], "holders": [u for (_b, u), _d in rows],
        "deltas": [d for _k, d in rows], "rank_boards": [b for (b, _p), _n in extra],
        "rank_points": [p for (_b, p), _n in extra], "rank_members": [n for _k, n in extra]})


def _pg_boards_and_ranks():
    """_pg_board_add for several holders, its RETURNING turned into bucket and block changes (as bump_boards and
    with_blocks make them), added to the given ones and upserted into board_rank, keys in the order Python sorts
    them (the C collation), as _pg_ranks does: concurrent writers lock shared buckets in the same order."""
    from sqlalchemy import Numeric, union_all
    from sqlalchemy import cast as cast_
    from sqlalchemy import false as false_

    scores, ranks = BoardScore.__table__, BoardRank.__table__
    given = select(func.unnest(bindparam("boards", type_=ARRAY(String)), bindparam("holders", type_=ARRAY(Integer)),
                               bindparam("deltas", type_=ARRAY(BigInteger))).table_valued(
        "board", "user_id", "points").render_derived()).cte("given")
    ins = pg_insert(scores).from_select(["board", "user_id", "points"], select(
        given.c.board, given.c.user_id, given.c.points))
    moved = ins.on_conflict_do_update(index_elements=["board", "user_id"],
                                      set_={"points": scores.c.points + ins.excluded.points}).returning(
        scores.c.board, scores.c.user_id, scores.c.points, literal_column("(xmax = 0)").label("inserted")).cte("moved")
    extra = func.unnest(bindparam("rank_boards", type_=ARRAY(String)), bindparam("rank_points", type_=ARRAY(BigInteger)),
                        bindparam("rank_members", type_=ARRAY(Integer))).table_valued(
        "board", "points", "members").render_derived()
    buckets = union_all(
        select(moved.c.board, moved.c.points, literal(1).label("members")),
        select(moved.c.board, moved.c.points - given.c.points, literal(-1)).join(
            given, and_(given.c.board == moved.c.board, given.c.user_id == moved.c.user_id)).where(
            moved.c.inserted == false_()),
    ).cte("buckets")
    block = cast_(func.floor(cast_(buckets.c.points, Numeric) / BLOCK), BigInteger)
    changes = union_all(
        select(buckets.c.board, buckets.c.points, buckets.c.members),
        select(buckets.c.board + BLOCKS, block, buckets.c.members),
        select(extra.c.board, extra.c.points, extra.c.members)).subquery("changes")
    total = func.sum(changes.c.members)
    summed = select(changes.c.board, changes.c.points, cast_(total, Integer)).group_by(
        changes.c.board, changes.c.points).having(total != 0).order_by(
        changes.c.board.collate("C"), changes.c.points)
    return _ranks_upsert(pg_insert(ranks).from_select(["board", "points", "members"], summed))


_PG_BOARDS_AND_RANKS = Hot(lambda _dialect: _pg_boards_and_ranks(),
                           writes=(BoardScore.__tablename__, BoardRank.__tablename__))


def _sqlite_move():
    table = BoardScore.__table__
    given, listed = (func.json_each(bindparam("deltas")).table_valued("key", "value").alias(name) for name in "dl")
    return update(table).values(points=table.c.points + select(given.c.value).where(
        given.c.key == table.c.board).scalar_subquery()).where(
        table.c.user_id == bindparam("holder"), table.c.board.in_(select(listed.c.key))).returning(
        table.c.board, table.c.points)


_SQLITE_MOVE = Hot(lambda _dialect: _sqlite_move(), writes=(BoardScore.__tablename__,))


def bump_boards(user_id: int, deltas: dict[str, int], keep_zero: bool = False) -> None:
    """Add points to one person's rows on several boards, keeping the rank buckets in step (`keep_zero`: a
    zero delta still puts them on that board, as a rebuild does for entries that cancel out)."""
    deltas = {b: d for b, d in deltas.items() if d or keep_zero}
    if not deltas:
        return
    table = BoardScore.__table__
    boards = sorted(deltas)
    ranks: dict[tuple[str, int], int] = defaultdict(int)
    if dialect_name(db.session) == "postgresql":
        late = db.session().info.get(_LATE_BOARDS)
        if late is not None:  # inside ranks_last: written at its end, with the ranks they move
            for board in boards:
                late[(board, user_id)] = late.get((board, user_id), 0) + deltas[board]
            return
        for board, points, inserted in _PG_BOARD_ADD.all(db.session, {
                "boards": boards, "deltas": [deltas[b] for b in boards], "holder": user_id}):
            if not inserted:
                ranks[(board, points - deltas[board])] -= 1
            ranks[(board, points)] += 1
        _move_ranks(ranks)
        return
    # SQLite: the rows the person holds move in one UPDATE (the deltas passed as one JSON object, board -> delta);
    # boards they are new to (their first points there, a new week or month) are then inserted. The transaction
    # holds the database's write lock (BEGIN IMMEDIATE), so no other writer adds one of those rows in between.
    moved = set()
    for board, points in _SQLITE_MOVE.all(db.session, {"deltas": json.dumps(deltas), "holder": user_id}):
        moved.add(board)
        ranks[(board, points - deltas[board])] -= 1
        ranks[(board, points)] += 1
    new = [b for b in boards if b not in moved]
    if new:
        db.session.execute(table.insert(), [{"board": b, "user_id": user_id, "points": deltas[b]} for b in new])
        for board in new:
            ranks[(board, deltas[board])] += 1  # a newcomer joins at zero, then moves like everyone else
    _move_ranks(ranks)


def drop_from_boards(user_id: int, boards: Iterable[str]) -> dict[str, int]:
    """Take a person off boards entirely; returns what they held there."""
    boards = sorted(set(boards))
    if not boards:
        return {}
    held = dict(db.session.execute(select(BoardScore.board, BoardScore.points).where(
        BoardScore.user_id == user_id, BoardScore.board.in_(boards))).all())
    if held:
        db.session.execute(delete(BoardScore).where(BoardScore.user_id == user_id, BoardScore.board.in_(list(held))))
        _move_ranks({(b, p): -1 for b, p in held.items()})
    return held


# --- points (called by ledger.post_entry) ---------------------------------------------------------
def _point_boards(organisation_id: int, course_id: int, challenges: list[int], dimension: str,
                  earned_at: datetime, tz: ZoneInfo, amount: int, deltas: dict[str, int]) -> None:
    periods = keys_for(earned_at, tz)
    for scope in (course_scope(course_id), organisation_scope(organisation_id)):
        for period in periods:
            for dim in {dimension, TOTAL}:
                deltas[board_key(scope, period, dim)] = deltas.get(board_key(scope, period, dim), 0) + amount
    for challenge_id in challenges:
        key = board_key(challenge_scope(challenge_id), ALL, TOTAL)
        deltas[key] = deltas.get(key, 0) + amount


def apply_points(organisation_id: int, course_id: int, user_id: int, dimension: str, amount: int,
                 earned_at: datetime) -> None:
    if not amount or not eligible(course_id, user_id):
        return
    tz = _tz(organisation_id)
    team_ids = _teams_of(course_id, user_id)
    deltas: dict[str, int] = {}
    _point_boards(organisation_id, course_id, [c.id for c in open_challenges(course_id, user_id, earned_at)],
                  dimension, earned_at, tz, amount, deltas)
    bump_person(organisation_id, user_id, deltas)
    if team_ids:
        periods = keys_for(earned_at, tz)
        rows = {(t, p, f"points:{d}"): amount for t in team_ids for p in periods for d in {dimension, TOTAL}}
        _add_values(TeamStat.__table__, ["team_id", "period", "metric"], rows)
        standings.bump(course_id, {(t, p): (amount, 0, 0) for t in team_ids for p in periods})


def _is_organisation_board(board: str) -> bool:
    return board[:1] == "o"


def bump_person(organisation_id: int, user_id: int, deltas: dict[str, int]) -> None:
    """bump_boards for one identity, its organisation boards going to the row of the person it belongs to
    (identities linked across LMSs count once there; course and challenge boards stay per identity)."""
    holder = board_holder(user_id)
    if holder != user_id:
        bump_boards(holder, {b: d for b, d in deltas.items() if _is_organisation_board(b)})
        deltas = {b: d for b, d in deltas.items() if not _is_organisation_board(b)}
    bump_boards(user_id, deltas)


def relink_boards(organisation_id: int, user_ids: Iterable[int]) -> None:
    """Recompute, from the ledger, the organisation boards of the people these identities belong to now
    (after a link, an unlink or an erasure): the rows they held go, each person's holder gets the sum of the
    counted points of all its identities."""
    prefix = organisation_scope(organisation_id) + ":"
    everyone = sorted({u for user_id in user_ids for u in identities(user_id)} | set(user_ids))
    for user_id in everyone:
        drop_from_boards(user_id, db.session.scalars(select(BoardScore.board).where(
            BoardScore.user_id == user_id, BoardScore.board.startswith(prefix, autoescape=True))))
    tz = _tz(organisation_id)
    original, earned_at = _ledger_with_earned_at()
    counted_courses = select(Membership.course_id).join(Course, Course.id == Membership.course_id).where(
        Membership.user_id == bindparam("user_id"), Course.organisation_id == organisation_id, _eligible_clause())
    per_holder: dict[int, dict[str, int]] = defaultdict(dict)
    for user_id in everyone:
        deltas = per_holder[board_holder(user_id)]
        rows = db.session.execute(select(LedgerEntry.dimension, LedgerEntry.amount, earned_at).outerjoin(
            original, original.id == LedgerEntry.reverses_id).where(
            LedgerEntry.user_id == user_id, LedgerEntry.course_id.in_(counted_courses)), {"user_id": user_id})
        for dimension, amount, at in rows:
            for period in keys_for(at, tz):
                for dim in {dimension, TOTAL}:
                    key = board_key(organisation_scope(organisation_id), period, dim)
                    deltas[key] = deltas.get(key, 0) + amount
    for holder, deltas in sorted(per_holder.items()):
        bump_boards(holder, deltas, keep_zero=True)


# --- activity (experiments, confirmed helps, badges) ---------------------------------------------
# metric -> the team metric counting members with at least one in the period
FIRST_MARKERS = {"experiments": "experimenters", "helps": "helpers"}


def record_activity(organisation_id: int, course_id: int, user_id: int, at: datetime, metrics: dict[str, int]) -> None:
    """Count a person's activity in every period `at` falls in, and in their teams when they count there."""
    periods = keys_for(at, _tz(organisation_id))
    rows = {(course_id, user_id, p, m): v for p in periods for m, v in metrics.items()}
    team_ids = _teams_of(course_id, user_id) if eligible(course_id, user_id) else []
    # The stored values are read back only for the teams' "members who did" counts.
    stored = _add_values(MemberStat.__table__, ["course_id", "user_id", "period", "metric"], rows,
                         returning=bool(team_ids))
    if not team_ids:
        return
    team_rows: dict[tuple, int] = {}
    doers: dict[tuple[int, str], tuple[int, int, int]] = {}
    for _c, _u, period, metric, value in stored:
        marker = FIRST_MARKERS.get(metric)
        delta = metrics[metric]
        if marker and delta and (value > 0) != (value - delta > 0):  # crossed zero: joined or left the doers
            step = 1 if value > 0 else -1
            for t in team_ids:
                team_rows[(t, period, marker)] = step
                _p, e, h = doers.get((t, period), (0, 0, 0))
                doers[(t, period)] = (0, e + step, h) if marker == "experimenters" else (0, e, h + step)
    for t in team_ids:
        for p in periods:
            for m, v in metrics.items():
                team_rows[(t, p, m)] = v
    _add_values(TeamStat.__table__, ["team_id", "period", "metric"], team_rows)
    standings.bump(course_id, doers)


def quiet_activity(organisation_id: int, course_id: int, user_id: int, at: datetime,
                   metrics: dict[str, int]) -> list[tuple[str, str, int]] | None:
    """record_activity's rows as (period, metric, value), sorted, for a writer that adds them to member_stat in
    a statement of its own; None when record_activity must run instead (the person counts in a team: the team's
    figures follow from the stored values read back)."""
    if eligible(course_id, user_id) and _teams_of(course_id, user_id):
        return None
    periods = keys_for(at, _tz(organisation_id))
    return sorted((p, m, v) for p in periods for m, v in metrics.items() if v)


def experiment_metrics(minutes_saved: int | None, category_id: int | None, outcome: str) -> dict[str, int]:
    metrics = {"experiments": 1, "minutes": int(minutes_saved or 0), f"out:{outcome}": 1}
    if category_id is not None:
        metrics[f"cat:{category_id}"] = 1
    return metrics


# --- membership and team changes -----------------------------------------------------------------------
def _ledger_with_earned_at():
    original = aliased(LedgerEntry)
    earned_at = func.coalesce(original.created_at, LedgerEntry.created_at)
    return original, earned_at


def _person_ledger():
    original, earned_at = _ledger_with_earned_at()
    return select(LedgerEntry.dimension, LedgerEntry.amount, earned_at).outerjoin(
        original, original.id == LedgerEntry.reverses_id).where(
        LedgerEntry.course_id == bindparam("course_id"), LedgerEntry.user_id == bindparam("user_id"))


# Built once: every launch of a learner without points asks it (building the aliased join cost more than running it).
_PERSON_LEDGER = _person_ledger()


def _person_boards(course: Course, user_id: int) -> dict[str, int]:
    """The board deltas one person's whole ledger in a course adds up to (course, organisation, challenges)."""
    rows = db.session.execute(_PERSON_LEDGER, {"course_id": course.id, "user_id": user_id}).all()
    if not rows:  # nobody's boards move: no time zone, teams or challenges to look up
        return {}
    tz = _tz(course.organisation_id)
    team_ids = _teams_of(course.id, user_id)
    windows = _challenge_windows(course.id)
    deltas: dict[str, int] = {}
    for dimension, amount, at in rows:
        challenges = [cid for cid, team, start, end in windows
                      if start <= at < end and (team is None or team in team_ids)]
        _point_boards(course.organisation_id, course.id, challenges, dimension, at, tz, amount, deltas)
    return deltas


def _challenge_windows(course_id: int) -> list[tuple[int, int | None, datetime, datetime]]:
    return list(db.session.execute(select(Challenge.id, Challenge.team_id, Challenge.starts_at, Challenge.ends_at)
                                   .where(Challenge.course_id == course_id, Challenge.cancelled_at.is_(None))))


def _course_board_rows_statement():
    # The course's boards by key prefix (ids and digits only: nothing to escape in the LIKE pattern); its
    # challenges' boards named in the same statement rather than read first.
    scope, rest = challenge_scope(0)[:-1], board_key("", ALL, TOTAL)  # "x" and ":all:total"
    challenge_board = literal(scope) + cast(_CHALLENGE.c.id, String) + literal(rest)
    return select(BoardScore.board).where(BoardScore.user_id == bindparam("user_id"), or_(
        BoardScore.board.like(bindparam("prefix")), BoardScore.board.in_(select(challenge_board).where(
            _CHALLENGE.c.course_id == bindparam("course_id"), _CHALLENGE.c.cancelled_at.is_(None)))))


# Built once: every launch asks it (reconcile_member).
_COURSE_BOARD_ROWS = _course_board_rows_statement()


def _course_board_rows(course_id: int, user_id: int) -> list[str]:
    return list(db.session.scalars(_COURSE_BOARD_ROWS, {"user_id": user_id, "course_id": course_id,
                                                        "prefix": course_scope(course_id) + ":%"}))


def _counts_elsewhere(course: Course, user_id: int) -> bool:
    """Whether the person has points in another course of the organisation where they count."""
    other_courses = select(Course.id).where(Course.organisation_id == course.organisation_id, Course.id != course.id)
    counted = _eligible_members().where(Membership.user_id == user_id,
                                        Membership.course_id.in_(other_courses)).subquery()
    return db.session.execute(select(LedgerEntry.id).join(counted, and_(
        counted.c.course_id == LedgerEntry.course_id, counted.c.user_id == LedgerEntry.user_id)).limit(1)).first() is not None


def reconcile_member(course_id: int, user_id: int) -> bool:
    """Put the person on or take them off the course's boards to match whether they count now.

    Cheap when nothing changed (two indexed reads); called after every launch and roster sync.
    """
    want = eligible(course_id, user_id)
    have_rows = _course_board_rows(course_id, user_id)
    course = db.session.get(Course, course_id)
    if want and not have_rows:
        deltas = _person_boards(course, user_id)
        if not deltas:
            return False
        bump_person(course.organisation_id, user_id, deltas)
    elif not want and have_rows:
        held = drop_from_boards(user_id, have_rows)
        organisation = organisation_scope(course.organisation_id)
        if len(identities(user_id)) > 1:  # linked across LMSs: their other identities may still count
            relink_boards(course.organisation_id, [user_id])
        elif _counts_elsewhere(course, user_id):
            bump_boards(user_id, {board_key(organisation, p, d): -points for board, points in held.items()
                                  for scope, p, d in [split_key(board)] if scope == course_scope(course_id)})
        else:  # nothing left for them on the organisation's boards either
            drop_from_boards(user_id, db.session.scalars(select(BoardScore.board).where(
                BoardScore.user_id == user_id, BoardScore.board.startswith(organisation + ":", autoescape=True))))
    else:
        return False
    for team_id in _teams_of(course_id, user_id):
        team_members_changed(team_id)
    return True


def reconcile_course(course_id: int) -> int:
    """reconcile_member for everyone whose standing differs from the boards; then every team's figures."""
    on_boards = set(db.session.scalars(select(BoardScore.user_id).where(
        BoardScore.board == board_key(course_scope(course_id), ALL, TOTAL))))
    wanted = set(db.session.scalars(select(Membership.user_id).where(
        Membership.course_id == course_id, _eligible_clause())))
    with_points = set(db.session.scalars(select(LedgerEntry.user_id).where(
        LedgerEntry.course_id == course_id).distinct())) if wanted - on_boards else set()
    changed = 0
    for user_id in sorted((on_boards - wanted) | ((wanted - on_boards) & with_points)):
        changed += reconcile_member(course_id, user_id)
    for team_id in db.session.scalars(select(Team.id).where(Team.course_id == course_id)):
        team_members_changed(team_id)
    # A team challenge's board counts the team's members as they are now (as a rebuild would).
    for challenge_id in db.session.scalars(select(Challenge.id).where(
            Challenge.course_id == course_id, Challenge.team_id.is_not(None), Challenge.cancelled_at.is_(None))):
        rebuild_challenge(challenge_id)
    return changed


def team_members_changed(team_id: int) -> None:
    """Recompute a team's figures from its counted members' rows (after people joined, left or changed)."""
    team = db.session.get(Team, team_id)
    db.session.execute(delete(TeamStat).where(TeamStat.team_id == team_id))
    if team is None:
        standings.team_changed(team_id, None, None, 0, {})
        return
    members = select(TeamMember.user_id).join(Membership, and_(
        Membership.user_id == TeamMember.user_id, Membership.course_id == team.course_id)).where(
        TeamMember.team_id == team_id, _eligible_clause())
    member_ids = list(db.session.scalars(members))
    rows: dict[tuple, int] = {(team_id, ALL, "members"): len(member_ids)}
    if member_ids:
        prefix = course_scope(team.course_id) + ":"
        for board, points in db.session.execute(select(BoardScore.board, func.sum(BoardScore.points)).where(
                BoardScore.user_id.in_(member_ids), BoardScore.board.startswith(prefix, autoescape=True),
        ).group_by(BoardScore.board)):
            _scope, period, dimension = split_key(board)
            rows[(team_id, period, f"points:{dimension}")] = int(points)
        doers = func.sum(case((MemberStat.value > 0, 1), else_=0))
        for period, metric, total, count in db.session.execute(
                select(MemberStat.period, MemberStat.metric, func.sum(MemberStat.value), doers).where(
                    MemberStat.course_id == team.course_id, MemberStat.user_id.in_(member_ids))
                .group_by(MemberStat.period, MemberStat.metric)):
            rows[(team_id, period, metric)] = int(total)
            if metric in FIRST_MARKERS:
                rows[(team_id, period, FIRST_MARKERS[metric])] = int(count or 0)
    values = [{"team_id": t, "period": p, "metric": m, "value": v} for (t, p, m), v in sorted(rows.items()) if v]
    if values:
        db.session.execute(TeamStat.__table__.insert(), values)
    figures: dict[str, tuple[int, int, int]] = defaultdict(lambda: (0, 0, 0))
    for (_t, period, metric), value in rows.items():
        if metric in _STANDING_FIGURES:
            values_now = list(figures[period])
            values_now[_STANDING_FIGURES[metric]] = value
            figures[period] = tuple(values_now)
    standings.team_changed(team_id, team.course_id, team.name, len(member_ids), dict(figures))


# team_stat metric -> its place in a standing's (points, experimenters, helpers)
_STANDING_FIGURES = {f"points:{TOTAL}": 0, "experimenters": 1, "helpers": 2}


def rebuild_challenge(challenge_id: int) -> None:
    """Recompute a challenge's board from the ledger (after it was created, moved, retargeted or cancelled)."""
    board = board_key(challenge_scope(challenge_id), ALL, TOTAL)
    db.session.execute(delete(BoardScore).where(BoardScore.board == board))
    db.session.execute(delete(BoardRank).where(BoardRank.board.in_([board, blocks_key(board)])))
    challenge = db.session.get(Challenge, challenge_id)
    if challenge is None or challenge.cancelled_at is not None:
        return
    original, earned_at = _ledger_with_earned_at()
    eligible_people = _eligible_members().where(Membership.course_id == challenge.course_id).subquery()
    query = select(LedgerEntry.user_id, func.sum(LedgerEntry.amount)).outerjoin(
        original, original.id == LedgerEntry.reverses_id).join(
        eligible_people, and_(eligible_people.c.user_id == LedgerEntry.user_id,
                              eligible_people.c.course_id == LedgerEntry.course_id)).where(
        LedgerEntry.course_id == challenge.course_id, earned_at >= challenge.starts_at,
        earned_at < challenge.ends_at).group_by(LedgerEntry.user_id)
    if challenge.team_id is not None:
        query = query.where(LedgerEntry.user_id.in_(select(TeamMember.user_id).where(
            TeamMember.team_id == challenge.team_id)))
    scores = {user_id: int(points) for user_id, points in db.session.execute(query)}
    _write_board(board, scores)


def _write_board(board: str, scores: dict[int, int]) -> None:
    if not scores:
        return
    db.session.execute(BoardScore.__table__.insert(), [
        {"board": board, "user_id": u, "points": p} for u, p in sorted(scores.items())])
    buckets: dict[tuple[str, int], int] = defaultdict(int)
    for points in scores.values():
        buckets[(board, points)] += 1
    db.session.execute(BoardRank.__table__.insert(), [
        {"board": b, "points": p, "members": n} for (b, p), n in sorted(with_blocks(buckets).items())])
