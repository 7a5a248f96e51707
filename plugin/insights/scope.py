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
from plugin.insights.differencing import TOP, Family, Key
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
    k: int
    # What else the same reader can choose, for differencing: the top (the manager's course, the admin's
    # organisation), an admin's courses, every team; as (user, course) units of counted learners and managers.
    top_course_ids: list[int]
    family: Family
    manager_family: Family
    own: Key  # which group of the family this scope is
    manager_own: Key  # and of the managers' family (the team filter does not apply to managers)

    @property
    def team_members(self) -> dict[int, frozenset[int]]:
        """Every team of the courses -> its counted learners (of its own course)."""
        return {t.id: frozenset(u for u, _ in self.family.groups[("team", t.id)]) for t in self.teams}

    @property
    def own_units(self) -> frozenset:
        return self.family.groups[self.own]

    @property
    def learner_course_ids(self) -> list[int]:
        """Where the learners' activity counts: a team's own course (its members may learn in others too)."""
        return [self.team.course_id] if self.team else self.course_ids

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
        top = list(db.session.scalars(select(Course).where(Course.organisation_id == actor.organisation_id)
                                      .order_by(Course.title, Course.id)))
        courses = [c for c in top if c.id == filters.course_id] if filters.course_id else top
        if filters.course_id and not courses:
            raise NotFound(_("That course is not in your organisation."))
        level = "organisation"
    else:
        if filters.course_id and filters.course_id != actor.course_id:
            raise NotFound(_("That course is not yours."))
        top = courses = [db.session.get(Course, actor.course_id)]
        level = "course"
    top_ids, course_ids = [c.id for c in top], [c.id for c in courses]
    all_teams = list(db.session.scalars(select(Team).where(Team.course_id.in_(top_ids))
                                        .order_by(Team.name, Team.id)))
    teams = [t for t in all_teams if t.course_id in course_ids]
    team = None
    if filters.team_id:
        team = next((t for t in teams if t.id == filters.team_id), None)
        if team is None:
            raise NotFound(_("That team is not in this course."))
    learner_units, manager_units = _units(top_ids, Role.LEARNER), _units(top_ids, Role.MANAGER)
    team_units = _team_units(all_teams, learner_units)
    groups: dict[Key, frozenset] = {TOP: learner_units}
    manager_groups: dict[Key, frozenset] = {TOP: manager_units}
    if len(top) > 1:  # an admin can pick one course of several
        for c in top:
            groups[("course", c.id)] = frozenset(u for u in learner_units if u[1] == c.id)
            manager_groups[("course", c.id)] = frozenset(u for u in manager_units if u[1] == c.id)
    groups.update({("team", t): units for t, units in team_units.items()})
    manager_own = ("course", courses[0].id) if len(courses) < len(top) else TOP
    own = ("team", team.id) if team else manager_own
    in_courses = set(course_ids)
    return Scope(
        organisation_id=actor.organisation_id, level=level, kind=filters.kind, key=key,
        window=periods.window(key, tz), trend_keys=_trend(filters.kind, key, now, tz), courses=courses, teams=teams,
        team=team, learners=frozenset(u for u, _ in groups[own]),
        managers=frozenset(u for u, c in manager_units if c in in_courses),
        k=min_group_size(actor.organisation_id), top_course_ids=top_ids, family=Family(groups),
        manager_family=Family(manager_groups), own=own, manager_own=manager_own)


def _trend(kind: str, key: str, now: datetime, tz) -> list[str]:
    keys = periods.previous_keys(kind, now, tz, 60 if kind == "week" else 24)
    if key in keys:
        return keys[max(0, keys.index(key) - TREND + 1):keys.index(key) + 1]
    return [key]


def _units(course_ids: list[int], role: Role) -> frozenset[tuple[int, int]]:
    return frozenset((u, c) for u, c in db.session.execute(select(Membership.user_id, Membership.course_id).where(
        Membership.course_id.in_(course_ids), Membership.role == role.value, counted_membership())))


def _team_units(teams: list[Team], learners: frozenset[tuple[int, int]]) -> dict[int, frozenset[tuple[int, int]]]:
    """Each team's counted learners of its own course, as (user, course) units."""
    out: dict[int, set[tuple[int, int]]] = {t.id: set() for t in teams}
    course_of = {t.id: t.course_id for t in teams}
    if teams:
        for team_id, user_id in db.session.execute(select(TeamMember.team_id, TeamMember.user_id).where(
                TeamMember.team_id.in_(list(course_of)))):
            if (user_id, course_of[team_id]) in learners:
                out[team_id].add((user_id, course_of[team_id]))
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
