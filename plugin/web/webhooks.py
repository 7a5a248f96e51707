"""Admin page: the organisation's webhook endpoints (secret shown once) and the deliveries' status."""
from __future__ import annotations

from flask import Blueprint, redirect, render_template, request
from marshmallow import ValidationError

from plugin.core.actor import Actor, Role
from plugin.core.clock import utcnow
from plugin.errors import InvalidInput
from plugin.extensions import db
from plugin.web.auth import launch_url, requires_actor
from plugin.web.inputs import form_id
from plugin.webhooks import service as webhooks

bp = Blueprint("admin_webhooks", __name__, url_prefix="/app/admin/webhooks")
FIELD_IDS = {"url": "wh-url", "events": "wh-event-0", "description": "wh-description"}


def _page(actor: Actor, *, secret: str | None = None, errors: dict | None = None, values: dict | None = None,
          status: int = 200, rotated=None):
    return render_template("admin/webhooks.html", actor=actor, endpoints=webhooks.endpoints(actor), rotated=rotated,
                           rotated_until=rotated and webhooks.previous_signs_until(rotated),
                           events=webhooks.EVENTS, deliveries=webhooks.recent(actor), counts=webhooks.counts(actor),
                           secret=secret, errors=errors or {}, ids=FIELD_IDS,
                           values=values or {"url": "", "description": "", "events": ["badge.earned"]}), status


@bp.get("")
@requires_actor(Role.ADMIN)
def page(actor: Actor):
    return _page(actor)


@bp.post("")
@requires_actor(Role.ADMIN)
def create(actor: Actor):
    form = {"url": request.form.get("url", ""), "description": request.form.get("description", ""),
            "events": request.form.getlist("events")}
    try:
        _, secret = webhooks.create_endpoint(actor, webhooks.WebhookIn().load(form), utcnow())
    except ValidationError as err:
        db.session.rollback()
        return _page(actor, errors=err.messages, values=form, status=422)
    except InvalidInput as err:
        db.session.rollback()
        return _page(actor, errors=err.form_errors(), values=form, status=err.status)
    db.session.commit()
    # The secret is rendered once in this response (never in a URL, never stored in clear): no redirect here.
    return _page(actor, secret=secret, status=201)


@bp.post("/<id:endpoint_id>/active")
@requires_actor(Role.ADMIN)
def set_active(actor: Actor, endpoint_id: int):
    webhooks.set_active(actor, endpoint_id, request.form.get("active") == "on", utcnow())
    db.session.commit()
    return redirect(launch_url("admin_webhooks.page", saved=1), 303)


@bp.post("/<id:endpoint_id>/rotate")
@requires_actor(Role.ADMIN)
def rotate(actor: Actor, endpoint_id: int):
    endpoint, secret = webhooks.rotate_secret(actor, endpoint_id, utcnow())
    db.session.commit()
    # Shown once in this response, as a new endpoint's: no redirect.
    return _page(actor, secret=secret, rotated=endpoint)


@bp.post("/<id:endpoint_id>/delete")
@requires_actor(Role.ADMIN)
def delete(actor: Actor, endpoint_id: int):
    webhooks.delete_endpoint(actor, endpoint_id, utcnow())
    db.session.commit()
    return redirect(launch_url("admin_webhooks.page", deleted=1), 303)


@bp.post("/resend")
@requires_actor(Role.ADMIN)
def resend(actor: Actor):
    count = webhooks.resend(actor, utcnow(), form_id(request.form, "delivery"))
    db.session.commit()
    return redirect(launch_url("admin_webhooks.page", requeued=count), 303)
