"""A launch's provisioning, cheap in the usual case: a returning member for whom the LMS says again what Tinker
already holds (course title and label, name, e-mail, locale, role, LTI roles, active) costs one read and one
update (the last launch time). Anything new or different goes through service.provision as before.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select

from plugin.core.db import UTCDateTime, read
from plugin.extensions import db
from plugin.tenancy.models import ACTIVE, Course, Membership, User
from plugin.tenancy.service import LaunchIdentity, provision, remember_standing


@dataclass(frozen=True)
class RosterService:
    """The course's roster service as Tinker holds it (service.set_roster_service, claim_roster_sync)."""

    roster_url: str | None
    groups_url: str | None
    lms_group_ids: str | None
    roster_sync_at: datetime | None

    def unchanged_by(self, roster_url: str, groups_url: str | None, group_ids: tuple[str, ...] | None) -> bool:
        """Whether set_roster_service would write nothing (a launch without groups keeps the ones held)."""
        return (roster_url == self.roster_url and (groups_url or self.groups_url) == self.groups_url
                and (self.lms_group_ids if group_ids is None else ",".join(group_ids)) == self.lms_group_ids)

    def synced_since(self, moment: datetime) -> bool:
        return self.roster_sync_at is not None and self.roster_sync_at > moment


@dataclass(frozen=True)
class Launched:
    course_id: int
    organisation_id: int
    user_id: int
    preferred_locale: str | None
    # The membership is new or its role, status or roles changed: the person's place on boards may have moved.
    standing_changed: bool
    roster: RosterService | None = None  # as read before this launch (None: not read)


_C, _U, _M = Course.__table__, User.__table__, Membership.__table__
# Built once: every launch asks.
_KNOWN = (select(_C.c.id.label("course_id"), _C.c.organisation_id, _C.c.title, _C.c.label, _C.c.roster_url,
                 _C.c.groups_url, _C.c.lms_group_ids, _C.c.roster_sync_at,
                 _U.c.id.label("user_id"), _U.c.name, _U.c.email, _U.c.locale, _U.c.preferred_locale,
                 _M.c.id.label("membership_id"), _M.c.role, _M.c.lti_roles, _M.c.status, _M.c.test_user)
          .join(_M, _M.c.course_id == _C.c.id).join(_U, _U.c.id == _M.c.user_id)
          .where(_C.c.platform_id == bindparam("platform_id"), _C.c.deployment_id == bindparam("deployment_pk"),
                 _C.c.context_id == bindparam("context_id"), _U.c.platform_id == bindparam("platform_id"),
                 _U.c.sub == bindparam("sub")))
# last_launch_at is no column boards watch (insights/changes.py): this update adds no data change.
_TOUCH = _M.update().where(_M.c.id == bindparam("membership_id")).values(
    last_launch_at=bindparam("now", type_=UTCDateTime()))


def _same(sent: str | None, held: str | None) -> bool:
    """What provision would keep: the LMS's value when it sent one (a blank never erases)."""
    return not sent or sent == held


def _unchanged(row, identity: LaunchIdentity) -> bool:
    return (_same(identity.context_title, row.title) and _same(identity.context_label, row.label)
            and _same(identity.name, row.name) and _same(identity.email, row.email)
            and _same(identity.locale, row.locale) and row.role == identity.role.value
            and row.lti_roles == " ".join(identity.lti_roles) and row.status == ACTIVE)


def provision_for_launch(identity: LaunchIdentity, now: datetime) -> Launched:
    """service.provision for a launch, without its ORM work when nothing but the launch time changes."""
    row = read(db.session, _KNOWN, {"platform_id": identity.platform_id, "deployment_pk": identity.deployment_pk,
                                    "context_id": identity.context_id, "sub": identity.sub}).first()
    if row is not None and _unchanged(row, identity):
        db.session.execute(_TOUCH, {"membership_id": row.membership_id, "now": now})
        remember_standing(row.course_id, row.user_id, row.role, row.status, row.test_user)
        return Launched(course_id=row.course_id, organisation_id=row.organisation_id, user_id=row.user_id,
                        preferred_locale=row.preferred_locale, standing_changed=False,
                        roster=RosterService(row.roster_url, row.groups_url, row.lms_group_ids, row.roster_sync_at))
    course, user, _membership = provision(identity, now)
    return Launched(course_id=course.id, organisation_id=course.organisation_id, user_id=user.id,
                    preferred_locale=user.preferred_locale, standing_changed=True)
