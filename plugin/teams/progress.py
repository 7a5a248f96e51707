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

from flask_babel import format_date
from flask_babel import gettext as _
from sqlalchemy import select

from plugin.catalog.service import items
from plugin.challenges.models import Challenge
from plugin.challenges.queries import Progress, progress_of, status_of
from plugin.core.actor import Actor
from plugin.experiments.service import OUTCOME_LABELS
from plugin.extensions import db
from plugin.leaderboards.periods import ALL, MONTH, WEEK, current_key, first_day, previous_keys
from plugin.leaderboards.queries import team_figures
from plugin.ledger.models import TOTAL
from plugin.settings.service import time_zone
from plugin.teams.models import Team
from plugin.teams.service import SOURCE_LABELS, source_of, viewable_team

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
        return min(100, round(100 * self.experimenters / self.members)) if self.members else 0

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


@dataclass(frozen=True)
class TeamProgress:
    team: Team
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


def _categories(organisation_id: int, figures: dict, month: str) -> list[Tally]:
    used = {int(m.split(":", 1)[1]) for m, v in figures[ALL].items() if m.startswith("cat:") and v}
    named = [(c.id, c.name) for c in items(organisation_id, "categories", include_inactive=True) if c.id in used]
    named += [(i, _("Category %(id)s", id=i)) for i in sorted(used - {i for i, _ in named})]
    return [_tally(figures, month, f"cat:{i}", str(i), name) for i, name in named]


def _goals(team: Team, now: datetime) -> list[Goal]:
    challenges = db.session.scalars(select(Challenge).where(
        Challenge.course_id == team.course_id, Challenge.team_id == team.id, Challenge.cancelled_at.is_(None))
        .order_by(Challenge.ends_at.desc(), Challenge.id.desc()).limit(GOALS_SHOWN))
    return [Goal(c.id, c.title, status_of(c, now), progress_of(c), c.ends_at) for c in challenges]


def team_progress(actor: Actor, team_id: int, now: datetime) -> TeamProgress:
    team = viewable_team(actor, team_id)
    tz = time_zone(actor.organisation_id)
    week_keys = previous_keys(WEEK, now, tz, WEEKS)
    month = current_key(MONTH, now, tz)
    figures = team_figures(team.id, [ALL, month, *week_keys])
    members = figures[ALL].get("members", 0)
    weeks = [Week(k, first_day(k), figures[k].get("experimenters", 0), members) for k in week_keys]
    outcomes = [_tally(figures, month, f"out:{o}", o, label) for o, label in OUTCOME_LABELS.items()]
    return TeamProgress(
        team=team, source=source_of(team), members=members, month_key=month,
        month_label=format_date(first_day(month), "LLLL y"), weeks=weeks,
        categories=_categories(actor.organisation_id, figures, month), outcomes=outcomes,
        experiments=_tally(figures, month, "experiments"), minutes=_tally(figures, month, "minutes"),
        badges=_tally(figures, month, "badges"), points_month=figures[month].get(f"points:{TOTAL}", 0),
        experimenters_month=figures[month].get("experimenters", 0), goals=_goals(team, now))
