"""A team's progress page as numbers: read from the maintained team figures (leaderboards.queries.team_figures)
in one query, plus the team's challenges (a handful of rows with counters kept at write time). Nothing here
reads the ledger or groups experiments.

Weeks are ISO weeks and months calendar months in the organisation's time zone. Participation in a week is
the share of the team's counted members (active learners, as of now) who logged at least one experiment
that week.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import NamedTuple

from sqlalchemy import bindparam, select

from plugin.catalog.models import TaskCategory
from plugin.challenges.models import Challenge
from plugin.challenges.queries import Progress, percent, progress_of, status_of
from plugin.core.actor import Actor
from plugin.core.db import read
from plugin.experiments.service import OUTCOME_LABELS
from plugin.extensions import db
from plugin.i18n import format_date
from plugin.i18n import gettext as _
from plugin.insights.differencing import TOP
from plugin.insights.privacy import min_group_size
from plugin.insights.scope import Filters, resolve
from plugin.leaderboards import service as boards
from plugin.leaderboards.periods import ALL, MONTH, WEEK, current_key, first_day, previous_keys
from plugin.leaderboards.queries import MIN_TEAM_SIZE, team_figures
from plugin.ledger.models import TOTAL
from plugin.onboarding.names import seeded
from plugin.settings.service import TIME_ZONE_OF, remember_time_zone, time_zone
from plugin.teams.models import Team, TeamMember
from plugin.teams.service import SOURCE_LABELS, may_view, source_of

WEEKS = 12
GOALS_SHOWN = 10


@dataclass(frozen=True)
class Week:
    key: str            # "2026-W48"
    starts_on: date     # its Monday
    experimenters: int  # counted members with at least one experiment that week
    members: int

    @property
    def percent(self) -> int:
        return min(100, percent(self.experimenters, self.members))  # half up, as the team board rounds

    @property
    def short(self) -> str:
        return _("W%(week)s", week=self.key.split("-W")[1])


@dataclass(frozen=True)
class Tally:
    key: str
    label: str
    month: int
    all_time: int


@dataclass(frozen=True)
class Goal:
    challenge_id: int
    title: str
    status: str
    progress: Progress
    ends_at: datetime

    @property
    def percent(self) -> int:
        """How far along the bar is, 0..100 (the goal reached is 100)."""
        goal = self.progress.goal
        return min(100, self.progress.value * 100 // goal) if goal else 0


class TeamHead(NamedTuple):
    """What the page shows of the team itself (Team's columns, read as plain values)."""
    id: int
    course_id: int
    name: str
    external_id: str | None


SMALL, BELOW_K, BESIDE = "small", "below_k", "beside"  # TeamProgress.withheld_why


@dataclass(frozen=True)
class TeamProgress:
    team: TeamHead
    source: str
    members: int
    month_key: str
    month_label: str
    weeks: list[Week]
    categories: list[Tally]
    outcomes: list[Tally]
    experiments: Tally
    minutes: Tally
    badges: Tally
    points_month: int
    experimenters_month: int
    goals: list[Goal]
    # Why this reader sees none of the team's activity figures (they stay at zero), None when they see them:
    # SMALL, fewer counted members than `needed` (a learner's MIN_TEAM_SIZE); BELOW_K, fewer than the organisation's
    # minimum group size (staff); BESIDE, enough, but beside the course's or other teams' figures they would single
    # someone out (staff, as Insights decides).
    withheld_why: str | None = None
    needed: int = MIN_TEAM_SIZE  # the counted members its figures need for this reader

    @property
    def withheld(self) -> bool:
        return self.withheld_why is not None

    @property
    def source_label(self) -> str:
        return str(SOURCE_LABELS[self.source])

    @property
    def hours_month(self) -> float:
        return hours(self.minutes.month)

    @property
    def hours_all_time(self) -> float:
        return hours(self.minutes.all_time)

    @property
    def points_per_member_month(self) -> float:
        return round(self.points_month / self.members, 1) if self.members else 0.0


def hours(minutes: int) -> float:
    """Minutes as hours, to one decimal (the page formats it for the locale)."""
    return round(minutes / 60, 1)


def _tally(figures: dict, month: str, metric: str, key: str = "", label: str = "") -> Tally:
    return Tally(key or metric, label, figures[month].get(metric, 0), figures[ALL].get(metric, 0))


_CATEGORY_NAMES = select(TaskCategory.id, TaskCategory.name).where(
    TaskCategory.organisation_id == bindparam("organisation"), TaskCategory.id.in_(bindparam("ids", expanding=True))
).order_by(TaskCategory.position, TaskCategory.name)


def _categories(organisation_id: int, figures: dict, month: str) -> list[Tally]:
    """The categories the team used, in the catalogue's order (inactive ones included: history names them)."""
    used = {int(m.split(":", 1)[1]) for m, v in figures[ALL].items() if m.startswith("cat:") and v}
    named = list(read(db.session, _CATEGORY_NAMES, {"organisation": organisation_id, "ids": sorted(used)})) \
        if used else []
    named += [(i, _("Category %(id)s", id=i)) for i in sorted(used - {i for i, _ in named})]
    return [_tally(figures, month, f"cat:{i}", str(i), seeded(name)) for i, name in named]


def _goals(team: TeamHead, now: datetime) -> list[Goal]:
    challenges = db.session.scalars(select(Challenge).where(
        Challenge.course_id == team.course_id, Challenge.team_id == team.id, Challenge.cancelled_at.is_(None))
        .order_by(Challenge.ends_at.desc(), Challenge.id.desc()).limit(GOALS_SHOWN))
    return [Goal(c.id, c.title, status_of(c, now), progress_of(c), c.ends_at) for c in challenges]


# What the page needs before its figures, in one statement: the team, whether the viewer is in it, whether it
# has goals, the organisation's time zone and the course's board settings (the nav asks for those).
# Plain columns, not the ORM entity: the page only shows the team (no unit of work to attach it to).
_TEAM = Team.__table__.c
_PAGE = select(_TEAM.id, _TEAM.course_id, _TEAM.name, _TEAM.external_id, select(TeamMember.user_id).where(
    TeamMember.team_id == Team.id, TeamMember.user_id == bindparam("user")).exists(),
    select(Challenge.id).where(Challenge.team_id == Team.id, Challenge.cancelled_at.is_(None)).exists(),
    TIME_ZONE_OF.scalar_subquery(), boards.MODE_OF.scalar_subquery(), boards.RELATIVE_OF.scalar_subquery(),
).where(Team.id == bindparam("team"))


def _viewable(actor: Actor, team_id: int) -> tuple[TeamHead, bool]:
    row = read(db.session, _PAGE, {
        "team": team_id, "user": actor.user_id, "organisation": actor.organisation_id, "course": actor.course_id,
    }).first()
    member, goals, zone, mode, relative = row[4:] if row else (False, False, None, None, None)
    team = may_view(actor, TeamHead(*row[:4]) if row else None, bool(member))
    remember_time_zone(actor.organisation_id, zone)
    boards.remember_settings(actor.course_id, mode, relative)
    return team, bool(goals)


class FiguresFrom(NamedTuple):
    """From how many counted members a team's page shows its figures: to its members (a learner), and to staff
    (the organisation's minimum group size for insights)."""

    learners: int
    staff: int


def figures_from(organisation_id: int) -> FiguresFrom:
    return FiguresFrom(MIN_TEAM_SIZE, min_group_size(organisation_id))


def figures_needed(actor: Actor) -> int:
    """From how many counted members this reader sees a team's figures (FiguresFrom's: a learner's needs no read)."""
    return min_group_size(actor.organisation_id) if actor.can_manage else MIN_TEAM_SIZE


def _apart(actor: Actor, team_id: int, now: datetime) -> bool:
    """Whether the team's figures, set beside those of the other groups the same staff reader sees in Insights (the
    course, its other teams; an admin's organisation and its courses), single out nobody: the team of everyone but
    one would give that one person's figures away beside the course's (insights/differencing.py decides)."""
    scope = resolve(actor, Filters(team_id=team_id), now)
    return ("team", team_id) in scope.family.shown(scope.family.groups[TOP], scope.k)


def team_progress(actor: Actor, team_id: int, now: datetime) -> TeamProgress:
    team, has_goals = _viewable(actor, team_id)
    tz = time_zone(actor.organisation_id)
    week_keys = previous_keys(WEEK, now, tz, WEEKS)
    month = current_key(MONTH, now, tz)
    figures = team_figures(team.id, [ALL, month, *week_keys])
    members = figures[ALL].get("members", 0)
    # In a small team the figures are each member's own entries, private ones included (a team of one is one
    # person's failures and minutes): learners see them from MIN_TEAM_SIZE members on, as on the team boards; staff
    # from the organisation's minimum group size, as Insights shows the same figures (a manager may make teams).
    needed = figures_needed(actor)
    why = None
    if members < needed:
        why = BELOW_K if actor.can_manage else SMALL
    elif actor.can_manage and not _apart(actor, team.id, now):
        why = BESIDE
    if why:
        figures = {key: {"members": members} for key in figures}
    weeks = [Week(k, first_day(k), figures[k].get("experimenters", 0), members) for k in week_keys]
    outcomes = [_tally(figures, month, f"out:{o}", o, label) for o, label in OUTCOME_LABELS.items()]
    return TeamProgress(
        team=team, source=source_of(team), members=members, month_key=month,
        month_label=format_date(first_day(month), "LLLL y"), weeks=weeks,
        categories=_categories(actor.organisation_id, figures, month), outcomes=outcomes,
        experiments=_tally(figures, month, "experiments"), minutes=_tally(figures, month, "minutes"),
        badges=_tally(figures, month, "badges"), points_month=figures[month].get(f"points:{TOTAL}", 0),
        experimenters_month=figures[month].get("experimenters", 0), goals=_goals(team, now) if has_goals else [],
        withheld_why=why, needed=needed)
