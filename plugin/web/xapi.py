"""xAPI pages: the admin's LRS settings and statement status; Tinker's own xAPI terms served at their IRIs."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, jsonify, redirect, render_template, request
from marshmallow import ValidationError

from plugin.core.actor import Actor, Role
from plugin.core.clock import utcnow
from plugin.errors import InvalidInput
from plugin.extensions import db
from plugin.web.auth import launch_url, requires_actor
from plugin.xapi import service as xapi
from plugin.xapi.statements import LANG, TINKER_TERMS, iri

bp = Blueprint("admin_xapi", __name__, url_prefix="/app/admin/xapi")
vocabulary = Blueprint("xapi_vocabulary", __name__, url_prefix="/xapi")
FIELD_IDS = {"enabled": "x-enabled", "endpoint": "x-endpoint", "key": "x-key", "secret": "x-secret"}


def _page(actor: Actor, errors: dict | None = None, values: dict | None = None, status: int = 200):
    row = xapi.settings(actor.organisation_id)
    shown = values or {"enabled": bool(row and row.enabled), "endpoint": row.endpoint if row else "",
                       "key": row.key if row else "", "send_email": bool(row and row.send_email)}
    return render_template("admin/xapi.html", actor=actor, setting=row, values=shown, has_secret=bool(row and row.secret_encrypted),
                           sent=xapi.recent(actor), counts=xapi.counts(actor), errors=errors or {}, ids=FIELD_IDS,
                           vocabulary_url=f"{current_app.config['TINKER_BASE_URL']}/xapi/"), status


@bp.get("")
@requires_actor(Role.ADMIN)
def page(actor: Actor):
    return _page(actor)


@bp.post("/settings")
@requires_actor(Role.ADMIN)
def save(actor: Actor):
    form = {"enabled": request.form.get("enabled") == "on", "send_email": request.form.get("send_email") == "on",
            "endpoint": request.form.get("endpoint", ""), "key": request.form.get("key", ""),
            "secret": request.form.get("secret", "")}
    values = {k: v for k, v in form.items() if k != "secret"}
    try:
        xapi.update_settings(actor, xapi.XIn().load(form), utcnow())
    except ValidationError as err:
        db.session.rollback()
        return _page(actor, err.messages, values, 422)
    except InvalidInput as err:
        db.session.rollback()
        return _page(actor, err.form_errors(), values, err.status)
    db.session.commit()
    return redirect(launch_url("admin_xapi.page", saved=1), 303)


@bp.post("/test")
@requires_actor(Role.ADMIN)
def send_test(actor: Actor):
    try:
        xapi.send_test(actor, utcnow())
    except InvalidInput as err:
        db.session.rollback()
        return _page(actor, err.form_errors(), None, err.status)
    db.session.commit()
    return redirect(launch_url("admin_xapi.page", tested=1), 303)


@bp.post("/retry")
@requires_actor(Role.ADMIN)
def retry(actor: Actor):
    count = xapi.retry_failed(actor, utcnow())
    db.session.commit()
    return redirect(launch_url("admin_xapi.page", requeued=count), 303)


def _term(term: str) -> dict:
    base = current_app.config["TINKER_BASE_URL"]
    display, description = TINKER_TERMS[term]
    return {"id": iri(base, term), "name": {LANG: display}, "description": {LANG: description}}


@vocabulary.get("/")
def terms():
    """Every Tinker verb, activity type and extension IRI, with its meaning (docs/xapi.md says more)."""
    response = jsonify({"terms": [_term(term) for term in TINKER_TERMS]})
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


@vocabulary.get("/<path:term>")
def term(term: str):
    """A Tinker IRI resolves to its metadata (xAPI: name and description as language maps)."""
    if term not in TINKER_TERMS:
        abort(404)
    response = jsonify(_term(term))
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response
