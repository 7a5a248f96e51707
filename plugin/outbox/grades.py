"""Grade sync, the domain side: a course's opt-in and the score deliveries it enqueues.

The sending (AGS over HTTP) lives in plugin/lti/ags.py; here only settings, scores and outbox rows.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from marshmallow import Schema, fields, validate
from sqlalchemy import bindparam, select

from plugin.audit.service import record
from plugin.core import memo
from plugin.core.actor import Actor, Role
from plugin.core.db import insert_ignore
from plugin.errors import Forbidden, InvalidInput
from plugin.extensions import db
from plugin.i18n import gettext as _
from plugin.i18n import lazy_gettext as _l
from plugin.ledger.service import balance
from plugin.levels.service import ladder
from plugin.outbox.models import GradeSync, OutboxItem
from plugin.outbox.registry import lane_namer, numbered
from plugin.outbox.service import enqueue, recent, retry_failed
from plugin.tenancy.models import Course, Membership, Organisation, Platform, User
from plugin.tenancy.service import standing

LINEITEM_KIND = "ags.lineitem"
SCORE_KIND = "ags.score"
LABEL = "AI experimentation"
TAG = "tinker"


def _top_threshold(organisation_id: int) -> int:
    return max((step.threshold for step in ladder(organisation_id)), default=0) or 100


def _points(organisation_id: int, points: int) -> tuple[int, int]:
    return max(0, points), _top_threshold(organisation_id)


def _progress(organisation_id: int, points: int) -> tuple[int, int]:
    """Percent of the way to the top level (a grade that never drops when a level is reached)."""
    return min(100, max(0, points) * 100 // _top_threshold(organisation_id)), 100


# score mode -> (label, scorer(organisation_id, points) -> (scoreGiven, scoreMaximum))
MODES: dict[str, tuple[str, Callable[[int, int], tuple[int, int]]]] = {
    "points": (_l("Points (out of the top level's threshold)"), _points),
    "progress": (_l("Level progress (percent of the way to the top level)"), _progress),
}


class GradeSyncIn(Schema):
    enabled = fields.Boolean(load_default=False)
    mode = fields.String(load_default="points", validate=validate.OneOf(list(MODES), error=_l(
        "Choose what the grade shows: points, or progress towards the top level.")))


def settings(course_id: int) -> GradeSync | None:
    return db.session.get(GradeSync, course_id)


def configure(actor: Actor, data: dict, lineitems_url: str | None, now: datetime) -> GradeSync:
    """Turn grade sync on or off for the actor's course. `lineitems_url` is the platform's AGS line items
    endpoint from the manager's launch (None when the platform granted no grade service)."""
    if not actor.can_manage:
        raise Forbidden(_("Only the course's managers can change grade sync."))
    # Made if missing and read locked: a second submit at once (a double click the first time) waits and updates the
    # first's row, instead of failing on its key.
    insert_ignore(db.session, GradeSync.__table__, {"course_id": actor.course_id, "enabled": False, "mode": "points",
                                                    "updated_at": now}, ["course_id"], returning=False)
    row = db.session.get(GradeSync, actor.course_id, with_for_update=True, populate_existing=True)
    if data["enabled"] and not (lineitems_url or row.lineitems_url):
        raise InvalidInput(_("This launch offers no grade service."),
                           errors={"enabled": [_("Launch Tinker from the course with grades enabled for the tool.")]})
    row.enabled, row.mode, row.updated_at = data["enabled"], data["mode"], now
    row.lineitems_url = lineitems_url or row.lineitems_url
    row.score_maximum = MODES[row.mode][1](actor.organisation_id, 0)[1]
    db.session.flush()
    if row.enabled:
        request_lineitem(actor.course_id, now)
        for user_id in db.session.scalars(select(Membership.user_id).where(
                Membership.course_id == actor.course_id, Membership.role == Role.LEARNER.value)):
            points_changed(actor.course_id, user_id, now)
    return row


def request_lineitem(course_id: int, now: datetime) -> None:
    """Make (or update) the course's line item through its one delivery: claimed by one worker at a time, so two
    workers never both find no line item and both create one."""
    enqueue(LINEITEM_KIND, f"ags:lineitem:{course_id}", {"course_id": course_id}, now, course_id=course_id,
            replace=True, lane=_lane(course_id))


