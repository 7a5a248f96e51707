"""Linked accounts: one person, several LMSs of the organisation (show a code here, type it in the other LMS)."""
from __future__ import annotations

from flask import Blueprint, make_response, redirect, render_template, request

from plugin.core.actor import Actor
from plugin.core.clock import utcnow
from plugin.errors import Conflict, InvalidInput, RateLimited
from plugin.extensions import db
from plugin.identity import service as linking
from plugin.web.auth import launch_url, requires_actor

bp = Blueprint("accounts", __name__, url_prefix="/app/linked-accounts")


def _page(actor: Actor, *, code: linking.IssuedCode | None = None, errors: dict | None = None,
          hint: str | None = None, status: int = 200):
    response = make_response(render_template(
        "learner/linked_accounts.html", actor=actor, accounts=linking.linked_accounts(actor), code=code,
        errors=errors or {}, hint=hint, minutes=int(linking.CODE_TTL.total_seconds() // 60), linked=request.args.get("linked"), unlinked=request.args.get("unlinked")), status)
    response.headers["Cache-Control"] = "no-store"  # the code is shown once
    return response


@bp.get("/")
@requires_actor()
def page(actor: Actor):
    return _page(actor)


@bp.post("/code")
@requires_actor()
def show_code(actor: Actor):
    code = linking.issue_code(actor, utcnow())
    db.session.commit()
    return _page(actor, code=code)


@bp.post("/link")
@requires_actor()
def link(actor: Actor):
    try:
        linking.redeem_code(actor, request.form.get("code", ""), utcnow())
    except linking.LinkRefused as err:
        db.session.commit()  # a wrong code counts against this account's tries
        return _page(actor, errors=err.form_errors(), hint=err.hint, status=err.status)
    except (InvalidInput, RateLimited, Conflict) as err:  # Conflict: already linked (by another tab, say)
        db.session.rollback()
        return _page(actor, errors=err.form_errors(), status=err.status)
    db.session.commit()
    return redirect(launch_url("accounts.page", linked=1), 303)


@bp.post("/unlink/<id:user_id>")
@requires_actor()
def unlink(actor: Actor, user_id: int):
    linking.unlink(actor, user_id, utcnow())
    db.session.commit()
    return redirect(launch_url("accounts.page", unlinked=1), 303)
