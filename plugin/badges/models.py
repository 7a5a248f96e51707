"""Badge classes an organisation defines, and awards (written only by badges.service.award_badge)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy import false as sa_false
from sqlalchemy.orm import Mapped, mapped_column

from plugin.core.db import UTCDateTime
from plugin.extensions import db


class BadgeClass(db.Model):
    __tablename__ = "badge_class"
    __table_args__ = (UniqueConstraint("organisation_id", "slug"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    slug: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    criteria: Mapped[str] = mapped_column(Text, default="")
    colour: Mapped[str] = mapped_column(String(7), default="#3b5bdb")
    manual: Mapped[bool] = mapped_column(default=False)  # awarded by managers (e.g. Champion), not by a rule
    image: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)  # checked upload; None = generated
    image_type: Mapped[str | None] = mapped_column(String(40))
    active: Mapped[bool] = mapped_column(default=True)
    tags: Mapped[str] = mapped_column(Text, default="", server_default="")  # comma-separated, for Open Badges
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class BadgeAward(db.Model):
    __tablename__ = "badge_award"
    __table_args__ = (Index("ix_badge_award_user_course", "user_id", "course_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    # Names the hosted assertion (random: public URLs must not let anyone enumerate awards).
    public_id: Mapped[str | None] = mapped_column(String(32), unique=True)
    badge_id: Mapped[int] = mapped_column(ForeignKey("badge_class.id"))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    rule_id: Mapped[int | None] = mapped_column(ForeignKey("rule.id"))
    rule_version: Mapped[int | None]
    source_type: Mapped[str | None] = mapped_column(String(40))
    source_id: Mapped[int | None]
    awarded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))  # manual awards
    evidence_url: Mapped[str | None] = mapped_column(String(1000))
    comment: Mapped[str | None] = mapped_column(Text)
    awarded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_reason: Mapped[str | None] = mapped_column(Text)
    # Revoked because what earned it was taken back (the kudos behind it revoked: recognition.settle), not by a
    # manager's decision about the award: a once-only rule may give it again once it is earned again.
    unearned: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())


class StatusEntry(db.Model):
    """An award's place in its organisation's revocation list (badges.status): drawn at random when the award's
    first Open Badges 3.0 credential is made, kept for ever after (credentials carry it), never used twice."""

    __tablename__ = "badge_status_entry"
    __table_args__ = (UniqueConstraint("organisation_id", "status_index"),)
    award_id: Mapped[int] = mapped_column(ForeignKey("badge_award.id"), primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    status_index: Mapped[int]


class Issuer(db.Model):
    """The organisation's Open Badges issuer profile (admin-edited; defaults from the organisation)."""

    __tablename__ = "badge_issuer"
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(String(1000), default="")
    email: Mapped[str] = mapped_column(String(400), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    image: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)  # checked upload, as badge images
    image_type: Mapped[str | None] = mapped_column(String(40))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class BadgePillar(db.Model):
    """A badge class aligned to a pillar of its organisation's AI vision (an Open Badges alignment)."""

    __tablename__ = "badge_pillar"
    __table_args__ = (Index("ix_badge_pillar_pillar_id", "pillar_id"),)
    badge_id: Mapped[int] = mapped_column(ForeignKey("badge_class.id", ondelete="CASCADE"), primary_key=True)
    pillar_id: Mapped[int] = mapped_column(ForeignKey("pillar.id", ondelete="CASCADE"), primary_key=True)


class Recipient(db.Model):
    """How a person is named in their assertions when the LMS shares no e-mail: a learner-supplied address
    (confirmed by a link) or an identity URL. Absent row = the LMS e-mail, or unclaimed."""

    __tablename__ = "badge_recipient"
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str | None] = mapped_column(String(10))  # email | url, once claimed
    identity: Mapped[str | None] = mapped_column(String(1000))
    pending_email: Mapped[str | None] = mapped_column(String(400))
    token_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    token_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    show_name: Mapped[bool] = mapped_column(default=False)  # name shown on public verification pages
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SigningKey(db.Model):
    """An organisation's key for signing Open Badges 3.0 credentials; the private part encrypted with a key
    derived from the app secret (as the tool's LTI keys are). Older keys stay published for verification."""

    __tablename__ = "badge_signing_key"
    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="CASCADE"), index=True)
    kid: Mapped[str] = mapped_column(String(40), unique=True)
    public_jwk: Mapped[dict] = mapped_column(JSON)
    private_pem_encrypted: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
