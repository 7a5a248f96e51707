"""Tenancy: organisations own platform registrations; courses, users and memberships hang off them."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy import false as sa_false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from plugin.core.db import UTCDateTime
from plugin.extensions import db
from plugin.i18n import gettext as _


def fresh_config_version() -> int:
    """A new organisation's configuration version: random, so a process that cached another database's
    organisation of the same id (a recreated test or bench database) never takes it for this one."""
    import secrets

    return 1 + secrets.randbelow(2**52)


class Organisation(db.Model):
    __tablename__ = "organisation"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    # Which release of the default lists, levels and rule pack this organisation has received.
    defaults_version: Mapped[int] = mapped_column(default=0, server_default="0")
    # Moved on by database triggers (migration 0023) in the transaction of every write to the configuration
    # the award path caches in process (plugin/tenancy/config_cache.py); 0 = never cached.
    config_version: Mapped[int] = mapped_column(BigInteger, default=fresh_config_version, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Platform(db.Model):
    """One LMS registration: keyed by (issuer, client_id), never by issuer alone (hosted Canvas)."""

    __tablename__ = "platform"
    __table_args__ = (UniqueConstraint("issuer", "client_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    issuer: Mapped[str] = mapped_column(String(400))
    client_id: Mapped[str] = mapped_column(String(400))
    auth_login_url: Mapped[str] = mapped_column(String(1000))
    auth_token_url: Mapped[str] = mapped_column(String(1000))
    key_set_url: Mapped[str] = mapped_column(String(1000))
    name: Mapped[str] = mapped_column(String(200), default="")
    accept_new_deployments: Mapped[bool] = mapped_column(Boolean, default=False)
    # The operator vouches that this LMS's e-mail addresses are verified: identities of two such platforms of
    # one organisation with the same address are linked at launch (plugin/identity). Off by default.
    email_authoritative: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    organisation: Mapped[Organisation] = relationship(lazy="joined")
    deployments: Mapped[list["Deployment"]] = relationship(back_populates="platform", order_by="Deployment.id")
    frame_origins: Mapped[list["FrameOrigin"]] = relationship(order_by="FrameOrigin.origin")


class Deployment(db.Model):
    __tablename__ = "deployment"
    __table_args__ = (UniqueConstraint("platform_id", "deployment_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platform.id", ondelete="CASCADE"))
    deployment_id: Mapped[str] = mapped_column(String(400))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    platform: Mapped[Platform] = relationship(back_populates="deployments")


class FrameOrigin(db.Model):
    """An origin allowed to frame the tool (CSP frame-ancestors) for one registration."""

    __tablename__ = "frame_origin"
    __table_args__ = (UniqueConstraint("platform_id", "origin"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platform.id", ondelete="CASCADE"))
    origin: Mapped[str] = mapped_column(String(400))
    source: Mapped[str] = mapped_column(String(20), default="operator")  # operator | launch | issuer
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Course(db.Model):
    """An LMS context (platform, deployment, context id); belongs to the platform's organisation."""

    __tablename__ = "course"
    __table_args__ = (UniqueConstraint("platform_id", "deployment_id", "context_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platform.id"))
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployment.id"))
    context_id: Mapped[str] = mapped_column(String(400))
    title: Mapped[str] = mapped_column(String(400), default="")
    label: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Names and Role Provisioning, as the latest launch announced it (None: the LMS offers no roster).
    roster_url: Mapped[str | None] = mapped_column(String(1000))
    groups_url: Mapped[str | None] = mapped_column(String(1000))
    # Canvas: the course's group ids as its latest launch listed them ($com.instructure.Course.groupIds),
    # comma-separated, read one group roster each (plugin/lti/roster.py). "" no groups; None never announced.
    lms_group_ids: Mapped[str | None] = mapped_column(Text)
    # When an instance last claimed the background sync (one per course per interval across instances).
    roster_sync_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    roster_status: Mapped[str] = mapped_column(String(400), default="", server_default="")


class User(db.Model):
    """A person as one platform knows them; name and e-mail are optional (LMSs may withhold them)."""

    __tablename__ = "user_account"
    __table_args__ = (UniqueConstraint("platform_id", "sub"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platform.id"))
    sub: Mapped[str] = mapped_column(String(400))
    name: Mapped[str | None] = mapped_column(String(400))
    email: Mapped[str | None] = mapped_column(String(400))
    locale: Mapped[str | None] = mapped_column(String(20))  # as the LMS last said
    preferred_locale: Mapped[str | None] = mapped_column(String(8))  # as the person chose in Tinker: wins
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Set by plugin/privacy/erase.py: the row stays (ledger rows point at it) but names nobody.
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def display_name(self) -> str:
        return self.name or _("Participant %(id)s", id=self.id)


ACTIVE, INACTIVE = "active", "inactive"


class Membership(db.Model):
    __tablename__ = "membership"
    __table_args__ = (UniqueConstraint("course_id", "user_id"), Index("ix_membership_user", "user_id"))
    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(20))
    lti_roles: Mapped[str] = mapped_column(Text, default="")
    last_launch_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # From the roster: inactive = missing, Inactive or Deleted there; test_user = the LMS's fake student.
    status: Mapped[str] = mapped_column(String(10), default=ACTIVE, server_default=ACTIVE)
    test_user: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())

    user: Mapped[User] = relationship(lazy="joined")


def counted_membership():
    """Memberships that count on boards and in adoption figures: active and not a test user."""
    return (Membership.status == ACTIVE) & Membership.test_user.is_(False)


COPIED, DECLINED = "copied", "declined"


class CourseCopy(db.Model):
    """A manager's answer to "this course was copied from <course>: carry over its settings?" (asked once).
    Who answered is in the audit log (course.copy_carried_over / course.copy_declined), not here."""

    __tablename__ = "course_copy"
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id", ondelete="CASCADE"), primary_key=True)
    source_course_id: Mapped[int | None] = mapped_column(ForeignKey("course.id", ondelete="SET NULL"))
    decision: Mapped[str] = mapped_column(String(10))  # copied | declined
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # What was carried over (counts and names of settings; never people's data).
    details: Mapped[dict] = mapped_column(JSON, default=dict)
