"""Standings read from the maintained totals, never from the ledger.

Tie rule: standard competition ranking ("1224"): equal points share a rank, the next rank skips.
Within a tie, rows are listed by user id (earliest account first) so the order is stable.
Only active learners count: people the LMS roster lists as inactive (or no longer lists) and the LMS's
test student (Canvas "Student View") are left off the board.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from plugin.core.actor import Role
from plugin.extensions import db
from plugin.ledger.models import TOTAL, PointsTotal
from plugin.tenancy.models import Membership, User, counted_membership


@dataclass(frozen=True)
class Standing:
    rank: int
    user_id: int
    name: str
    points: int
    is_viewer: bool


@dataclass(frozen=True)
class Standings:
    top: list[Standing]
    viewer: Standing | None

    @property
    def viewer_in_top(self) -> bool:
        return any(s.is_viewer for s in self.top)


def _learner_totals(course_id: int, dimension: str):
    return select(PointsTotal.user_id, PointsTotal.points).join(
        Membership, (Membership.course_id == PointsTotal.course_id) & (Membership.user_id == PointsTotal.user_id)
    ).where(PointsTotal.course_id == course_id, PointsTotal.dimension == dimension,
            Membership.role == Role.LEARNER.value, counted_membership())


def standings(course_id: int, viewer_user_id: int | None, limit: int = 10, dimension: str = TOTAL) -> Standings:
    base = _learner_totals(course_id, dimension).subquery()
    rows = db.session.execute(
        select(base.c.user_id, base.c.points, User.name).join(User, User.id == base.c.user_id)
        .order_by(base.c.points.desc(), base.c.user_id).limit(limit)
    ).all()
    top: list[Standing] = []
    for position, (user_id, points, name) in enumerate(rows, start=1):
        rank = top[-1].rank if top and top[-1].points == points else position
        top.append(Standing(rank, user_id, name or f"Participant {user_id}", points, user_id == viewer_user_id))

    viewer = next((s for s in top if s.is_viewer), None)
    if viewer is None and viewer_user_id is not None:
        mine = db.session.execute(select(base.c.points, User.name).join(User, User.id == base.c.user_id)
                                  .where(base.c.user_id == viewer_user_id)).first()
        if mine is not None:
            higher = db.session.scalar(select(func.count()).select_from(base).where(base.c.points > mine.points))
            viewer = Standing(higher + 1, viewer_user_id, mine.name or f"Participant {viewer_user_id}",
                              mine.points, True)
    return Standings(top=top, viewer=viewer)
