"""Recognition given by managers: kudos (with optional points from a monthly budget)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from plugin.core.db import UTCDateTime
from plugin.extensions import db


class Kudos(db.Model):
    __tablename__ = "kudos"
    __table_args__ = (Index("ix_kudos_course_receiver", "course_id", "receiver_id"),
                      UniqueConstraint("course_id", "giver_id", "submission_key", name="uq_kudos_submission"))
    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id", ondelete="CASCADE"))
    giver_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    receiver_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    message: Mapped[str] = mapped_column(Text)
    value_tag_id: Mapped[int | None] = mapped_column(ForeignKey("value_tag.id"))
    points: Mapped[int] = mapped_column(default=0)
    # The budget month its points were spent in (YYYY-MM, the organisation's time zone then): refunded there.
    budget_month: Mapped[str | None] = mapped_column(String(7))
    submission_key: Mapped[str] = mapped_column(String(64))  # the form's: one kudos per course, giver and key
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_reason: Mapped[str | None] = mapped_column(Text)


class KudosBudget(db.Model):
    """Points a manager has given in a course in one calendar month; spent only by a guarded UPDATE."""

    __tablename__ = "kudos_budget"
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id", ondelete="CASCADE"), primary_key=True)
    giver_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)  # YYYY-MM
    spent: Mapped[int] = mapped_column(default=0)
