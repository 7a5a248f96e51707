"""LTI plumbing kept in the database so every app instance shares it."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from plugin.core.db import UTCDateTime
from plugin.extensions import db


class ToolKey(db.Model):
    """The tool's signing keys: all are published in the JWKS; the newest whose signs_from has come signs."""

    __tablename__ = "tool_key"
    id: Mapped[int] = mapped_column(primary_key=True)
    kid: Mapped[str] = mapped_column(String(64), unique=True)
    public_jwk: Mapped[dict] = mapped_column(JSON)
    private_pem_encrypted: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # A rotation publishes the new key first and signs with it from this moment, once platforms that cache the
    # tool's key set have fetched it (plugin/lti/keys.py). NULL: signs from its creation.
    signs_from: Mapped[datetime | None] = mapped_column(UTCDateTime)


class OidcState(db.Model):
    """One OIDC login initiation: the state and nonce we issued, consumed by exactly one launch."""

    __tablename__ = "oidc_state"
    state: Mapped[str] = mapped_column(String(64), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(64), unique=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platform.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    consumed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Where the platform offered LTI platform storage (lti_storage_target), when it did: the state is then
    # also kept there, so a browser that drops third-party cookies can still prove the launch is its own.
    storage_target: Mapped[str | None] = mapped_column(String(100))


class LaunchSession(db.Model):
    """What a validated launch established; the launch token names one of these."""

    __tablename__ = "launch_session"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id", ondelete="CASCADE"))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    platform_id: Mapped[int] = mapped_column(ForeignKey("platform.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(20))
    message_type: Mapped[str] = mapped_column(String(60))
    locale: Mapped[str | None] = mapped_column(String(20))
    # Service endpoints and presentation hints from the launch (URLs only, for later LTI services).
    services: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class RegistrationToken(db.Model):
    """A single-use, expiring permission to register a platform dynamically, bound to an organisation.

    Only a SHA-256 of the token is stored: a database leak does not hand out registrations.
    """

    __tablename__ = "registration_token"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Registrations tried with it that failed (each gives the token back, up to MAX_FAILED_REGISTRATIONS).
    failures: Mapped[int] = mapped_column(default=0, server_default="0")
    # The registration it produced, for the operator's audit trail.
    platform_id: Mapped[int | None] = mapped_column(ForeignKey("platform.id", ondelete="SET NULL"))
