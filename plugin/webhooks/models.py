"""An organisation's webhook endpoints (off unless an admin adds one)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, String
from sqlalchemy import true as sa_true
from sqlalchemy.orm import Mapped, mapped_column

from plugin.core.db import UTCDateTime
from plugin.extensions import db


class WebhookEndpoint(db.Model):
    """Where an organisation's events go, which ones, and the signing secret (Standard Webhooks, `whsec_...`)."""

    __tablename__ = "webhook_endpoint"
    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(1000))
    description: Mapped[str] = mapped_column(String(200), default="", server_default="")
    events: Mapped[list] = mapped_column(JSON, default=list)  # event types, e.g. ["badge.earned"]
    # Fernet token under a key derived from the app's SECRET_KEY (plugin/webhooks/service.py).
    secret_encrypted: Mapped[str] = mapped_column(String(1000))
    # The secret a rotation replaced, still signing beside the new one until previous_secret_until (Fernet, as above).
    previous_secret_encrypted: Mapped[str | None] = mapped_column(String(1000))
    previous_secret_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=sa_true())
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
