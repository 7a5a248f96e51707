"""Learner pages for recognition: my points, level and the why behind each; peer help."""
from __future__ import annotations

import secrets

from flask import Blueprint, redirect, render_template, request

from plugin.badges.service import badges_of, linked_badges
from plugin.core.actor import Actor, Role
from plugin.core.clock import utcnow
from plugin.errors import InvalidInput
from plugin.experiments.queries import feed
from plugin.extensions import db
from plugin.ledger.service import balances
from plugin.levels.service import dimensions, progress_of
from plugin.peer_help import service as peer_help
from plugin.recognition.history import explanations
from plugin.tenancy.service import colleagues, members
from plugin.web.auth import launch_url, requires_actor
from plugin.web.inputs import form_id

bp = Blueprint("recognition", __name__, url_prefix="/app")


@bp.get("/recognition")
@requires_actor()
def mine(actor: Actor):
    points = balances(actor.course_id, actor.user_id)
    return render_template("learner/recognition.html", actor=actor, points=points,
                           progress=progress_of(actor.organisation_id, points.get("total", 0)),
                           dimensions=dimensions(actor.organisation_id),
                           badges=badges_of(actor.course_id, actor.user_id), why=explanations(actor, linked=True),
                           linked_badges=linked_badges(actor.organisation_id, actor.user_id))


def _help_page(actor: Actor, errors: dict | None = None, values: dict | None = None, status: int = 200):
    values = dict(values or {})
    values.setdefault("submission_key", secrets.token_urlsafe(16))  # kept when the form comes back with errors
    people = colleagues(actor.course_id, actor.user_id, (Role.LEARNER, Role.MANAGER, Role.ADMIN))
    names = {u.id: u.display_name for u in members(actor.course_id)}
    return render_template("learner/help.html", actor=actor, people=people, names=names,
                           experiments=feed(actor, limit=50), awaiting=peer_help.awaiting_me(actor),
                           history=peer_help.mine(actor), errors=errors or {}, values=values), status


@bp.get("/help")
@requires_actor()
def help_page(actor: Actor):
    return _help_page(actor)


@bp.post("/help")
@requires_actor(Role.LEARNER, Role.MANAGER, Role.ADMIN)
def help_record(actor: Actor):
    try:
        peer_help.record_help(actor, other_user_id=form_id(request.form, "other") or 0,
                              direction=request.form.get("direction", ""),
                              description=request.form.get("description", ""), now=utcnow(),
                              experiment_id=form_id(request.form, "experiment"),
                              submission_key=request.form.get("submission_key", "")[:64] or None)
    except InvalidInput as err:
        return _help_page(actor, err.form_errors(), request.form.to_dict(), 422)
    db.session.commit()
    return redirect(launch_url("recognition.help_page", saved=1), 303)


@bp.post("/help/<id:help_id>/<any(confirm, decline):answer>")
@requires_actor(Role.LEARNER, Role.MANAGER, Role.ADMIN)
def help_answer(actor: Actor, help_id: int, answer: str):
    if answer == "confirm":
        peer_help.confirm_help(actor, help_id, utcnow())
    else:
        peer_help.decline_help(actor, help_id, utcnow())
    db.session.commit()
    return redirect(launch_url("recognition.help_page", answered=answer), 303)
