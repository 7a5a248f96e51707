"""Teams inside a course; a learner may belong to several."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from plugin.core.db import UTCDateTime
from plugin.extensions import db


class Team(db.Model):
    __tablename__ = "team"
    __table_args__ = (UniqueConstraint("course_id", "name"), UniqueConstraint("course_id", "external_id"))
    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The LMS group this team mirrors; None for teams a manager made (roster sync never touches those).
    external_id: Mapped[str | None] = mapped_column(String(400))


class TeamMember(db.Model):
    __tablename__ = "team_member"
    team_id: Mapped[int] = mapped_column(ForeignKey("team.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True, index=True)