_ENABLED = select(GradeSync.__table__.c.enabled).where(GradeSync.__table__.c.course_id == bindparam("course_id"))


# For a caller's own statement (bind "course_id"): whether the course syncs grades, for remember_enabled.
ENABLED = _ENABLED.scalar_subquery()


def remember_enabled(course_id: int, enabled) -> None:
    memo.store(db.session, ("grade_sync", course_id), bool(enabled), (GradeSync.__tablename__,))


def _enabled(course_id: int) -> bool:
    return memo.remember(db.session, ("grade_sync", course_id), (GradeSync.__tablename__,),
                         lambda: bool(db.session.scalar(_ENABLED, {"course_id": course_id})))


def points_changed(course_id: int, user_id: int, now: datetime) -> None:
    """Call where points are posted for someone (anywhere in that transaction): enqueues a score delivery
    if the course syncs grades. One delivery per (course, user), and the score is read when it is sent, so
    rapid changes coalesce to the newest. Never for staff."""
    if not _enabled(course_id):
        return
    member = standing(course_id, user_id)
    if member is None or member.role != Role.LEARNER.value:
        return
    enqueue(SCORE_KIND, f"ags:score:{course_id}:{user_id}", {"course_id": course_id, "user_id": user_id,
                                                              "changed_at": now.isoformat()},
            now, course_id=course_id, replace=True, lane=_lane(course_id))


def _lane(course_id: int) -> str:
    """The outbox lane of a course's grade deliveries: its platform (whose token endpoint every course's deliveries
    call first, and whose LMS serves the line items), so an LMS that is down costs one try a pass, not one per
    course. A course never changes platform: read once per transaction."""
    platform_id = memo.remember(db.session, ("course_platform", course_id), (Course.__tablename__,),
                                lambda: db.session.scalar(select(Course.platform_id).where(Course.id == course_id)))
    return f"ags:{platform_id}"


@lane_namer("ags")
def _lane_names(ids: list[str]) -> dict[str, str]:
    rows = db.session.execute(select(Platform.id, Platform.issuer, Platform.client_id, Organisation.name)
                              .join(Organisation, Organisation.id == Platform.organisation_id)
                              .where(Platform.id.in_(numbered(ids)))).all()
    return {str(row.id): f"the grade service of {row.issuer} (client {row.client_id}, {row.name})" for row in rows}


def _role(course_id: int, user_id: int) -> str | None:
    return db.session.scalar(select(Membership.role).where(Membership.course_id == course_id,
                                                           Membership.user_id == user_id))


@dataclass(frozen=True)
class Score:
    given: int
    maximum: int


def score_now(course_id: int, user_id: int) -> Score | None:
    """The learner's current score under the course's setting; None when nothing should be sent
    (sync off, the person is not a learner of the course, or was erased: their LMS id is gone)."""
    row = settings(course_id)
    if row is None or not row.enabled or _role(course_id, user_id) != Role.LEARNER.value:
        return None
    if db.session.scalar(select(User.erased_at).where(User.id == user_id)) is not None:
        return None
    organisation_id = db.session.scalar(select(Course.organisation_id).where(Course.id == course_id))
    given, maximum = MODES[row.mode][1](organisation_id, balance(course_id, user_id))
    return Score(given, maximum)


def deliveries(actor: Actor, limit: int = 50) -> list[OutboxItem]:
    if not actor.can_manage:
        raise Forbidden(_("Only the course's managers can see grade sync."))
    return recent(actor.course_id, (LINEITEM_KIND, SCORE_KIND), limit)


def retry_failed_deliveries(actor: Actor, now: datetime) -> int:
    """Managers send the course's failed grade deliveries again (scores are read afresh when sent)."""
    if not actor.can_manage:
        raise Forbidden(_("Only the course's managers can retry grade deliveries."))
    count = retry_failed(actor.course_id, (LINEITEM_KIND, SCORE_KIND), now)
    if count:
        record(actor, "grades.retried", "course", actor.course_id, {"deliveries": count}, now)
    return count
