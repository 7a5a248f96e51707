"""Reading challenges: the ones a person sees, their progress (from the maintained counters) and boards."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select

from plugin.challenges.models import COUNT, Challenge, ChallengeContribution, ChallengeTool, MissionEvidence
from plugin.challenges.progress import learner_count
from plugin.core.actor import Actor
from plugin.extensions import db
from plugin.i18n import format_decimal, format_percent
from plugin.i18n import gettext as _
from plugin.leaderboards.periods import ALL
from plugin.leaderboards.queries import Board, Scope
from plugin.leaderboards.queries import board as engine_board
from plugin.leaderboards.service import view_of
from plugin.ledger.models import TOTAL
from plugin.teams.models import Team, TeamMember

OPEN, UPCOMING, ENDED, CANCELLED = "open", "upcoming", "ended", "cancelled"


@dataclass(frozen=True)
class Progress:
    value: int       # for the bar: experiments / accepted learners, or the participation percentage
    goal: int        # the bar's maximum: the bar shows how much of the goal is reached
    text: str        # the same, in words (the bar's accessible value text)
    complete: bool

    @property
    def shown(self) -> int:
        return min(self.value, self.goal)


def percent(part: int, whole: int) -> int:
    """part/whole as a whole percentage, rounded half up (2 of 7 -> 29%), as the boards show shares."""
    return (part * 200 + whole) // (whole * 2) if whole else 0


def status_of(challenge: Challenge, now: datetime) -> str:
    if challenge.cancelled_at is not None:
        return CANCELLED
    if now < challenge.starts_at:
        return UPCOMING
    return OPEN if now < challenge.ends_at else ENDED


def progress_of(challenge: Challenge, learners: int | None = None) -> Progress:
    """Progress from the counters kept at write time (plus, for participation, how many learners count now)."""
    done = challenge.completed_at is not None
    if challenge.goal_kind == COUNT:
        count, goal = format_decimal(challenge.progress_count), format_decimal(challenge.goal_value)
        text = (_("%(count)s of %(goal)s learners accepted", count=count, goal=goal) if challenge.is_mission
                else _("%(count)s of %(goal)s experiments", count=count, goal=goal))
        return Progress(challenge.progress_count, challenge.goal_value, text, done)
    learners = learner_count(challenge.course_id, challenge.team_id) if learners is None else learners
    who = challenge.contributor_count
    share = min(100, percent(who, learners))
    # The bar is the share of the goal reached, so the text says that share too, not just the learners' share.
    of_goal = min(100, percent(min(who, learners) * 100, learners * challenge.goal_value)) if learners else 0
    if of_goal == 100 and who * 100 < challenge.goal_value * learners:
        of_goal = 99  # rounding never claims the goal before it is reached
    words = dict(share=format_percent(share / 100), who=format_decimal(who), learners=format_decimal(learners),
                 of_goal=format_percent(of_goal / 100), goal=format_percent(challenge.goal_value / 100))
    text = (_("%(share)s of learners accepted (%(who)s of %(learners)s) — %(of_goal)s of the way to the %(goal)s goal",
              **words) if challenge.is_mission else
            _("%(share)s of learners took part (%(who)s of %(learners)s) — %(of_goal)s of the way to the %(goal)s goal",
              **words))
    return Progress(share, challenge.goal_value, text, done)


def visible(actor: Actor):
    """Challenges of the actor's course they may see: course-wide ones, their teams' ones (staff: all)."""
    query = select(Challenge).where(Challenge.course_id == actor.course_id)
    if not actor.can_manage:
        mine = select(TeamMember.team_id).where(TeamMember.user_id == actor.user_id)
        query = query.where(Challenge.cancelled_at.is_(None),
                            or_(Challenge.team_id.is_(None), Challenge.team_id.in_(mine)))
    return query


@dataclass(frozen=True)
class Card:
    challenge: Challenge
    status: str
    progress: Progress
    mine: int          # my contribution (experiments; 1 for an accepted mission)
    evidence: str | None  # my latest evidence status for a mission


def cards(actor: Actor, now: datetime) -> list[Card]:
    challenges = list(db.session.scalars(visible(actor).order_by(Challenge.ends_at.desc(), Challenge.id.desc())))
    ids = [c.id for c in challenges]
    mine = dict(db.session.execute(select(ChallengeContribution.challenge_id, ChallengeContribution.experiments)
                                   .where(ChallengeContribution.challenge_id.in_(ids),
                                          ChallengeContribution.user_id == actor.user_id)).all()) if ids else {}
    latest = _latest_evidence(ids, actor.user_id)
    learners: dict[int | None, int] = {}
    out = []
    for c in challenges:
        if c.goal_kind != COUNT and c.team_id not in learners:
            learners[c.team_id] = learner_count(c.course_id, c.team_id)
        contribution = mine.get(c.id)
        out.append(Card(c, status_of(c, now), progress_of(c, learners.get(c.team_id)),
                        (1 if c.is_mission else contribution) if contribution is not None else 0,
                        latest.get(c.id)))
    return out


def _latest_evidence(challenge_ids: list[int], user_id: int) -> dict[int, str]:
    if not challenge_ids:
        return {}
    last = select(MissionEvidence.challenge_id, func.max(MissionEvidence.attempt).label("attempt")).where(
        MissionEvidence.challenge_id.in_(challenge_ids), MissionEvidence.user_id == user_id).group_by(
        MissionEvidence.challenge_id).subquery()
    return dict(db.session.execute(select(MissionEvidence.challenge_id, MissionEvidence.status).join(
        last, (last.c.challenge_id == MissionEvidence.challenge_id) & (last.c.attempt == MissionEvidence.attempt))
        .where(MissionEvidence.user_id == user_id)).all())


def team_names(course_id: int) -> dict[int, str]:
    return dict(db.session.execute(select(Team.id, Team.name).where(Team.course_id == course_id)
                                   .order_by(Team.name)).all())


def approved_tools(challenge: Challenge) -> list[int]:
    return list(db.session.scalars(select(ChallengeTool.ai_tool_id).where(ChallengeTool.challenge_id == challenge.id)))


# --- the challenge's points board ----------------------------------------------------------------------
def board(actor: Actor, challenge: Challenge, limit: int = 10) -> Board | None:
    """The challenge window's points board as the course's board settings let this viewer see it: None when
    the course shows learners no individual boards (off, or team boards only); neighbours only in relative mode."""
    view = view_of(actor)
    if not view.individual:
        return None
    return engine_board(Scope.challenge(challenge.id), ALL, TOTAL, actor.user_id, limit=limit,
                        relative=view.relative)

