"""Admin page: issue (shown once), list and revoke the organisation's API tokens."""
from __future__ import annotations

import secrets

from flask import Blueprint, redirect, render_template, request

from plugin.core.actor import Actor, Role
from plugin.core.clock import utcnow
from plugin.errors import InvalidInput
from plugin.extensions import db
from plugin.tokens import service as tokens
from plugin.web.auth import launch_url, requires_actor

bp = Blueprint("admin_tokens", __name__, url_prefix="/app/admin/api-tokens")


def _page(actor: Actor, *, issued: tokens.Issued | None = None, errors: dict | None = None, status: int = 200):
    # The form's key: a new one for each form shown, the one sent when the form comes back with its errors.
    key = request.form.get("submission_key", "")[:64] if errors else secrets.token_urlsafe(16)
    return render_template("admin/api_tokens.html", actor=actor, tokens=tokens.tokens(actor), scopes=tokens.SCOPES,
                           issued=issued, errors=errors, now=utcnow(), max_days=tokens.MAX_DAYS,
                           submission_key=key), status


@bp.get("/")
@requires_actor(Role.ADMIN)
def index(actor: Actor):
    return _page(actor)


@bp.post("/")
@requires_actor(Role.ADMIN)
def issue(actor: Actor):
    try:
        issued = tokens.issue(actor.organisation_id, request.form.get("name", ""), request.form.getlist("scopes"),
                              request.form.get("days", type=int) or 0, utcnow(), actor=actor,
                              submission_key=request.form.get("submission_key", "")[:64] or None)
    except InvalidInput as err:
        return _page(actor, errors=err.form_errors(), status=422)
    db.session.commit()
    # The secret is rendered once in this response (never in a URL, never stored): no redirect here.
    return _page(actor, issued=issued, status=201)


@bp.post("/<id:token_id>/revoke")
@requires_actor(Role.ADMIN)
def revoke(actor: Actor, token_id: int):
    tokens.revoke(actor.organisation_id, token_id, utcnow(), actor=actor)
    db.session.commit()
    return redirect(launch_url("admin_tokens.index"), 303)
