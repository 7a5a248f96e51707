"""Read models for managers: who in the course is taking part, from maintained totals and counts."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select

from plugin.core.actor import Actor, Role
from plugin.errors import Forbidden
from plugin.experiments.models import Experiment
from plugin.extensions import db
from plugin.i18n import gettext as _
from plugin.ledger.models import TOTAL, PointsTotal
from plugin.tenancy.models import Membership, User, counted_membership


@dataclass(frozen=True)
class Participant:
    user_id: int
    name: str
    role: str
    points: int
    experiments: int
    last_experiment_at: datetime | None


def participation(actor: Actor) -> list[Participant]:
    if not actor.can_manage:
        raise Forbidden(_("Only managers see the course's participation."))
    counts = select(Experiment.user_id, func.count().label("n"), func.max(Experiment.created_at).label("last")) \
        .where(Experiment.course_id == actor.course_id).group_by(Experiment.user_id).subquery()
    rows = db.session.execute(
        select(User.id, User.name, Membership.role, func.coalesce(PointsTotal.points, 0), func.coalesce(counts.c.n, 0),
               counts.c.last)
        .join(Membership, Membership.user_id == User.id)
        .outerjoin(PointsTotal, (PointsTotal.user_id == User.id) & (PointsTotal.course_id == actor.course_id)
                   & (PointsTotal.dimension == TOTAL))
        .outerjoin(counts, counts.c.user_id == User.id)
        .where(Membership.course_id == actor.course_id, counted_membership())  # no inactive or test users
        .order_by(case((Membership.role == Role.LEARNER.value, 0), else_=1), User.name, User.id)
    )
    participants = []
    for user_id, name, role, points, n, last in rows:
        if isinstance(last, str):  # SQLite hands aggregates back untyped
            last = datetime.fromisoformat(last)
        participants.append(Participant(user_id, name or f"Participant {user_id}", role, points, n, last))
    return participants
