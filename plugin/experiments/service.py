"""log_experiment: the one path by which an experiment enters Tinker (pages, API, CLI and seeder alike)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from plugin.catalog.service import find_active
from plugin.core.actor import Actor
from plugin.errors import Forbidden, InvalidInput
from plugin.experiments.models import Experiment, Outcome, SensitiveData, Visibility
from plugin.experiments.schemas import OTHER_TOOL
from plugin.extensions import db
from plugin.rules import service as rules
from plugin.rules.events import ExperimentLogged, Facts


@dataclass(frozen=True)
class Logged:
    experiment: Experiment
    recognitions: list[rules.Recognition]
    created: bool
    forced_private: bool


def log_experiment(actor: Actor, data: dict, now: datetime) -> Logged:
    """Record an experiment and award what it earns. `data` is ExperimentIn-loaded.

    A repeated submission_key (double click, browser retry) returns the first experiment unchanged.
    """
    if not actor.can_contribute:
        raise Forbidden("Observers can read Tinker but not log experiments.")
    existing = _by_key(actor, data["submission_key"])
    if existing is not None:
        return Logged(existing, [], created=False, forced_private=False)

    category = find_active(actor.organisation_id, "categories", data["task_category"])
    if category is None:
        raise InvalidInput("Choose a task category from the list.", errors={"task_category": ["Choose a task category from the list."]})
    tool_id, tool_other = None, None
    if data["ai_tool"] == OTHER_TOOL:
        tool_other = data["ai_tool_other"].strip()
    else:
        tool = find_active(actor.organisation_id, "tools", int(data["ai_tool"]))
        if tool is None:
            raise InvalidInput("Choose an AI tool from the list, or Other.", errors={"ai_tool": ["Choose an AI tool from the list, or Other."]})
        tool_id = tool.id
    # Anything but a clear "no" about confidential data keeps the entry to its author.
    forced_private = data["sensitive_data"] != SensitiveData.NO.value
    visibility = Visibility.PRIVATE.value if forced_private else data["visibility"]

    experiment = Experiment(
        organisation_id=actor.organisation_id, course_id=actor.course_id, user_id=actor.user_id,
        submission_key=data["submission_key"], title=data["title"].strip(), ai_tool_id=tool_id,
        ai_tool_other=tool_other, task_category_id=category.id, tried=data["tried"].strip(),
        outcome=data["outcome"], learned=data.get("learned", "").strip(), minutes_saved=data.get("minutes_saved", 0),
        sensitive_data=data["sensitive_data"], visibility=visibility, created_at=now,
    )
    try:
        with db.session.begin_nested():
            db.session.add(experiment)
            db.session.flush()
    except IntegrityError:  # the same submission racing in from another request or instance
        winner = _by_key(actor, data["submission_key"])
        return Logged(winner, [], created=False, forced_private=False)

    recognitions: list[rules.Recognition] = []
    if actor.can_earn:
        event = ExperimentLogged(
            organisation_id=actor.organisation_id, course_id=actor.course_id, user_id=actor.user_id,
            experiment_id=experiment.id, outcome=experiment.outcome, has_reflection=experiment.has_reflection,
            ai_tool_id=tool_id, task_category_id=category.id, occurred_at=now,
        )
        recognitions = rules.process(event, facts_for(actor.course_id, actor.user_id), now)
    return Logged(experiment, recognitions, created=True, forced_private=forced_private)


def _by_key(actor: Actor, submission_key: str) -> Experiment | None:
    return db.session.scalar(select(Experiment).where(
        Experiment.course_id == actor.course_id, Experiment.user_id == actor.user_id,
        Experiment.submission_key == submission_key))


def facts_for(course_id: int, user_id: int) -> Facts:
    count = db.session.scalar(select(func.count()).select_from(Experiment).where(
        Experiment.course_id == course_id, Experiment.user_id == user_id))
    return Facts(experiment_count=count or 0)


OUTCOME_LABELS = {Outcome.WORKED.value: "Worked", Outcome.PARTLY.value: "Partly worked",
                  Outcome.FAILED.value: "Did not work"}
