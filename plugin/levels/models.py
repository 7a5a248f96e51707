"""Point dimensions (Experimenting, Helping, Sharing, ...) and the level ladder of an organisation."""
from __future__ import annotations

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from plugin.extensions import db


class Dimension(db.Model):
    __tablename__ = "dimension"
    __table_args__ = (UniqueConstraint("organisation_id", "key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    key: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(String(300), default="")
    position: Mapped[int] = mapped_column(default=0)


class Level(db.Model):
    __tablename__ = "level"
    __table_args__ = (UniqueConstraint("organisation_id", "threshold"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    threshold: Mapped[int] = mapped_column(default=0)
