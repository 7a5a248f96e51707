"""The only writer of ledger rows: append-only, idempotent by key, totals maintained in the same transaction."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, delete, func, select

from plugin.core.db import Hot, batch_memory, dialect_name, insert_for_dialect
from plugin.errors import Conflict, NotFound
from plugin.extensions import db
from plugin.leaderboards import aggregates
from plugin.ledger import pending
from plugin.ledger.models import (
    TOTAL,
    LedgerEntry,
    PointsTotal,
    QuarterPoints,
    in_quarters,
    quarter_of,
    quarter_sql,
    quarter_start,
)

_TOTALS = PointsTotal.__table__
_TOTAL_KEYS = ["course_id", "user_id", "dimension"]
_QUARTERS = QuarterPoints.__table__
_QUARTER_KEYS = ["course_id", "user_id", "source_type", "quarter"]


@dataclass(frozen=True)
class Posting:
    organisation_id: int
    course_id: int
    user_id: int
    amount: int
    dimension: str
    source_type: str
    source_id: int | None
    key: str
    rule_id: int | None = None
    rule_version: int | None = None
    # A recalculation's entry: when the daily cap and the rules' windows count it (LedgerEntry.counted_at)
    counted_at: datetime | None = None


def post_entry(posting: Posting, now: datetime, reverses_id: int | None = None,
               earned_at: datetime | None = None) -> int | None:
    """Append one entry; return its id, or None when an entry with this key already exists
    (or, for a reversal, when the entry was reversed meanwhile: reverses_id is unique too).

    Totals and board aggregates move in the same transaction; `earned_at` (a reversal: when the cancelled
    entry was earned) decides the week and month boards it counts in, the posting's counted_at (a recalculation's)
    the quarter hour of the daily cap."""
    if dialect_name(db.session) == "postgresql":
        return _post_in_one(posting, now, reverses_id, earned_at or now)
    entry_id = _INSERT.scalar(db.session, {
        "idempotency_key": posting.key, "organisation_id": posting.organisation_id,
        "course_id": posting.course_id, "user_id": posting.user_id, "amount": posting.amount,
        "dimension": posting.dimension, "rule_id": posting.rule_id, "rule_version": posting.rule_version,
        "source_type": posting.source_type, "source_id": posting.source_id, "reverses_id": reverses_id,
        "created_at": now, "counted_at": posting.counted_at,
    })
    if entry_id is not None:
        # Both totals rows (the entry's dimension and "total") in one executemany of one prepared upsert.
        amounts = {posting.dimension: posting.amount}
        amounts[TOTAL] = amounts.get(TOTAL, 0) + posting.amount
        _ADD_TOTALS.execute(db.session, many=[
            {"course_id": posting.course_id, "user_id": posting.user_id, "dimension": dimension, "points": points}
            for dimension, points in sorted(amounts.items())])
        if _in_quarters(posting, reverses_id):  # the points of its quarter hour (the daily cap's)
            _ADD_QUARTER.execute(db.session, {"course_id": posting.course_id, "user_id": posting.user_id,
                                              "source_type": posting.source_type,
                                              "quarter": quarter_of(posting.counted_at or now),
                                              "points": posting.amount})
        aggregates.apply_points(posting.organisation_id, posting.course_id, posting.user_id, posting.dimension,
                                posting.amount, earned_at or now)
    return entry_id


_ENTRY_COLUMNS = ["idempotency_key", "organisation_id", "course_id", "user_id", "amount", "dimension", "rule_id",
                  "rule_version", "source_type", "source_id", "reverses_id", "created_at", "counted_at"]


def _in_quarters(posting: Posting, reverses_id: int | None) -> bool:
    """Whether the entry counts in the points per quarter hour (ledger.models.in_quarters): an original entry, or a
    recalculation's reversal (counted_at: its entry's moment, whose points it takes back out)."""
    return reverses_id is None or posting.counted_at is not None


_INSERT = Hot(lambda dialect: insert_for_dialect(dialect, LedgerEntry.__table__).values(
    {c: bindparam(c, type_=LedgerEntry.__table__.c[c].type) for c in _ENTRY_COLUMNS}).on_conflict_do_nothing(
).returning(LedgerEntry.__table__.c.id), writes=(LedgerEntry.__tablename__,))


def _add_totals(dialect: str):
    ins = insert_for_dialect(dialect, _TOTALS)
    return ins.on_conflict_do_update(index_elements=_TOTAL_KEYS, set_={"points": _TOTALS.c.points + ins.excluded.points})


_ADD_TOTALS = Hot(_add_totals, writes=(_TOTALS.name,))


def _add_quarter(dialect: str):
    ins = insert_for_dialect(dialect, _QUARTERS)
    return ins.on_conflict_do_update(index_elements=_QUARTER_KEYS,
                                     set_={"points": _QUARTERS.c.points + ins.excluded.points})


_ADD_QUARTER = Hot(_add_quarter, writes=(_QUARTERS.name,))


def _post_in_one(posting: Posting, now: datetime, reverses_id: int | None, earned_at: datetime) -> int | None:
    """post_entry on PostgreSQL: the entry and both totals rows in one statement (one round trip instead of two),
    the totals written from the inserted entry's row, so a key already used adds nothing.

    The board rows stay a statement of their own, after it: the entry's foreign key check (at the end of the
    statement) is what waits for an identity link in progress, and only then may the board holder be read
    (identity linking takes the organisation row FOR UPDATE; a board row locked before that wait deadlocks).
    An experiment's award holds its entries for its one write, with the board rows: its preflight took the
    organisation's row KEY SHARE already, so that write waits for no link."""
    row = {"idempotency_key": posting.key, "organisation_id": posting.organisation_id, "course_id": posting.course_id,
           "user_id": posting.user_id, "amount": posting.amount, "dimension": posting.dimension,
           "rule_id": posting.rule_id, "rule_version": posting.rule_version, "source_type": posting.source_type,
           "source_id": posting.source_id, "reverses_id": reverses_id, "created_at": now,
           "counted_at": posting.counted_at}
    # ledger/pending.py; a recalculation's entry (counted_at) is never part of an experiment's award: written now
    entry_id = pending.hold_entry(row) if posting.counted_at is None else None
    if entry_id is None:
        amounts = {posting.dimension: posting.amount}
        amounts[TOTAL] = amounts.get(TOTAL, 0) + posting.amount
        dimensions = sorted(amounts)
        counted = _in_quarters(posting, reverses_id)  # the points of its quarter hour (the daily cap's)
        entry_id = _POST_IN_ONE.scalar(db.session, {**row, "total_dimensions": dimensions,
                                                    "total_points": [amounts[d] for d in dimensions],
                                                    "quarter_sources": [posting.source_type] if counted else [],
                                                    "quarter_numbers": [quarter_of(posting.counted_at or now)]
                                                    if counted else [],
                                                    "quarter_points": [posting.amount] if counted else []})
    if entry_id is not None:
        aggregates.apply_points(posting.organisation_id, posting.course_id, posting.user_id, posting.dimension,
                                posting.amount, earned_at)
    return entry_id


