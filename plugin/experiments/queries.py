"""Reading experiments: always scoped to the actor's course and what the actor may see."""
from __future__ import annotations

from sqlalchemy import or_, select

from plugin.catalog.models import AiTool, TaskCategory
from plugin.core import text_fold
from plugin.core.actor import Actor
from plugin.errors import NotFound
from plugin.experiments.models import Experiment, Visibility
from plugin.extensions import db
from plugin.i18n import gettext as _
from plugin.i18n import lazy_gettext as _l
from plugin.teams.service import teammate_ids_subquery
from plugin.tenancy.models import User
from plugin.vision import service as vision_service
from plugin.vision.coaching import notes_for
from plugin.vision.models import ExperimentPillar, Pillar

ANONYMOUS = _l("Anonymous colleague")


def visible_clause(actor: Actor):
    """Own entries always; course entries for everyone in the course; team entries for teammates and staff.
    Entries a manager hid stay visible to their author and to managers only."""
    clauses = [Experiment.visibility == Visibility.COURSE.value]
    if actor.can_manage:
        clauses.append(Experiment.visibility == Visibility.TEAM.value)
    else:
        clauses.append((Experiment.visibility == Visibility.TEAM.value)
                       & Experiment.user_id.in_(teammate_ids_subquery(actor.course_id, actor.user_id)))
    shared = or_(*clauses)
    if not actor.can_manage:
        shared = shared & Experiment.hidden_at.is_(None)
    return or_(Experiment.user_id == actor.user_id, shared)


def _rows(actor: Actor, query):
    query = query.add_columns(User, AiTool.name, TaskCategory.name).join(User, User.id == Experiment.user_id) \
        .outerjoin(AiTool, AiTool.id == Experiment.ai_tool_id) \
        .join(TaskCategory, TaskCategory.id == Experiment.task_category_id)
    rows = []
    for e, u, tool, category in db.session.execute(query):
        hidden_author = e.anonymous and e.user_id != actor.user_id
        rows.append({"experiment": e, "author": None if hidden_author else u,
                     "author_name": str(ANONYMOUS) if hidden_author else u.display_name,
                     "tool": tool or e.ai_tool_other or "", "category": category})
    return rows


def feed(actor: Actor, limit: int = 30, before_id: int | None = None, *, q: str = "", category_id: int | None = None,
         tool_id: int | None = None, outcome: str | None = None) -> list[dict]:
    """The community library: what this person may see in the course, newest first, filtered."""
    query = select(Experiment).where(Experiment.course_id == actor.course_id, visible_clause(actor))
    if before_id:
        query = query.where(Experiment.id < before_id)
    if category_id:
        query = query.where(Experiment.task_category_id == category_id)
    if tool_id:
        query = query.where(Experiment.ai_tool_id == tool_id)
    if outcome:
        query = query.where(Experiment.outcome == outcome)
    words = (q or "").split()[:8]
    if words:
        folded, fold_word = text_fold.folder()
        for word in words:  # '%' and '_' are searched for as themselves
            term = fold_word(word[:50])
            query = query.where(or_(*(folded(column).contains(term, autoescape=True)
                                      for column in (Experiment.title, Experiment.tried, Experiment.learned))))
    return _rows(actor, query.order_by(Experiment.id.desc()).limit(limit))


def mine(actor: Actor, limit: int = 20) -> list[dict]:
    query = select(Experiment).where(Experiment.course_id == actor.course_id, Experiment.user_id == actor.user_id)
    return _rows(actor, query.order_by(Experiment.id.desc()).limit(limit))


def get_visible(actor: Actor, experiment_id: int) -> dict:
    rows = _rows(actor, select(Experiment).where(
        Experiment.id == experiment_id, Experiment.course_id == actor.course_id, visible_clause(actor)))
    if not rows:
        raise NotFound(_("That experiment does not exist or is not shared with you."))
    return rows[0]


def pillar_names(actor: Actor, experiment_id: int) -> list[str]:
    """The AI-vision pillars an experiment (already checked visible to the actor) is tagged with."""
    return list(db.session.scalars(select(Pillar.name).join(ExperimentPillar, ExperimentPillar.pillar_id == Pillar.id)
                                   .where(ExperimentPillar.experiment_id == experiment_id,
                                          Pillar.organisation_id == actor.organisation_id)
                                   .order_by(Pillar.position, Pillar.id)))


def coaching_notes(actor: Actor, row: dict) -> list:
    """The private coaching notes of an experiment: for its author's eyes only, never anyone else's."""
    experiment = row["experiment"]
    if experiment.user_id != actor.user_id or not experiment.coaching_reasons:
        return []
    approved = [t.tool.name for t in vision_service.current(actor.organisation_id).approved_tools]
    return notes_for(experiment.coaching_reasons, row["tool"], approved, experiment.sensitive_data)
