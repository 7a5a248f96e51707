"""The community library around shared experiments: reactions, reuses, reports."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from plugin.core.db import UTCDateTime
from plugin.extensions import db
from plugin.i18n import lazy_gettext as _l

REACTIONS = {"helpful": _l("Helpful"), "saved_mistake": _l("This saved me a mistake")}  # key -> label (lazy)


class Reaction(db.Model):
    __tablename__ = "reaction"
    __table_args__ = (UniqueConstraint("experiment_id", "user_id", "kind"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    experiment_id: Mapped[int] = mapped_column(ForeignKey("experiment.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Taken back by the colleague who gave it: left out of every count until given again (community.withdraw_reaction)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Reuse(db.Model):
    __tablename__ = "reuse"
    __table_args__ = (UniqueConstraint("experiment_id", "user_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    experiment_id: Mapped[int] = mapped_column(ForeignKey("experiment.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Report(db.Model):
    __tablename__ = "report"
    __table_args__ = (UniqueConstraint("experiment_id", "reporter_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    experiment_id: Mapped[int] = mapped_column(ForeignKey("experiment.id", ondelete="CASCADE"), index=True)
    reporter_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