def _post_in_one_statement():
    from sqlalchemy import ARRAY, BigInteger, Integer, String, true
    from sqlalchemy.dialects.postgresql import insert

    ledger = LedgerEntry.__table__
    entry = insert(ledger).values({c: bindparam(c, type_=ledger.c[c].type) for c in _ENTRY_COLUMNS}).on_conflict_do_nothing(
    ).returning(ledger.c.id).cte("entry")
    given = func.unnest(bindparam("total_dimensions", type_=ARRAY(String)),
                        bindparam("total_points", type_=ARRAY(Integer))).table_valued(
        "dimension", "points").render_derived()
    totals = insert(_TOTALS).from_select(
        ["course_id", "user_id", "dimension", "points"],
        select(bindparam("course_id", type_=Integer), bindparam("user_id", type_=Integer), given.c.dimension,
               given.c.points).select_from(entry).join(given, true()))
    totals = totals.on_conflict_do_update(index_elements=_TOTAL_KEYS,
                                          set_={"points": _TOTALS.c.points + totals.excluded.points}).cte("totals")
    counted = func.unnest(bindparam("quarter_sources", type_=ARRAY(String)),
                          bindparam("quarter_numbers", type_=ARRAY(Integer)),
                          bindparam("quarter_points", type_=ARRAY(BigInteger))).table_valued(
        "source_type", "quarter", "points").render_derived()
    quarters = insert(_QUARTERS).from_select(
        [*_QUARTER_KEYS, "points"],
        select(bindparam("course_id", type_=Integer), bindparam("user_id", type_=Integer), counted.c.source_type,
               counted.c.quarter, counted.c.points).select_from(entry).join(counted, true()))
    quarters = quarters.on_conflict_do_update(index_elements=_QUARTER_KEYS, set_={
        "points": _QUARTERS.c.points + quarters.excluded.points}).cte("quarters")
    return select(entry.c.id).add_cte(totals, quarters)


