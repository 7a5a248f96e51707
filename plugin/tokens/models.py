"""API tokens (only a SHA-256 hash is kept) and their per-minute request counters."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from plugin.core.db import UTCDateTime
from plugin.extensions import db


class ApiToken(db.Model):
    __tablename__ = "api_token"
    __table_args__ = (Index("uq_api_token_submission", "organisation_id", "submission_key", unique=True),)
    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    # The first characters of the secret, shown in lists and used to find the row; the hash proves the rest.
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[str] = mapped_column(String(200))  # space-separated
    # The account the token acts as (audit entries, awarded_by): one per token, member of no course.
    service_user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The admin page's form (one per page shown): sent again, it replaces the token it issued (tokens.service.issue).
    submission_key: Mapped[str | None] = mapped_column(String(64))

    @property
    def scope_set(self) -> frozenset[str]:
        return frozenset(self.scopes.split())


class ApiRateWindow(db.Model):
    """Requests of one token in one minute: a fixed-window counter shared by every app instance."""

    __tablename__ = "api_rate_window"
    token_id: Mapped[int] = mapped_column(ForeignKey("api_token.id", ondelete="CASCADE"), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    count: Mapped[int] = mapped_column(default=0)
