"""An AI experiment a person logged: structured facts (tool, category, outcome, dates) plus free text."""
from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ARRAY, JSON, ForeignKey, Index, Integer, SmallInteger, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from plugin.core.db import UTCDateTime
from plugin.extensions import db


class Outcome(str, enum.Enum):
    WORKED = "worked"
    PARTLY = "partly"
    FAILED = "failed"


class SensitiveData(str, enum.Enum):
    NO = "no"
    YES = "yes"
    UNSURE = "unsure"


class Visibility(str, enum.Enum):
    PRIVATE = "private"
    TEAM = "team"
    COURSE = "course"


class Experiment(db.Model):
    __tablename__ = "experiment"
    __table_args__ = (
        UniqueConstraint("course_id", "user_id", "submission_key"),
        Index("ix_experiment_course_created", "course_id", "created_at"),
        # An author's entries in a course, by date: the award path reads their recent ones (near-duplicates,
        # repeats, streaks); without the date here SQLite walked the whole course's last 90 days instead.
        Index("ix_experiment_author_created", "user_id", "course_id", "created_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    submission_key: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    ai_tool_id: Mapped[int | None] = mapped_column(ForeignKey("ai_tool.id"))
    ai_tool_other: Mapped[str | None] = mapped_column(String(100))
    task_category_id: Mapped[int] = mapped_column(ForeignKey("task_category.id"))
    tried: Mapped[str] = mapped_column(Text)
    outcome: Mapped[str] = mapped_column(String(10))
    learned: Mapped[str] = mapped_column(Text, default="")
    minutes_saved: Mapped[int | None] = mapped_column()  # the author's estimate; None: they gave none
    sensitive_data: Mapped[str] = mapped_column(String(10))
    visibility: Mapped[str] = mapped_column(String(10))
    anonymous: Mapped[bool] = mapped_column(default=False)  # a shared failure without the author's name
    # Structured facts fixed when logged, so rules and replays never read the free text.
    reflection_chars: Mapped[int] = mapped_column(default=0)
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("experiment.id", ondelete="SET NULL"))
    hidden_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    hidden_reason: Mapped[str | None] = mapped_column(Text)
    # "How confident do you feel using AI for this task?" 1..5, before and after; reported only in aggregate.
    confidence_before: Mapped[int | None] = mapped_column(SmallInteger)
    confidence_after: Mapped[int | None] = mapped_column(SmallInteger)
    # Why the author gets a private coaching note ("unapproved_tool,sensitive_data"); never shown to others.
    coaching: Mapped[str] = mapped_column(String(60), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # When the entry was first shared: its logging time if shared then, else when its author first shared it. Its
    # sharing rules were paid then, under that day's points cap (share_experiment), and a replay pays them there too.
    # None: never shared, or logged shared before revision 0053 and private now (a replay sees it shared when logged
    # if it is shared again; sharing it again sets this).
    shared_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the free text was removed (retention period or erasure); the structured facts stay.
    text_purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # PostgreSQL: the word triples of the text as most_similar compares them, hashed (similarity.fingerprint), so
    # the award's preflight sends back only the recent texts sharing one with the new entry's. None (SQLite, rows
    # logged before 2026-12-02, a text changed since: a trigger clears it) means the text is compared.
    shingle_hashes: Mapped[list[int] | None] = mapped_column(
        ARRAY(Integer).with_variant(JSON(none_as_null=True), "sqlite"))

    @property
    def tool_key(self) -> str:
        return f"tool:{self.ai_tool_id}" if self.ai_tool_id else "other"

    @property
    def shared(self) -> bool:
        return self.visibility != Visibility.PRIVATE.value

    @property
    def coaching_reasons(self) -> list[str]:
        return [r for r in (self.coaching or "").split(",") if r]

    @property
    def has_reflection(self) -> bool:
        return bool(self.learned and self.learned.strip())