_POST_IN_ONE = Hot(lambda _dialect: _post_in_one_statement(),
                   writes=(LedgerEntry.__tablename__, _TOTALS.name, _QUARTERS.name))


def reverse_entry(entry_id: int, key: str, now: datetime, recalculated: bool = False) -> int | None:
    """Cancel an entry with a reversing entry of its own key; the original row is never touched. `recalculated`: a
    recalculation's (replay, settle), which takes the entry's points back out of the daily cap of the moment it
    counted at too (its counted_at); a manager's revocation leaves that day's cap as it was."""
    original = db.session.get(LedgerEntry, entry_id)
    if original is None:
        raise NotFound("no such ledger entry")
    if original.reverses_id is not None:
        raise Conflict("a reversing entry cannot itself be reversed")
    already = db.session.scalar(select(LedgerEntry.idempotency_key).where(LedgerEntry.reverses_id == original.id))
    if already is not None and already != key:
        raise Conflict("that entry has already been reversed")
    return post_entry(Posting(
        organisation_id=original.organisation_id, course_id=original.course_id, user_id=original.user_id,
        amount=-original.amount, dimension=original.dimension, source_type=original.source_type,
        source_id=original.source_id, key=key, rule_id=original.rule_id, rule_version=original.rule_version,
        counted_at=(original.counted_at or original.created_at) if recalculated else None,
    ), now, reverses_id=original.id, earned_at=original.created_at)


def balance(course_id: int, user_id: int, dimension: str = TOTAL) -> int:
    return db.session.scalar(select(PointsTotal.points).where(
        PointsTotal.course_id == course_id, PointsTotal.user_id == user_id, PointsTotal.dimension == dimension)) or 0


def balances(course_id: int, user_id: int) -> dict[str, int]:
    rows = db.session.execute(select(PointsTotal.dimension, PointsTotal.points).where(
        PointsTotal.course_id == course_id, PointsTotal.user_id == user_id))
    return {dimension: points for dimension, points in rows}


def entries(course_id: int, user_id: int, limit: int = 50) -> list[LedgerEntry]:
    return list(db.session.scalars(select(LedgerEntry).where(
        LedgerEntry.course_id == course_id, LedgerEntry.user_id == user_id,
    ).order_by(LedgerEntry.id.desc()).limit(limit)))


def _scope(query, course_id: int | None, organisation_id: int | None, course_column):
    """`query` limited to one course or to one organisation's courses (None, None: everything)."""
    from plugin.tenancy.models import Course

    if course_id is not None:
        query = query.where(course_column == course_id)
    if organisation_id is not None:
        query = query.where(course_column.in_(select(Course.id).where(Course.organisation_id == organisation_id)))
    return query


def _sums_from_ledger(course_id: int | None, organisation_id: int | None = None):
    query = _scope(select(LedgerEntry.course_id, LedgerEntry.user_id, LedgerEntry.dimension,
                          func.sum(LedgerEntry.amount)).group_by(LedgerEntry.course_id, LedgerEntry.user_id,
                                                                 LedgerEntry.dimension),
                   course_id, organisation_id, LedgerEntry.course_id)
    sums: dict[tuple[int, int, str], int] = {}
    for c, u, d, amount in db.session.execute(query):
        sums[(c, u, d)] = int(amount)
        sums[(c, u, TOTAL)] = sums.get((c, u, TOTAL), 0) + int(amount)
    return sums


