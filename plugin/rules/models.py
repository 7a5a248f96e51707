"""Recognition rules an organisation configures; every edit is kept as an immutable version."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from plugin.core.db import UTCDateTime
from plugin.extensions import db


class Rule(db.Model):
    """The current definition; `version` names the RuleVersion it equals."""

    __tablename__ = "rule"
    __table_args__ = (UniqueConstraint("organisation_id", "key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    key: Mapped[str | None] = mapped_column(String(60))  # stable name of a default-pack rule
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    condition: Mapped[str] = mapped_column(String(60))
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    points: Mapped[int] = mapped_column(default=0)
    dimension: Mapped[str] = mapped_column(String(40), default="experimenting")
    badge_id: Mapped[int | None] = mapped_column(ForeignKey("badge_class.id"))
    repeatable: Mapped[bool] = mapped_column(Boolean, default=True)
    cooldown_days: Mapped[int] = mapped_column(default=0)
    cap_count: Mapped[int] = mapped_column(default=0)
    cap_window_days: Mapped[int] = mapped_column(default=0)
    version: Mapped[int] = mapped_column(default=1)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Set when an administrator deleted a rule that had already awarded: it leaves lists, editing and
    # evaluation, and stays only to explain the ledger rows and badges it produced (see definitions.delete_rule).
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RuleVersion(db.Model):
    """A snapshot of a rule as it was at one version: ledger rows name (rule_id, version)."""

    __tablename__ = "rule_version"
    __table_args__ = (UniqueConstraint("rule_id", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("rule.id", ondelete="CASCADE"))
    version: Mapped[int]
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    condition: Mapped[str] = mapped_column(String(60))
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    points: Mapped[int] = mapped_column(default=0)
    dimension: Mapped[str] = mapped_column(String(40))
    badge_id: Mapped[int | None] = mapped_column(ForeignKey("badge_class.id"))
    repeatable: Mapped[bool] = mapped_column(Boolean)
    cooldown_days: Mapped[int] = mapped_column(default=0)
    cap_count: Mapped[int] = mapped_column(default=0)
    cap_window_days: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))


VERSIONED_FIELDS = ["name", "description", "condition", "params", "points", "dimension", "badge_id", "repeatable",
                    "cooldown_days", "cap_count", "cap_window_days", "active"]
