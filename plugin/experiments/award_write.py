"""PostgreSQL: an experiment's award written in one statement, at its end (the rows ledger/pending.py held back).

The statement inserts the experiment under the id its preflight drew (experiments.service), with the author's
activity, tallies and turn on their membership row; the ledger entries its rules posted, under ids drawn the same
way, the totals they add up to and the points of their quarter hours; the board rows they move and the rank buckets
and blocks those move (leaderboards/board_rows.py). Everything after the experiment is written only when the
experiment is: a submission key used meanwhile, or an author erased while the award waited, writes nothing.

Called with no board rows it writes the experiment and entries only (ledger/pending.flush: a read of their tables
follows; the board rows stay gathered for the end), and without the experiment when that was written so already.
"""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import ARRAY, BigInteger, DateTime, Integer, String, bindparam, cast, func, literal, select, union_all
from sqlalchemy.dialects.postgresql import insert

from plugin.core.db import Hot
from plugin.errors import Conflict
from plugin.extensions import db
from plugin.i18n import gettext as _
from plugin.leaderboards import board_rows
from plugin.ledger.models import QUARTER_SECONDS, TOTAL, LedgerEntry, PointsTotal, QuarterPoints

_L, _P, _Q = LedgerEntry.__table__, PointsTotal.__table__, QuarterPoints.__table__
# The ledger columns written, each sent as an array (one element per entry) of this SQL type.
_ENTRY = (("id", Integer), ("idempotency_key", String), ("organisation_id", Integer), ("course_id", Integer),
          ("user_id", Integer), ("amount", Integer), ("dimension", String), ("rule_id", Integer),
          ("rule_version", Integer), ("source_type", String), ("source_id", Integer), ("reverses_id", Integer),
          ("created_at", String))


def _statement(with_experiment: bool):
    from plugin.experiments.service import insert_with_activity_ctes

    gate, writes = insert_with_activity_ctes() if with_experiment else (None, ())
    arrays = []
    for name, type_ in _ENTRY:
        array = bindparam(f"l_{name}", type_=ARRAY(type_))
        # timestamps go as text (Hot sends text and integer arrays as PostgreSQL's array text), read as UTC
        arrays.append(cast(array, ARRAY(DateTime())) if name == "created_at" else array)
    given = select(func.unnest(*arrays).table_valued(*(name for name, _t in _ENTRY)).render_derived())
    if gate is not None:
        given = given.where(select(gate.c.id).exists())
    given = given.subquery("entries")
    ledger = insert(_L).from_select([name for name, _t in _ENTRY], select(*given.c)).on_conflict_do_nothing(
    ).returning(_L.c.course_id, _L.c.user_id, _L.c.dimension, _L.c.amount, _L.c.source_type, _L.c.reverses_id,
                _L.c.created_at).cte("ledger")
    # The totals they add up to: each entry's dimension and "total", in key order (as ledger.service writes them).
    parts = union_all(select(ledger.c.course_id, ledger.c.user_id, ledger.c.dimension, ledger.c.amount),
                      select(ledger.c.course_id, ledger.c.user_id, literal(TOTAL), ledger.c.amount)).subquery()
    summed = select(parts.c.course_id, parts.c.user_id, parts.c.dimension, cast(func.sum(parts.c.amount), BigInteger)
                    ).group_by(parts.c.course_id, parts.c.user_id, parts.c.dimension).order_by(
        parts.c.course_id, parts.c.user_id, parts.c.dimension.collate("C"))
    totals = insert(_P).from_select(["course_id", "user_id", "dimension", "points"], summed)
    totals = totals.on_conflict_do_update(index_elements=["course_id", "user_id", "dimension"],
                                          set_={"points": _P.c.points + totals.excluded.points}).cte("totals")
    # The points of their quarter hours (the daily cap's; reversals count in none), as ledger.service adds them
    # (ledger.models.quarter_of: whole quarter hours since 1970 UTC).
    quarter = cast(func.floor(func.extract("epoch", ledger.c.created_at) / QUARTER_SECONDS), Integer)
    keys = (ledger.c.course_id, ledger.c.user_id, ledger.c.source_type, quarter)
    by_quarter = select(*keys, cast(func.sum(ledger.c.amount), BigInteger)).where(
        ledger.c.reverses_id.is_(None)).group_by(*keys).order_by(*keys)
    quarters = insert(_Q).from_select(["course_id", "user_id", "source_type", "quarter", "points"], by_quarter)
    quarters = quarters.on_conflict_do_update(index_elements=["course_id", "user_id", "source_type", "quarter"],
                                              set_={"points": _Q.c.points + quarters.excluded.points}).cte("quarters")
    ranks = board_rows.pg_boards_and_ranks(gate).cte("ranks")
    inserted = select(gate.c.id).scalar_subquery() if gate is not None else cast(literal(None), Integer)
    return select(inserted, select(func.count()).select_from(ledger).scalar_subquery()).add_cte(
        *writes, totals, quarters, ranks)


_TABLES = ("experiment", "member_stat", "experiment_tally", _L.name, _P.name, _Q.name, "board_score", "board_rank")
_WITH_EXPERIMENT = Hot(lambda _dialect: _statement(True), writes=_TABLES)
_ENTRIES = Hot(lambda _dialect: _statement(False), writes=_TABLES[3:])


def is_award_write(statement: str) -> bool:
    """Whether `statement` is this module's write (the SQL its statements send)."""
    return any(hot.sql("postgresql") == statement for hot in (_WITH_EXPERIMENT, _ENTRIES))


def write(state, boards: dict | None, ranks: dict | None) -> None:
    """Write what `state` (a ledger.pending.Pending) holds, with the board rows ((board, holder) -> points to add)
    and rank changes gathered by ranks_last (none: they stay gathered)."""
    from plugin.experiments.service import BY_KEY
    from plugin.tenancy.service import account_erased

    experiment, entries = state.experiment, state.entries
    state.experiment, state.entries = None, []
    params = dict(experiment or {})
    for name, _type in _ENTRY:
        values = [entry[name] for entry in entries]
        params[f"l_{name}"] = [_utc_text(v) for v in values] if name == "created_at" else values
    params.update(board_rows.board_arrays(boards or {}, ranks or {}))
    inserted, posted = (_WITH_EXPERIMENT if experiment is not None else _ENTRIES).all(db.session, params)[0]
    if experiment is not None and inserted is None:
        # Its author's membership row, locked since the preflight, keeps their other awards out: the key was not
        # used meanwhile unless their account was erased (its rows gone, nothing locked) while this one waited.
        if db.session.scalar(BY_KEY, {"course_id": experiment["course_id"], "user_id": experiment["user_id"],
                                      "key": experiment["submission_key"]}) is None:
            raise account_erased()
        raise Conflict(_("This entry was saved by another request at the same moment. Reload the page to see it."))
    if posted != len(entries):
        # The preflight read the author's awards under their lock: an entry of the same key cannot appear meanwhile.
        # Should one have, the award stops here (its transaction rolled back) rather than pay what it did not post.
        raise Conflict(_("Your points met another change being saved at the same moment. Send the entry again."))


def _utc_text(moment: datetime) -> str:
    """A moment as the ledger's column keeps it: UTC, without a zone."""
    return (moment.astimezone(timezone.utc).replace(tzinfo=None) if moment.tzinfo else moment).isoformat()
