"""Reading experiments: always scoped to the actor's course and what the actor may see."""
from __future__ import annotations

from sqlalchemy import or_, select

from plugin.catalog.models import AiTool, TaskCategory
from plugin.core.actor import Actor
from plugin.errors import NotFound
from plugin.experiments.models import Experiment, Visibility
from plugin.extensions import db
from plugin.teams.service import teammate_ids_subquery
from plugin.tenancy.models import User


def _visible_clause(actor: Actor):
    """Own entries always; course entries for everyone in the course; team entries for teammates and staff."""
    clauses = [Experiment.user_id == actor.user_id, Experiment.visibility == Visibility.COURSE.value]
    if actor.can_manage:
        clauses.append(Experiment.visibility == Visibility.TEAM.value)
    else:
        clauses.append((Experiment.visibility == Visibility.TEAM.value)
                       & Experiment.user_id.in_(teammate_ids_subquery(actor.course_id, actor.user_id)))
    return or_(*clauses)


def _rows(query):
    query = query.add_columns(User, AiTool.name, TaskCategory.name).join(User, User.id == Experiment.user_id) \
        .outerjoin(AiTool, AiTool.id == Experiment.ai_tool_id) \
        .join(TaskCategory, TaskCategory.id == Experiment.task_category_id)
    return [
        {"experiment": e, "author": u, "tool": tool or e.ai_tool_other or "", "category": category}
        for e, u, tool, category in db.session.execute(query)
    ]


def feed(actor: Actor, limit: int = 30, before_id: int | None = None) -> list[dict]:
    query = select(Experiment).where(Experiment.course_id == actor.course_id, _visible_clause(actor))
    if before_id:
        query = query.where(Experiment.id < before_id)
    return _rows(query.order_by(Experiment.id.desc()).limit(limit))


def mine(actor: Actor, limit: int = 20) -> list[dict]:
    query = select(Experiment).where(Experiment.course_id == actor.course_id, Experiment.user_id == actor.user_id)
    return _rows(query.order_by(Experiment.id.desc()).limit(limit))


def get_visible(actor: Actor, experiment_id: int) -> dict:
    rows = _rows(select(Experiment).where(
        Experiment.id == experiment_id, Experiment.course_id == actor.course_id, _visible_clause(actor)))
    if not rows:
        raise NotFound("That experiment does not exist or is not shared with you.")
    return rows[0]
