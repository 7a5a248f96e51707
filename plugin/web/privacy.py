"""My data (anyone: their own export, JSON or CSV) and the admin's Privacy page (erasure, retention)."""
from __future__ import annotations

from flask import Blueprint, Response, redirect, render_template, request
from marshmallow import ValidationError

from plugin.core.actor import Actor, Role
from plugin.core.clock import utcnow
from plugin.errors import InvalidInput
from plugin.extensions import db
from plugin.privacy import service as privacy
from plugin.privacy.erase import POLICY
from plugin.web.auth import launch_url, requires_actor

bp = Blueprint("privacy", __name__, url_prefix="/app")
DOWNLOADS = {"json": ("application/json", "json"), "csv": ("application/zip", "zip")}


@bp.get("/my-data")
@requires_actor()
def my_data(actor: Actor):
    return render_template("learner/my_data.html", actor=actor)


@bp.get("/my-data/tinker-data.<fmt>")
@requires_actor()
def download(actor: Actor, fmt: str):
    if fmt not in ("json", "zip"):
        return redirect(launch_url("privacy.my_data"), 303)
    now = utcnow()
    kind = "json" if fmt == "json" else "csv"
    data = privacy.my_data(actor, kind, now)
    db.session.commit()
    body = privacy.as_json(data, now) if kind == "json" else privacy.as_csv_zip(data, now)
    mimetype, ext = DOWNLOADS[kind]
    return Response(body, mimetype=mimetype, headers={
        "Content-Disposition": f'attachment; filename="tinker-my-data-{now:%Y%m%d}.{ext}"', "Cache-Control": "no-store"})


@bp.get("/admin/privacy")
@requires_actor(Role.ADMIN)
def admin(actor: Actor):
    return _admin_page(actor)


def _admin_page(actor: Actor, errors: dict | None = None, status: int = 200, days_value=None):
    search = request.args.get("q", "").strip()[:100]
    days = privacy.retention(actor)
    # `days` is the saved period (the "Currently" line); `typed` what a refused form had, shown back in the field.
    return render_template("admin/privacy.html", actor=actor, search=search, people=privacy.find_people(actor, search),
                           days=days, typed=days_value, errors=errors or {}), status


@bp.post("/admin/privacy/retention")
@requires_actor(Role.ADMIN)
def retention_save(actor: Actor):
    try:
        privacy.change_retention(actor, request.form, utcnow())
    except ValidationError as err:
        db.session.rollback()
        return _admin_page(actor, err.messages, 422, days_value=request.form.get("days", ""))
    db.session.commit()
    return redirect(launch_url("privacy.admin", saved="retention"), 303)


@bp.get("/admin/privacy/erase/<id:user_id>")
@requires_actor(Role.ADMIN)
def erase_confirm(actor: Actor, user_id: int):
    return _confirm_page(actor, user_id)


def _confirm_page(actor: Actor, user_id: int, errors: dict | None = None, status: int = 200):
    person, counts = privacy.erase_preview(actor, user_id)
    return render_template("admin/privacy_erase.html", actor=actor, person=person, counts=counts, policy=POLICY,
                           confirm_word=privacy.CONFIRM_WORD, errors=errors or {}), status


@bp.post("/admin/privacy/erase/<id:user_id>")
@requires_actor(Role.ADMIN)
def erase(actor: Actor, user_id: int):
    try:
        result = privacy.erase(actor, user_id, request.form.get("confirm", ""), utcnow())
    except InvalidInput as err:
        db.session.rollback()
        return _confirm_page(actor, user_id, err.form_errors(), err.status)
    db.session.commit()
    return redirect(launch_url("privacy.admin", erased=result.pseudonym), 303)
