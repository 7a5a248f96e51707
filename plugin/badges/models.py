"""Badge classes an organisation defines, and awards (written only by badges.service.award_badge)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from plugin.core.db import UTCDateTime
from plugin.extensions import db


class BadgeClass(db.Model):
    __tablename__ = "badge_class"
    __table_args__ = (UniqueConstraint("organisation_id", "slug"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    slug: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    criteria: Mapped[str] = mapped_column(Text, default="")
    colour: Mapped[str] = mapped_column(String(7), default="#3b5bdb")
    manual: Mapped[bool] = mapped_column(default=False)  # awarded by managers (e.g. Champion), not by a rule
    image: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)  # checked upload; None = generated
    image_type: Mapped[str | None] = mapped_column(String(40))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class BadgeAward(db.Model):
    __tablename__ = "badge_award"
    __table_args__ = (Index("ix_badge_award_user_course", "user_id", "course_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    badge_id: Mapped[int] = mapped_column(ForeignKey("badge_class.id"))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    rule_id: Mapped[int | None] = mapped_column(ForeignKey("rule.id"))
    rule_version: Mapped[int | None]
    source_type: Mapped[str | None] = mapped_column(String(40))
    source_id: Mapped[int | None]
    awarded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))  # manual awards
    evidence_url: Mapped[str | None] = mapped_column(String(1000))
    comment: Mapped[str | None] = mapped_column(Text)
    awarded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_reason: Mapped[str | None] = mapped_column(Text)
