"""An organisation's LRS connection (off unless an admin turns it on)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String
from sqlalchemy import false as sa_false
from sqlalchemy.orm import Mapped, mapped_column

from plugin.core.db import UTCDateTime
from plugin.extensions import db


class XapiSetting(db.Model):
    """Where statements go and how Tinker signs in there (HTTP Basic: the LRS's key and secret).
    People are named by their LMS account (platform issuer + LTI sub) unless `send_email` is on."""

    __tablename__ = "xapi_setting"
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="CASCADE"), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())
    endpoint: Mapped[str] = mapped_column(String(1000), default="", server_default="")
    key: Mapped[str] = mapped_column(String(400), default="", server_default="")
    # Fernet token under a key derived from the app's SECRET_KEY (plugin/xapi/service.py); "" = none saved.
    secret_encrypted: Mapped[str] = mapped_column(String(1000), default="", server_default="")
    send_email: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    @property
    def ready(self) -> bool:
        return bool(self.enabled and self.endpoint and self.key and self.secret_encrypted)
