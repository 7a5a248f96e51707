"""Board rows and rank rows: one person's points on a board (board_score) and how many people hold each points
value and block (board_rank), moved together so a rank is always a sum over rank rows.

Every writer of points ends here (aggregates.bump_person -> bump_boards); ranks_last gathers the rank rows an
award moves and writes them last, in one statement, keys sorted."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Integer,
    String,
    and_,
    bindparam,
    case,
    delete,
    func,
    literal,
    literal_column,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert

from plugin.core.db import Hot, HotByCount, HotRows, dialect_name
from plugin.extensions import db
from plugin.leaderboards.keys import BLOCK, BLOCKS, with_blocks
from plugin.leaderboards.models import BoardRank, BoardScore
from plugin.ledger import pending as award_rows

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
        held = award_rows.stop()
    if held is not None and held.rows:  # an experiment's award: its rows, these and the ranks in one statement
        held.write(held, boards or {}, pending)
    elif boards:
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
    _SQLITE_RANKS.execute(db.session, [(board, points, members) for (board, points), members in rows])


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
# SQLite: one statement (core.db.HotRows).
_SQLITE_RANKS = HotRows(BoardRank.__table__, ("board", "points", "members"), _ranks_upsert,
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
    _PG_BOARDS_AND_RANKS.execute(db.session, board_arrays(boards, ranks))


def board_arrays(boards: dict[tuple[str, int], int], ranks: dict[tuple[str, int], int]) -> dict[str, list]:
    """pg_boards_and_ranks' parameters: the board rows and the rank changes (blocks included: _move_ranks added
    them) as arrays, keys sorted."""
    rows = sorted(boards.items())
    extra = sorted((key, n) for key, n in ranks.items() if n)
    return {"boards": [b for (b, _u), _d in rows], "holders": [u for (_b, u), _d in rows],
            "deltas": [d for _k, d in rows], "rank_boards": [b for (b, _p), _n in extra],
            "rank_points": [p for (_b, p), _n in extra], "rank_members": [n for _k, n in extra]}


def pg_boards_and_ranks(gate=None):
    """_pg_board_add for several holders, its RETURNING turned into bucket and block changes (as bump_boards and
    with_blocks make them), added to the given ones and upserted into board_rank, keys in the order Python sorts
    them (the C collation), as _pg_ranks does: concurrent writers lock shared buckets in the same order.
    `gate`: a CTE of a statement this one becomes part of (experiments/award_write.py): the board rows move only
    when it has a row (the experiment they are for was inserted)."""
    from sqlalchemy import Numeric, union_all
    from sqlalchemy import cast as cast_
    from sqlalchemy import false as false_

    scores, ranks = BoardScore.__table__, BoardRank.__table__
    given = select(func.unnest(bindparam("boards", type_=ARRAY(String)), bindparam("holders", type_=ARRAY(Integer)),
                               bindparam("deltas", type_=ARRAY(BigInteger))).table_valued(
        "board", "user_id", "points").render_derived())
    if gate is not None:
        given = given.where(select(gate.c[0]).exists())
    given = given.cte("given")
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


_PG_BOARDS_AND_RANKS = Hot(lambda _dialect: pg_boards_and_ranks(),
                           writes=(BoardScore.__tablename__, BoardRank.__tablename__))


def _sqlite_move(count: int):
    """SQLite: `count` of one person's board rows moved in one UPDATE, each found by its key (:b0.. and :holder)
    and given its delta (:d0..) by a CASE on the board. (The deltas as one JSON object, joined in, cost twice as
    much: SQLite 3.40 parses it again for every row.)"""
    table = BoardScore.__table__
    boards = [bindparam(f"b{i}", type_=String) for i in range(count)]
    delta = case({board: bindparam(f"d{i}", type_=BigInteger) for i, board in enumerate(boards)}, value=table.c.board)
    return update(table).values(points=table.c.points + delta).where(
        table.c.user_id == bindparam("holder", type_=Integer), table.c.board.in_(boards)).returning(
        table.c.board, table.c.points)


# By the number of boards: the statement, and its board and delta parameter names.
_SQLITE_MOVES = HotByCount(lambda _dialect, count: _sqlite_move(count),
                           lambda count: ([f"b{i}" for i in range(count)], [f"d{i}" for i in range(count)]),
                           writes=(BoardScore.__tablename__,))


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
    # SQLite: the rows the person holds move in one UPDATE (_sqlite_move);
    # boards they are new to (their first points there, a new week or month) are then inserted. The transaction
    # holds the database's write lock (BEGIN IMMEDIATE), so no other writer adds one of those rows in between.
    # The buckets and blocks they move go straight into ranks_last's gathering when there is one (what _move_ranks
    # does, without building the changes twice; blocks only where a move crosses one).
    pending = db.session().info.get(_LATE_RANKS)
    changes = ranks if pending is None else pending
    moved = set()
    move, (board_names, delta_names) = _SQLITE_MOVES(len(boards))
    params = dict(zip(board_names, boards))
    params.update(zip(delta_names, [deltas[b] for b in boards]), holder=user_id)
    for board, points in move.all(db.session, params):
        moved.add(board)
        before = points - deltas[board]
        changes[(board, before)] -= 1
        changes[(board, points)] += 1
        if before // BLOCK != points // BLOCK:
            changes[(board + BLOCKS, before // BLOCK)] -= 1
            changes[(board + BLOCKS, points // BLOCK)] += 1
    new = [b for b in boards if b not in moved]
    if new:
        db.session.execute(table.insert(), [{"board": b, "user_id": user_id, "points": deltas[b]} for b in new])
        for board in new:  # a newcomer joins at zero, then moves like everyone else
            changes[(board, deltas[board])] += 1
            changes[(board + BLOCKS, deltas[board] // BLOCK)] += 1
    if pending is None:
        _write_ranks(changes)


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



def write_board(board: str, scores: dict[int, int]) -> None:
    if not scores:
        return
    db.session.execute(BoardScore.__table__.insert(), [
        {"board": board, "user_id": u, "points": p} for u, p in sorted(scores.items())])
    buckets: dict[tuple[str, int], int] = defaultdict(int)
    for points in scores.values():
        buckets[(board, points)] += 1
    db.session.execute(BoardRank.__table__.insert(), [
        {"board": b, "points": p, "members": n} for (b, p), n in sorted(with_blocks(buckets).items())])
