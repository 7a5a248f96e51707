"""Peer help between two people in a course; it earns points only once the helped person confirms."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from plugin.core.db import UTCDateTime
from plugin.extensions import db

PENDING, CONFIRMED, DECLINED = "pending", "confirmed", "declined"


class PeerHelp(db.Model):
    __tablename__ = "peer_help"
    __table_args__ = (
        Index("ix_peer_help_course_helper", "course_id", "helper_id"),
        Index("ix_peer_help_course_helped", "course_id", "helped_id"),
        # A form sent twice records the help once (service.record_help); rows recorded before keys have none.
        UniqueConstraint("course_id", "recorded_by_id", "submission_key", name="uq_peer_help_submission"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id", ondelete="CASCADE"))
    helper_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    helped_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    description: Mapped[str] = mapped_column(Text, default="")
    submission_key: Mapped[str | None] = mapped_column(String(64))
    experiment_id: Mapped[int | None] = mapped_column(ForeignKey("experiment.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(12), default=PENDING)
    # Structured facts fixed at confirmation, so replays never depend on later team changes or text.
    across_teams: Mapped[bool] = mapped_column(Boolean, default=False)
    over_pair_cap: Mapped[bool] = mapped_column(Boolean, default=False)
    loop_flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
