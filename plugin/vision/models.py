"""The organisation's AI vision: statement, pillars, approved tools (notes on the catalogue's tools),
responsible-use guidance, and who acknowledged which version of it."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from plugin.core.db import UTCDateTime
from plugin.extensions import db


class Vision(db.Model):
    """One per organisation. `version` goes up whenever what learners read changes, so they are asked again."""

    __tablename__ = "vision"
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), primary_key=True)
    statement: Mapped[str] = mapped_column(Text, default="")
    guidance: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(default=0)
    content_hash: Mapped[str] = mapped_column(String(64), default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))


class Pillar(db.Model):
    __tablename__ = "pillar"
    __table_args__ = (UniqueConstraint("organisation_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class ToolPolicy(db.Model):
    """What the vision says about one of the catalogue's AI tools: approved or not, and what data it may see."""

    __tablename__ = "tool_policy"
    ai_tool_id: Mapped[int] = mapped_column(ForeignKey("ai_tool.id", ondelete="CASCADE"), primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    approved: Mapped[bool] = mapped_column(Boolean, default=False)
    data_note: Mapped[str] = mapped_column(Text, default="")


class VisionAck(db.Model):
    __tablename__ = "vision_ack"
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True)
    version: Mapped[int] = mapped_column()
    acknowledged_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ExperimentPillar(db.Model):
    __tablename__ = "experiment_pillar"
    __table_args__ = (Index("ix_experiment_pillar_pillar", "pillar_id"),)
    experiment_id: Mapped[int] = mapped_column(ForeignKey("experiment.id", ondelete="CASCADE"), primary_key=True)
    pillar_id: Mapped[int] = mapped_column(ForeignKey("pillar.id", ondelete="CASCADE"), primary_key=True)
