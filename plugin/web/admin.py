"""Admin pages: the organisation's AI tool and task category lists."""
from __future__ import annotations

from flask import Blueprint, redirect, render_template, request

from plugin.catalog import service as catalog
from plugin.core.actor import Actor, Role
from plugin.extensions import db
from plugin.web.auth import launch_url, requires_actor

bp = Blueprint("admin", __name__, url_prefix="/app/admin")
LIST_TITLES = {"tools": "AI tools", "categories": "Task categories"}


@bp.get("/lists")
@requires_actor(Role.ADMIN)
def lists(actor: Actor):
    data = {kind: catalog.items(actor.organisation_id, kind, include_inactive=True) for kind in LIST_TITLES}
    return render_template("admin/lists.html", actor=actor, lists=data, titles=LIST_TITLES)


@bp.post("/lists/<kind>")
@requires_actor(Role.ADMIN)
def list_add(actor: Actor, kind: str):
    catalog.add_item(actor, kind, request.form.get("name", ""))
    db.session.commit()
    return redirect(launch_url("admin.lists"), 303)


@bp.post("/lists/<kind>/<int:item_id>")
@requires_actor(Role.ADMIN)
def list_update(actor: Actor, kind: str, item_id: int):
    action = request.form.get("action")
    if action == "rename":
        catalog.rename_item(actor, kind, item_id, request.form.get("name", ""))
    elif action in ("enable", "disable"):
        catalog.set_active(actor, kind, item_id, action == "enable")
    db.session.commit()
    return redirect(launch_url("admin.lists"), 303)
