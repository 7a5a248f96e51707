"""Challenges (a goal over a window), their per-learner contributions, and sandbox-mission evidence.

Progress is kept at write time: `progress_count` / `contributor_count` on the challenge and one
contribution row per learner, bumped by conflict-safe upserts when an experiment is logged or evidence
is accepted. Reading a page never counts experiments.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from plugin.core.db import UTCDateTime
from plugin.extensions import db

COUNT, PARTICIPATION = "count", "participation"
SUBMITTED, RETURNED, ACCEPTED = "submitted", "returned", "accepted"


class Challenge(db.Model):
    __tablename__ = "challenge"
    __table_args__ = (Index("ix_challenge_course_window", "course_id", "ends_at"),
                      Index("ix_challenge_course_start", "course_id", "starts_at"),
                      # led by the creator: a course's reads by time keep their own indexes (one led by course_id
                      # drew the data version's challenge bounds off them on PostgreSQL)
                      UniqueConstraint("created_by_id", "course_id", "submission_key", name="uq_challenge_submission"))
    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id", ondelete="CASCADE"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("team.id", ondelete="SET NULL"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    goal_kind: Mapped[str] = mapped_column(String(20))  # count | participation (percent of learners)
    goal_value: Mapped[int]
    task_category_id: Mapped[int | None] = mapped_column(ForeignKey("task_category.id"))
    ai_tool_id: Mapped[int | None] = mapped_column(ForeignKey("ai_tool.id"))
    badge_id: Mapped[int | None] = mapped_column(ForeignKey("badge_class.id"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)  # exclusive
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # set once, by a guarded UPDATE
    # Maintained counters: matching experiments (or accepted learners for a mission) and distinct learners.
    progress_count: Mapped[int] = mapped_column(default=0, server_default="0")
    contributor_count: Mapped[int] = mapped_column(default=0, server_default="0")
    # Sandbox mission.
    is_mission: Mapped[bool] = mapped_column(Boolean, default=False)
    scenario: Mapped[str] = mapped_column(Text, default="")
    reflection_prompt: Mapped[str] = mapped_column(Text, default="")
    champion_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    dataset_name: Mapped[str | None] = mapped_column(String(200))
    dataset_type: Mapped[str | None] = mapped_column(String(60))
    dataset: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The creating form's key: the same form sent twice (a double click, Back and send again, a retry) creates one.
    submission_key: Mapped[str | None] = mapped_column(String(64))


class ChallengeTool(db.Model):
    """An AI tool approved for a sandbox mission (a subset of the organisation's catalogue)."""

    __tablename__ = "challenge_tool"
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenge.id", ondelete="CASCADE"), primary_key=True)
    ai_tool_id: Mapped[int] = mapped_column(ForeignKey("ai_tool.id", ondelete="CASCADE"), primary_key=True)


class ChallengeContribution(db.Model):
    """A learner's share of a challenge: matching experiments (or an accepted mission), and when the
    learner counts as having completed it (the challenge completed with them, or their evidence accepted)."""

    __tablename__ = "challenge_contribution"
    __table_args__ = (
        UniqueConstraint("challenge_id", "user_id"),
        Index("ix_challenge_contribution_user_course", "user_id", "course_id", "completed_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenge.id", ondelete="CASCADE"))
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    experiments: Mapped[int] = mapped_column(default=0)
    first_at: Mapped[datetime] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class MissionEvidence(db.Model):
    """One submission of evidence for a mission; a resubmission after a return is a new attempt, so the
    history of submissions and reviews stays. Reviewed only by a guarded UPDATE on status = submitted."""

    __tablename__ = "mission_evidence"
    __table_args__ = (
        UniqueConstraint("challenge_id", "user_id", "attempt"),
        Index("ix_mission_evidence_challenge_status", "challenge_id", "status"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenge.id", ondelete="CASCADE"))
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    attempt: Mapped[int] = mapped_column(default=1)
    text: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(1000))
    status: Mapped[str] = mapped_column(String(20), default=SUBMITTED)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    review_comment: Mapped[str | None] = mapped_column(Text)
