"""Who an insight covers: the courses (a manager's own; an admin's whole organisation or one course of it),
an optional team, the counted learners of that, and the course's managers. Every query below takes this."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from plugin.core.actor import Actor, Role
from plugin.errors import Forbidden, InvalidInput, NotFound
from plugin.extensions import db
from plugin.i18n import gettext as _
from plugin.insights import periods
from plugin.insights.privacy import min_group_size
from plugin.leaderboards.periods import Window
from plugin.settings.service import time_zone
from plugin.teams.models import Team, TeamMember
from plugin.tenancy.models import Course, Membership, counted_membership

TREND = 6


@dataclass(frozen=True)
class Filters:
    kind: str = periods.QUARTER
    key: str | None = None
    team_id: int | None = None
    course_id: int | None = None  # admins only: one course of the organisation


@dataclass(frozen=True)
class Scope:
    organisation_id: int
    level: str  # "course" or "organisation"
    kind: str
    key: str
    window: Window
    trend_keys: list[str]
    courses: list[Course]
    teams: list[Team]
    team: Team | None
    learners: frozenset[int]  # counted learners in the courses (and the team, when one is chosen)
    managers: frozenset[int]  # counted managers of the courses (the team filter does not apply)
    team_members: dict[int, frozenset[int]]  # every team of the courses -> its counted learners
    k: int

    @property
    def course_ids(self) -> list[int]:
        return [c.id for c in self.courses]

    @property
    def label(self) -> str:
        return periods.label(self.key)

    def query_args(self, **extra) -> dict:
        args = {"kind": self.kind, "key": self.key, "team": self.team.id if self.team else None}
        if self.level == "organisation" and len(self.courses) == 1:
            args["course"] = self.courses[0].id
        return {**args, **extra}


def resolve(actor: Actor, filters: Filters, now: datetime) -> Scope:
    if not actor.can_manage:
        raise Forbidden(_("Insights are for managers and administrators."))
    if filters.kind not in periods.KINDS:
        raise InvalidInput(_("Choose week, month or quarter."), errors={"kind": [_("Choose week, month or quarter.")]})
    tz = time_zone(actor.organisation_id)
    key = filters.key
    if key and not periods.is_valid(filters.kind, key) and any(periods.is_valid(k, key) for k in periods.KINDS):
        key = None  # the period type was just changed: show the new type's current period
    key = key or periods.current_key(filters.kind, now, tz)
    if not periods.is_valid(filters.kind, key):
        raise InvalidInput(_("That period does not exist."), errors={"key": [_("Choose a period from the list.")]})
    if actor.can_administer:
        query = select(Course).where(Course.organisation_id == actor.organisation_id)
        if filters.course_id:
            query = query.where(Course.id == filters.course_id)
        courses = list(db.session.scalars(query.order_by(Course.title, Course.id)))
        if filters.course_id and not courses:
            raise NotFound(_("That course is not in your organisation."))
        level = "organisation"
    else:
        if filters.course_id and filters.course_id != actor.course_id:
            raise NotFound(_("That course is not yours."))
        courses, level = [db.session.get(Course, actor.course_id)], "course"
    course_ids = [c.id for c in courses]
    teams = list(db.session.scalars(select(Team).where(Team.course_id.in_(course_ids)).order_by(Team.name, Team.id)))
    team = None
    if filters.team_id:
        team = next((t for t in teams if t.id == filters.team_id), None)
        if team is None:
            raise NotFound(_("That team is not in this course."))
    learners = _members(course_ids, Role.LEARNER)
    team_members = _team_members([t.id for t in teams], learners)
    return Scope(
        organisation_id=actor.organisation_id, level=level, kind=filters.kind, key=key,
        window=periods.window(key, tz), trend_keys=_trend(filters.kind, key, now, tz), courses=courses, teams=teams,
        team=team, learners=team_members.get(team.id, frozenset()) if team else learners,
        managers=_members(course_ids, Role.MANAGER), team_members=team_members,
        k=min_group_size(actor.organisation_id))


def _trend(kind: str, key: str, now: datetime, tz) -> list[str]:
    keys = periods.previous_keys(kind, now, tz, 60 if kind == "week" else 24)
    if key in keys:
        return keys[max(0, keys.index(key) - TREND + 1):keys.index(key) + 1]
    return [key]


def _members(course_ids: list[int], role: Role) -> frozenset[int]:
    return frozenset(db.session.scalars(select(Membership.user_id).where(
        Membership.course_id.in_(course_ids), Membership.role == role.value, counted_membership())))


def _team_members(team_ids: list[int], learners: frozenset[int]) -> dict[int, frozenset[int]]:
    out: dict[int, set[int]] = {t: set() for t in team_ids}
    if team_ids:
        for team_id, user_id in db.session.execute(select(TeamMember.team_id, TeamMember.user_id).where(
                TeamMember.team_id.in_(team_ids))):
            if user_id in learners:
                out[team_id].add(user_id)
    return {t: frozenset(u) for t, u in out.items()}


def period_choices(scope: Scope, now: datetime) -> list[str]:
    tz = time_zone(scope.organisation_id)
    return list(reversed(periods.previous_keys(scope.kind, now, tz, {"week": 12, "month": 12}.get(scope.kind, 8))))


def organisation_courses(actor: Actor) -> list[Course]:
    """The courses an admin can pick from (a manager only has their own)."""
    if not actor.can_administer:
        return [db.session.get(Course, actor.course_id)]
    return list(db.session.scalars(select(Course).where(Course.organisation_id == actor.organisation_id)
                                   .order_by(Course.title, Course.id)))
