"""An organisation's webhook endpoints (off unless an admin adds one)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, String, text
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
    # The secrets rotations replaced, each still signing beside the new one for a while: [{"secret": Fernet token as
    # above, "until": ISO time}], the one replaced last first (plugin/webhooks/service.py rotate_secret).
    replaced_secrets: Mapped[list] = mapped_column(JSON, default=list, server_default=text("'[]'"))
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=sa_true())
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
