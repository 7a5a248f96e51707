"""Manager pages: the course's participation and shared experiments."""
from __future__ import annotations

from flask import Blueprint, render_template

from plugin.core.actor import Actor, Role
from plugin.experiments import queries as experiment_queries
from plugin.experiments.service import OUTCOME_LABELS
from plugin.insights.queries import participation
from plugin.leaderboards.queries import standings
from plugin.web.auth import requires_actor

bp = Blueprint("manage", __name__, url_prefix="/app/manage")


@bp.get("/")
@requires_actor(Role.MANAGER, Role.ADMIN)
def overview(actor: Actor):
    people = participation(actor)
    learners = [p for p in people if p.role == Role.LEARNER.value]
    return render_template(
        "manager/overview.html", actor=actor, people=people,
        started=sum(1 for p in learners if p.experiments), learners=len(learners),
        recent=experiment_queries.feed(actor, limit=10), board=standings(actor.course_id, None, limit=10),
        outcome_labels=OUTCOME_LABELS,
    )
