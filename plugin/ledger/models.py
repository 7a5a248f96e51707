"""The points ledger (append-only, ids and amounts only) and the totals maintained from it."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, exists, func
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


class PointsTotal(db.Model):
    """Per course, learner and dimension (plus 'total'): derived, rebuildable from the ledger."""

    __tablename__ = "points_total"
    __table_args__ = (Index("ix_points_total_board", "course_id", "dimension", "points"),)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True)
    dimension: Mapped[str] = mapped_column(String(40), primary_key=True)
    points: Mapped[int] = mapped_column(default=0)
