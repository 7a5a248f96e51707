"""One person, several LMSs: a person record linking the `user_account`s (one per platform) of one human.

A person exists only while it links at least two identities. Ledger rows, awards and every other fact keep
naming the identity (user_account) that earned them: linking never rewrites them. Readers that care about
the person (organisation boards, "My badges", "My recognition") resolve it at read time or, for boards, in
the maintained aggregates (see plugin/leaderboards/aggregates.py: organisation boards are kept per person).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from plugin.core.db import UTCDateTime
from plugin.extensions import db

CODE, EMAIL = "code", "email"


class Person(db.Model):
    __tablename__ = "person"
    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class IdentityLink(db.Model):
    """An identity's place in a person. person_id NULL: the identity was unlinked (by its person, or an
    admin); e-mail auto-link then leaves it alone until the person links it again with a code."""

    __tablename__ = "identity_link"
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"), index=True)
    method: Mapped[str] = mapped_column(String(10))  # code | email (how it joined)
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime)
    unlinked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LinkCode(db.Model):
    """A one-time code shown in one LMS and typed into another; only a SHA-256 of it is stored."""

    __tablename__ = "link_code"
    id: Mapped[int] = mapped_column(primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LinkAttempt(db.Model):
    """A wrong code typed by an identity: a few per window, then it has to wait (codes are short)."""

    __tablename__ = "link_attempt"
    __table_args__ = (Index("ix_link_attempt_user_at", "user_id", "attempted_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime)
