"""Insight settings an organisation's admins choose."""
from __future__ import annotations

from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from plugin.extensions import db

DEFAULT_MIN_GROUP = 5


class InsightSetting(db.Model):
    __tablename__ = "insight_setting"
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), primary_key=True)
    # Every aggregate shown covers at least this many people, after every combination of filters.
    min_group_size: Mapped[int] = mapped_column(default=DEFAULT_MIN_GROUP, server_default=str(DEFAULT_MIN_GROUP))
