"""Insight settings an organisation's admins choose."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from plugin.core.db import UTCDateTime
from plugin.extensions import db

DEFAULT_MIN_GROUP = 5


class InsightSetting(db.Model):
    __tablename__ = "insight_setting"
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), primary_key=True)
    # Every aggregate shown covers at least this many people, after every combination of filters.
    min_group_size: Mapped[int] = mapped_column(default=DEFAULT_MIN_GROUP, server_default=str(DEFAULT_MIN_GROUP))


class DataChange(db.Model):
    """One row per transaction that changed something boards, team progress or insights show and that no
    primary key of version.py's tables reveals (an edit, a status change, a setting): the data version reads
    max(id). Insert-only, so writers never wait on each other (see plugin/insights/changes.py)."""

    __tablename__ = "data_change"
    id: Mapped[int] = mapped_column(primary_key=True)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    tables: Mapped[str] = mapped_column(String(400), default="")  # what changed, for whoever looks
