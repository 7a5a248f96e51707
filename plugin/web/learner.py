"""Learner pages: dashboard, log an experiment, the course's shared experiments (the leaderboard: web.boards)."""
from __future__ import annotations

import secrets

from flask import Blueprint, redirect, render_template, request
from marshmallow import ValidationError

from plugin.badges.service import awards_for_source, badges_of
from plugin.catalog.service import items
from plugin.community import service as community
from plugin.community.models import REACTIONS
from plugin.core.actor import Actor, Role
from plugin.core.clock import utcnow
from plugin.errors import InvalidInput
from plugin.experiments import queries as experiment_queries
from plugin.experiments.schemas import ExperimentIn
from plugin.experiments.service import OUTCOME_LABELS, log_experiment, short_reflection
from plugin.extensions import db
from plugin.i18n import gettext as _
from plugin.ledger.service import balances, points_for_source
from plugin.levels.service import dimension_names, progress_of
from plugin.peer_help.service import awaiting_me
from plugin.recognition.history import earned_for, explanations
from plugin.rules.engine import NOTES
from plugin.settings.service import limits
from plugin.vision import service as vision
from plugin.web.auth import launch_url, requires_actor
from plugin.web.boards import summary
from plugin.web.inputs import query_id

bp = Blueprint("learner", __name__, url_prefix="/app")


@bp.get("/")
@requires_actor()
def home(actor: Actor):
    if actor.can_manage and not request.args.get("as_learner"):
        return redirect(launch_url("manage.overview"), 303)
    if actor.role is Role.LEARNER and vision.needs_acknowledgement(actor):  # the front door only: deep links stay
        return redirect(launch_url("vision.page"), 303)
    return dashboard(actor)


def dashboard(actor: Actor):
    points = balances(actor.course_id, actor.user_id)
    return render_template(
        "learner/dashboard.html", actor=actor, points=points,
        progress=progress_of(actor.organisation_id, points.get("total", 0)),
        dimension_names=dimension_names(actor.organisation_id), awaiting=len(awaiting_me(actor)),
        badges=badges_of(actor.course_id, actor.user_id), board=summary(actor, utcnow()),
        mine=experiment_queries.mine(actor, limit=10), outcome_labels=OUTCOME_LABELS,
        recent=explanations(actor, limit=5),
    )


def _for_the_page(messages: dict) -> dict:
    """The schema's messages as the form shows them: a list left unchosen says so (marshmallow's words for the
    empty choice, "Length must be between 1 and 20." and "Not a valid integer.", are the JSON API's)."""
    choose = {"ai_tool": _("Choose an AI tool from the list, or Other."),
              "task_category": _("Choose a task category from the list.")}
    return {name: [choose[name]] if name in choose else said for name, said in messages.items()}


def _form(actor: Actor, values: dict | None = None, errors: dict | None = None, status: int = 200,
          short_reflection: bool = False):
    """short_reflection: the form came back for a reflection too short to earn points, with the box that saves it
    as it is."""
    values = values or {}
    values.setdefault("submission_key", secrets.token_urlsafe(16))
    return render_template(
        "learner/experiment_new.html", actor=actor, values=values, errors=errors or {},
        short_reflection=short_reflection,
        tools=items(actor.organisation_id, "tools"), categories=items(actor.organisation_id, "categories"),
        pillars=vision.pillars(actor.organisation_id), chosen_pillars=set((values or {}).get("pillars") or []),
        vision=vision.current(actor.organisation_id), min_reflection=limits(actor.organisation_id).min_reflection_chars,
    ), status


@bp.get("/experiments/new")
@requires_actor(Role.LEARNER, Role.MANAGER, Role.ADMIN)
def experiment_new(actor: Actor):
    return _form(actor)


@bp.post("/experiments")
@requires_actor(Role.LEARNER, Role.MANAGER, Role.ADMIN)
def experiment_create(actor: Actor):
    try:
        data = ExperimentIn().load_form(request.form)
        short = short_reflection(actor, data)
        if short is not None and not request.form.get("short_reflection_ok"):
            # Asked before saving, not said after: there is no editing an entry to add the reflection later.
            return _form(actor, _typed(), {"learned": [short]}, 422, short_reflection=True)
        logged = log_experiment(actor, data, utcnow(), edited_is_new=True)
    except ValidationError as err:
        return _form(actor, _typed(), _for_the_page(err.messages), 422)
    except InvalidInput as err:  # e.g. a list item an admin turned off meanwhile: keep what was typed
        return _form(actor, _typed(), err.errors or {"_schema": [err.message]}, 422)
    db.session.commit()
    notes = sorted({r.note for r in logged.recognitions if r.note in NOTES})
    return redirect(launch_url("learner.experiment_logged", experiment_id=logged.experiment.id,
                               n=",".join(notes) or None), 303)


def _typed() -> dict:
    return {**request.form.to_dict(), "pillars": request.form.getlist("pillars")}


@bp.get("/experiments/<id:experiment_id>/logged")
@requires_actor()
def experiment_logged(actor: Actor, experiment_id: int):
    row = experiment_queries.get_visible(actor, experiment_id)
    if row["experiment"].user_id != actor.user_id:
        return redirect(launch_url("learner.experiment_show", experiment_id=experiment_id), 303)
    return render_template(
        "learner/experiment_logged.html", actor=actor, row=row, outcome_labels=OUTCOME_LABELS,
        earned=points_for_source(actor.course_id, actor.user_id, "experiment", experiment_id),
        earned_for=earned_for(actor, "experiment", experiment_id),
        new_badges=awards_for_source(actor.course_id, actor.user_id, "experiment", experiment_id),
        points=balances(actor.course_id, actor.user_id),
        notes=[NOTES[c] for c in request.args.get("n", "").split(",") if c in NOTES and c != "duplicate"])


FEED_PAGE = 30  # entries per page of the library; one more is read to know whether an older page exists


@bp.get("/experiments")
@requires_actor()
def experiment_feed(actor: Actor):
    filters = {"q": request.args.get("q", "").strip()[:200], "category_id": query_id("category"),
               "tool_id": query_id("tool"), "outcome": request.args.get("outcome") or None}
    rows = experiment_queries.feed(actor, limit=FEED_PAGE + 1, before_id=query_id("before"), **filters)
    return render_template("learner/experiment_feed.html", actor=actor, rows=rows[:FEED_PAGE],
                           more=len(rows) > FEED_PAGE, outcome_labels=OUTCOME_LABELS,
                           filters=filters, tools=items(actor.organisation_id, "tools"),
                           categories=items(actor.organisation_id, "categories"))


@bp.get("/experiments/<id:experiment_id>")
@requires_actor()
def experiment_show(actor: Actor, experiment_id: int):
    return experiment_page(actor, experiment_id)


def experiment_page(actor: Actor, experiment_id: int, refused: str | None = None, errors: dict | None = None,
                    status: int = 200):
    """The post; `refused` names the form sent back with `errors` (report, hide), which keeps what was typed."""
    row = experiment_queries.get_visible(actor, experiment_id)
    return render_template("learner/experiment_show.html", actor=actor, row=row, outcome_labels=OUTCOME_LABELS,
                           reactions=community.reactions_summary(experiment_id), reaction_labels=REACTIONS,
                           mine=community.my_reactions(actor, experiment_id),
                           restorable=actor.can_manage and community.restorable(row["experiment"]),
                           pillar_tags=experiment_queries.pillar_names(actor, experiment_id),
                           coaching=experiment_queries.coaching_notes(actor, row), refused=refused,
                           errors=errors or {}), status

