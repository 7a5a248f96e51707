"""Admin-editable lists an organisation keeps: AI tools and task categories."""
from __future__ import annotations

from sqlalchemy import Boolean, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from plugin.extensions import db


class ListItem:
    """Columns shared by every admin-editable list."""

    @declared_attr.directive
    def __table_args__(cls):
        return (UniqueConstraint("organisation_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class AiTool(ListItem, db.Model):
    __tablename__ = "ai_tool"


class TaskCategory(ListItem, db.Model):
    __tablename__ = "task_category"


class ValueTag(ListItem, db.Model):
    """The organisation's AI values, used to tag kudos."""

    __tablename__ = "value_tag"
