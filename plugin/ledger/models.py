"""The points ledger (append-only, ids and amounts only) and the totals maintained from it."""
from __future__ import annotations

import math
from datetime import datetime, timezone

from sqlalchemy import BigInteger, ForeignKey, Index, String, exists, func, literal_column
from sqlalchemy.orm import Mapped, mapped_column

from plugin.core.db import UTCDateTime
from plugin.extensions import db

TOTAL = "total"  # the dimension row that sums all dimensions
# The key prefix of the entries reversing what a manager revoked (a badge award, with its rule firing's points; a
# kudos' own points): a human decision about the award, which stands. Other reversals unearn an award whose cause
# was taken back (a replay's recalculation, a revoked kudos' settlement): the rule may give it again.
REVOKED = "revoke:"


def unearned(entry_id):
    """SQL: the entry (its id column, `entry_id`) was unearned, reversed by anything but a manager's revocation."""
    reversal = LedgerEntry.__table__.alias("reversal")
    return exists().where(reversal.c.reverses_id == entry_id, ~reversal.c.idempotency_key.startswith(REVOKED))


def counted_time():
    """SQL: when the daily cap and the rules' windows count the entry: its counted_at (a recalculation's entry), else
    when it was posted."""
    table = LedgerEntry.__table__
    return func.coalesce(table.c.counted_at, table.c.created_at)


def in_quarters():
    """SQL: the entry counts in the points per quarter hour (the daily cap's): an original entry, or a recalculation's
    reversal (it takes its entry's points back out of that entry's quarter hour). A manager's revocation counts in
    none: what they revoked still fills its day's cap, as a replay's simulation counts it."""
    table = LedgerEntry.__table__
    return (func.coalesce(table.c.reverses_id, 0) == 0) | table.c.counted_at.is_not(None)


def original():
    """SQL: the entry is not a reversal. Written so that no index on reverses_id can serve it: SQLite took
    "reverses_id IS NULL" as a lookup in that unique index and walked every original entry of the installation
    instead of the person's."""
    return func.coalesce(LedgerEntry.__table__.c.reverses_id, 0) == 0


class LedgerEntry(db.Model):
    """Written only by ledger.service.post_entry / reverse_entry. Never updated, never deleted."""

    __tablename__ = "ledger_entry"
    # A person's entries in a course, by rule: an award reads their past awards per rule (the every-experiment
    # rule's, as many as their experiments, left out from the index alone).
    # A person's past awards per rule (rules' facts), and the points a source earned them in a day (the daily cap:
    # an index-only range over that day's entries, whatever came before; reversals told apart in the index too).
    __table_args__ = (Index("ix_ledger_course_user_rule", "course_id", "user_id", "rule_id"),
                      Index("ix_ledger_course_user_source_day", "course_id", "user_id", "source_type", "created_at",
                            "amount", "reverses_id"))
    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    amount: Mapped[int]
    dimension: Mapped[str] = mapped_column(String(40))
    rule_id: Mapped[int | None] = mapped_column(ForeignKey("rule.id"))
    rule_version: Mapped[int | None]
    source_type: Mapped[str] = mapped_column(String(40))
    source_id: Mapped[int | None]
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entry.id"), unique=True)  # one reversal each
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # When the daily cap and the rules' windows (cooldowns, once per window, the time of the last award) count the
    # entry, where that is not when it was posted: a recalculation (replay, settle) posts today what an award earned
    # then pays, at the moment the recalculation counted it (its event's), and reverses an entry at that entry's
    # moment. None: when it was posted (every award as it happens, a manager's revocation, and entries posted before
    # revision 0054). The boards count every entry when it was posted (a reversal: when its entry was).
    counted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PointsTotal(db.Model):
    """Per course, learner and dimension (plus 'total'): derived, rebuildable from the ledger."""

    __tablename__ = "points_total"
    __table_args__ = (Index("ix_points_total_board", "course_id", "dimension", "points"),)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True)
    dimension: Mapped[str] = mapped_column(String(40), primary_key=True)
    points: Mapped[int] = mapped_column(default=0)


QUARTER_SECONDS = 900


def quarter_of(moment: datetime) -> int:
    """The UTC quarter hour a moment falls in, numbered from 1970-01-01 00:00 UTC (a naive moment is UTC)."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)
    return math.floor(aware.timestamp()) // QUARTER_SECONDS


def quarter_start(quarter: int) -> datetime:
    """When a quarter hour of quarter_of() begins (UTC)."""
    return datetime.fromtimestamp(quarter * QUARTER_SECONDS, timezone.utc)


def quarter_sql(dialect: str, column: str = "coalesce(ledger_entry.counted_at, ledger_entry.created_at)"):
    """quarter_of() of a UTC timestamp column, in the database's SQL (rebuilds and checks from the ledger)."""
    if dialect == "postgresql":
        return literal_column(f"CAST(floor(extract(epoch FROM {column}) / {QUARTER_SECONDS}) AS INTEGER)")
    return literal_column(f"CAST(strftime('%s', {column}) AS INTEGER) / {QUARTER_SECONDS}")


class QuarterPoints(db.Model):
    """The points a person's original entries (not reversals; a recalculation's reversal counts, at its entry's
    moment: in_quarters) of one source type gave them in a course, per UTC quarter hour: what the daily cap asks. A
    day of an organisation's calendar starts and ends on a quarter hour in every time zone in use, so the cap reads
    at most 96 of these rows, not every entry of the day. Written with the entries (ledger.service,
    experiments.award_write); derived, rebuildable from the ledger."""

    __tablename__ = "quarter_points"
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True)
    source_type: Mapped[str] = mapped_column(String(40), primary_key=True)
    quarter: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    points: Mapped[int] = mapped_column(BigInteger, default=0)
