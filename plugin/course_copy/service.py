"""Course copy: an LMS course copied from one Tinker knows (Canvas "Copy this course" gives it a new context
id and names the old ones in Context.id.history) may carry over the old course's configuration.

Offered to the new course's managers, never forced, decided once. Carried over: how boards are shown, the
grade sync opt-in and its mode, and the course-wide challenges (as new challenges, windows moved forward),
but for those that count only a tool or task category no longer on the organisation's list (left_out: copied
without it, they would count every experiment).
Never people's data: experiments, points, badges, kudos, memberships, teams, opt-outs, evidence.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import exists, select

from plugin.audit.service import record
from plugin.badges.models import BadgeClass
from plugin.catalog.models import AiTool, TaskCategory
from plugin.challenges import service as challenges
from plugin.challenges.models import Challenge, ChallengeTool
from plugin.core.actor import Actor, Role
from plugin.core.db import insert_ignore
from plugin.errors import Conflict, Forbidden
from plugin.extensions import db
from plugin.i18n import gettext as _
from plugin.i18n import lazy_gettext as _l
from plugin.leaderboards import service as boards
from plugin.leaderboards.models import BoardSetting
from plugin.outbox import grades
from plugin.outbox.models import GradeSync
from plugin.tenancy.models import COPIED, DECLINED, Course, CourseCopy, Membership

WEEK = timedelta(days=7)


def _has_configuration(course_id: int) -> bool:
    return any(db.session.scalar(select(exists().where(model.course_id == course_id)))
               for model in (BoardSetting, GradeSync, Challenge))


def offer_for(actor: Actor, history: Sequence[str]) -> Course | None:
    """The course this one was copied from, when its managers should be asked to carry settings over:
    the actor manages it, nobody has answered yet, it has no configuration of its own, and the most recent
    course in its history that Tinker knows (same platform and organisation) has some and the actor manages it
    too (or administers the organisation)."""
    if not actor.can_manage or db.session.get(CourseCopy, actor.course_id) is not None:
        return None
    if _has_configuration(actor.course_id):
        return None
    course = db.session.get(Course, actor.course_id)
    for context_id in history:
        if context_id == course.context_id:
            continue
        source = db.session.scalar(select(Course).where(
            Course.platform_id == course.platform_id, Course.organisation_id == course.organisation_id,
            Course.context_id == context_id, Course.id != course.id).order_by(Course.id).limit(1))
        if source is not None and _has_configuration(source.id) and _manages(actor, source.id):
            return source
    return None


def _manages(actor: Actor, course_id: int) -> bool:
    """Whether the actor may carry a course's configuration over: an organisation admin, or a manager (or admin)
    there. Course copy is how an instructor takes their own course into a new term; the history it names is a
    custom parameter, which some LMSs let an instructor edit, so naming another instructor's course copies nothing
    (its challenges and mission data sets stay with it)."""
    if actor.can_administer:
        return True
    return db.session.scalar(select(exists().where(
        Membership.course_id == course_id, Membership.user_id == actor.user_id,
        Membership.role.in_((Role.MANAGER.value, Role.ADMIN.value))))) or False


def _claim(actor: Actor, source: Course | None, decision: str, now: datetime) -> bool:
    """Record the answer; False when another manager (or a double click) answered first: that answer stands."""
    return insert_ignore(db.session, CourseCopy.__table__, {
        "course_id": actor.course_id, "source_course_id": source.id if source else None, "decision": decision,
        "decided_at": now, "details": {}}, ["course_id"], key="course_id") is not None


def decline(actor: Actor, history: Sequence[str], now: datetime) -> None:
    if not actor.can_manage:
        raise Forbidden(_("Only the course's managers decide what this course carries over."))
    source = offer_for(actor, history)
    if source is not None and _claim(actor, source, DECLINED, now):
        record(actor, "course.copy_declined", "course", actor.course_id, {"source_course_id": source.id}, now)


def carry_over(actor: Actor, history: Sequence[str], lineitems_url: str | None, now: datetime) -> CourseCopy:
    """Copy the source course's configuration into the actor's course, once. `lineitems_url` is the grade
    service of the manager's launch in the new course (grade sync needs the new course's own line items)."""
    if not actor.can_manage:
        raise Forbidden(_("Only the course's managers decide what this course carries over."))
    answered = db.session.get(CourseCopy, actor.course_id)
    if answered is not None:
        return answered  # a second click, or another manager: the first answer stands
    source = offer_for(actor, history)
    if source is None:
        raise Conflict(_("There is nothing to carry over into this course."))
    if not _claim(actor, source, COPIED, now):
        return db.session.get(CourseCopy, actor.course_id)
    copied, skipped = _challenges(actor, source, now)
    details = {"boards": _boards(actor, source, now), "grade_sync": _grade_sync(actor, source, lineitems_url, now),
               "challenges": copied, "challenges_left_out": skipped}
    row = db.session.get(CourseCopy, actor.course_id)
    row.details = details
    db.session.flush()
    record(actor, "course.copy_carried_over", "course", actor.course_id,
           {"source_course_id": source.id, **details}, now)
    return row


def _boards(actor: Actor, source: Course, now: datetime) -> dict | None:
    row = db.session.get(BoardSetting, source.id)
    if row is None:
        return None
    boards.update_settings(actor, {"mode": row.mode, "relative": row.relative}, now)
    return {"mode": row.mode, "relative": row.relative}


# What a carry-over records about grade sync: a code (in English, as exports give it), one of GRADE_SYNC_LABELS.
NO_GRADE_SERVICE = "off: this launch offers no grade service"


def _grade_sync_code(enabled: bool, mode: str) -> str:
    return f"{'on' if enabled else 'off'} ({mode})"


# Each code as the audit page reads it, the score in the grades page's words.
GRADE_SYNC_LABELS = {
    NO_GRADE_SERVICE: _l("Off: this launch offers no grade service"),
    **{_grade_sync_code(on, mode): _l("On; score: %(mode)s", mode=label) if on else
       _l("Off; score: %(mode)s", mode=label) for mode, (label, _scorer) in grades.MODES.items() for on in (True, False)},
}


def _grade_sync(actor: Actor, source: Course, lineitems_url: str | None, now: datetime) -> str | None:
    row = db.session.get(GradeSync, source.id)
    if row is None:
        return None
    enabled = row.enabled and lineitems_url is not None  # the old course's line item is not the new one's
    grades.configure(actor, {"enabled": enabled, "mode": row.mode}, lineitems_url, now)
    if row.enabled and not enabled:
        return NO_GRADE_SERVICE
    return _grade_sync_code(enabled, row.mode)


def _active(model, item_id: int | None) -> int | None:
    item = db.session.get(model, item_id) if item_id is not None else None
    return item_id if item is not None and item.active else None


def _course_wide(source: Course) -> list[Challenge]:
    return list(db.session.scalars(select(Challenge).where(
        Challenge.course_id == source.id, Challenge.team_id.is_(None), Challenge.cancelled_at.is_(None))
        .order_by(Challenge.starts_at, Challenge.id)))


def _filter_gone(challenge: Challenge) -> bool:
    return any(item_id is not None and _active(model, item_id) is None for model, item_id in (
        (TaskCategory, challenge.task_category_id), (AiTool, challenge.ai_tool_id)))


def left_out(source: Course) -> list[str]:
    """Titles of the source's course-wide challenges that a carry-over leaves out: each counts only a tool or task
    category the organisation has since taken off its list (copied without it, it would count every experiment)."""
    return [c.title for c in _course_wide(source) if _filter_gone(c)]


def _challenges(actor: Actor, source: Course, now: datetime) -> tuple[int, list[str]]:
    """Course-wide challenges that were not cancelled, as new challenges of this course: same texts, goal and
    filters, windows moved forward by whole weeks (same weekdays, local times and lengths) so none starts in the
    past. Team challenges, champions, progress and evidence stay behind (they are about people). Returns how many
    were copied and the titles left out (left_out)."""
    rows, skipped = [], []
    for challenge in _course_wide(source):
        if _filter_gone(challenge):
            skipped.append(challenge.title)
        else:
            rows.append(challenge)
    if not rows:
        return 0, skipped
    # Moved on the organisation's wall clock (create_challenge reads naive times as such): in UTC, a challenge from
    # winter copied into summer would start an hour off its local time wherever clocks change.
    tz = challenges.zone(actor.organisation_id)

    def local(moment: datetime) -> datetime:
        return moment.astimezone(tz).replace(tzinfo=None)

    earliest, today = local(rows[0].starts_at), local(now)
    weeks = 0 if earliest >= today else -(-(today - earliest) // WEEK)
    shift = weeks * WEEK
    for old in rows:
        data = {"title": old.title, "description": old.description, "goal_kind": old.goal_kind,
                "goal_value": old.goal_value, "starts_at": local(old.starts_at) + shift,
                "ends_at": local(old.ends_at) + shift,
                "team": None, "task_category": old.task_category_id, "ai_tool": old.ai_tool_id,
                "badge": _active(BadgeClass, old.badge_id),
                "is_mission": old.is_mission, "scenario": old.scenario, "reflection_prompt": old.reflection_prompt,
                "champion": None, "dataset_text": ""}
        if old.is_mission:
            data["tools"] = list(db.session.scalars(select(ChallengeTool.ai_tool_id).where(
                ChallengeTool.challenge_id == old.id)))
        upload = (old.dataset_name, old.dataset) if old.is_mission and old.dataset_name else None
        challenges.create_challenge(actor, data, now, upload)
    return len(rows), skipped