def _quarter_sums(course_id: int | None, organisation_id: int | None):
    """The ledger's original entries (and a recalculation's reversals) summed per course, person, source type and
    quarter hour of the moment they count at (quarter_points)."""
    quarter = quarter_sql(dialect_name(db.session))
    return _scope(select(LedgerEntry.course_id, LedgerEntry.user_id, LedgerEntry.source_type,
                         quarter.label("quarter"), func.sum(LedgerEntry.amount).label("points")).where(in_quarters())
                  .group_by(LedgerEntry.course_id, LedgerEntry.user_id, LedgerEntry.source_type, quarter),
                  course_id, organisation_id, LedgerEntry.course_id)


def rebuild_totals(course_id: int | None = None, organisation_id: int | None = None) -> int:
    """Recompute every total (of one course, or of one organisation's courses) from the ledger (the ledger is the
    truth), and the points per quarter hour the daily cap reads. Returns the totals rows written."""
    with batch_memory(db.session):
        db.session.execute(_scope(delete(PointsTotal), course_id, organisation_id, PointsTotal.course_id))
        rows = [{"course_id": c, "user_id": u, "dimension": d, "points": p}
                for (c, u, d), p in _sums_from_ledger(course_id, organisation_id).items()]
        if rows:
            db.session.execute(PointsTotal.__table__.insert(), rows)
        db.session.execute(_scope(delete(QuarterPoints), course_id, organisation_id, QuarterPoints.course_id))
        db.session.execute(_QUARTERS.insert().from_select([*_QUARTER_KEYS, "points"],
                                                          _quarter_sums(course_id, organisation_id)))
    return len(rows)


def verify_totals(course_id: int | None = None, organisation_id: int | None = None
                  ) -> list[tuple[int, int, str, int, int]]:
    """Differences between maintained totals and the ledger: (course, user, dimension, stored, ledger)."""
    expected = _sums_from_ledger(course_id, organisation_id)
    query = _scope(select(PointsTotal.course_id, PointsTotal.user_id, PointsTotal.dimension, PointsTotal.points),
                   course_id, organisation_id, PointsTotal.course_id)
    stored = {(c, u, d): p for c, u, d, p in db.session.execute(query)}
    diffs = []
    for key in sorted(set(expected) | set(stored)):
        if expected.get(key, 0) != stored.get(key, 0):
            diffs.append((*key, stored.get(key, 0), expected.get(key, 0)))
    # The points per quarter hour (the daily cap's), told as "<source type> points from <UTC time>, 15 minutes".
    expected_quarters = {(c, u, t, q): int(p) for c, u, t, q, p in db.session.execute(
        _quarter_sums(course_id, organisation_id))}
    stored_quarters = {(c, u, t, q): p for c, u, t, q, p in db.session.execute(_scope(select(
        QuarterPoints.course_id, QuarterPoints.user_id, QuarterPoints.source_type, QuarterPoints.quarter,
        QuarterPoints.points), course_id, organisation_id, QuarterPoints.course_id))}
    for c, u, t, q in sorted(set(expected_quarters) | set(stored_quarters)):
        if expected_quarters.get((c, u, t, q), 0) != stored_quarters.get((c, u, t, q), 0):
            start = quarter_start(q).strftime("%Y-%m-%d %H:%M")
            diffs.append((c, u, f"{t} points from {start} UTC, 15 minutes", stored_quarters.get((c, u, t, q), 0),
                          expected_quarters.get((c, u, t, q), 0)))
    return diffs


def points_for_source(course_id: int, user_id: int, source_type: str, source_id: int) -> int:
    return db.session.scalar(select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
        LedgerEntry.course_id == course_id, LedgerEntry.user_id == user_id,
        LedgerEntry.source_type == source_type, LedgerEntry.source_id == source_id)) or 0
