"""The AI vision page: everyone reads it, learners acknowledge it, admins write it."""
from __future__ import annotations

from flask import Blueprint, redirect, render_template, request
from marshmallow import ValidationError

from plugin.catalog.service import items
from plugin.core.actor import Actor, Role
from plugin.core.clock import utcnow
from plugin.errors import Conflict, InvalidInput
from plugin.extensions import db
from plugin.field_messages import field_words
from plugin.i18n import gettext as _
from plugin.vision import service as vision
from plugin.vision.render import render_markdown
from plugin.vision.schemas import MAX_PILLARS, VisionIn
from plugin.web.auth import launch_url, requires_actor

bp = Blueprint("vision", __name__, url_prefix="/app/vision")


@bp.get("/")
@requires_actor()
def page(actor: Actor):
    return render_template("vision/vision_show.html", actor=actor, view=vision.current(actor.organisation_id),
                           md=render_markdown, acked=vision.acknowledged_version(actor),
                           changed=request.args.get("changed"))


@bp.post("/acknowledge")
@requires_actor()
def acknowledge(actor: Actor):
    try:
        vision.acknowledge(actor, request.form.get("version", type=int) or 0, utcnow())
    except Conflict:
        db.session.rollback()
        return redirect(launch_url("vision.page", changed=1), 303)
    db.session.commit()
    return redirect(launch_url("learner.home"), 303)


def _edit_page(actor: Actor, values: dict | None = None, errors: dict | None = None, status: int = 200):
    view = vision.current(actor.organisation_id)
    policies = vision.tool_policies(actor.organisation_id)
    return render_template(
        "vision/vision_edit.html", actor=actor, view=view, errors=errors or {}, values=values,
        pillar_rows=(view.pillars + [None] * MAX_PILLARS)[:MAX_PILLARS], policies=policies,
        tools=items(actor.organisation_id, "tools")), status


@bp.get("/edit")
@requires_actor(Role.ADMIN)
def edit(actor: Actor):
    return _edit_page(actor)


@bp.post("/edit")
@requires_actor(Role.ADMIN)
def save(actor: Actor):
    try:
        vision.save_vision(actor, VisionIn().load_form(request.form), utcnow())
    except ValidationError as err:
        db.session.rollback()
        return _edit_page(actor, request.form, _flat(err.messages), 422)
    except InvalidInput as err:
        db.session.rollback()
        return _edit_page(actor, request.form, err.errors or {"_": [err.message]}, 422)
    db.session.commit()
    return redirect(launch_url("vision.edit", saved=1), 303)


def _flat(messages: dict) -> dict:
    """Nested list errors (pillars.2.name) flattened to one message per top-level field."""
    out = {}
    for name, msgs in messages.items():
        if isinstance(msgs, dict):
            problems = "; ".join(field_words(msgs))  # in the page's language, as every field message
            out[name] = [_("Check the rows: %(problems)s", problems=problems)]
        else:
            out[name] = msgs
    return out
