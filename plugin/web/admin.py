"""Admin pages: the organisation's AI tool and task category lists."""
from __future__ import annotations

from flask import Blueprint, Response, current_app, redirect, render_template, request
from marshmallow import ValidationError

from plugin.audit.details import details_view
from plugin.audit.service import action_label, entries, record
from plugin.badges import service as badges
from plugin.badges.images import MAX_BYTES as MAX_IMAGE_BYTES
from plugin.catalog import service as catalog
from plugin.core.actor import Actor, Role
from plugin.core.clock import utcnow
from plugin.errors import Conflict, InvalidInput
from plugin.extensions import db
from plugin.i18n import gettext as _
from plugin.i18n import lazy_gettext as _l
from plugin.leaderboards import service as boards
from plugin.levels import service as levels
from plugin.settings import service as settings
from plugin.tenancy.models import User
from plugin.web.auth import launch_url, requires_actor
from plugin.web.inputs import form_id, form_ids, form_whole, query_id

bp = Blueprint("admin", __name__, url_prefix="/app/admin")
# Each list's heading and its add field's label, whole (Turkish cannot lower-case a heading into a phrase).
LIST_TITLES = {"tools": _l("AI tools"), "categories": _l("Task categories"), "values": _l("Values (for kudos)")}
ADD_LABELS = {"tools": _l("Add an AI tool"), "categories": _l("Add a task category"),
              "values": _l("Add a value")}


@bp.get("/lists")
@requires_actor(Role.ADMIN)
def lists(actor: Actor):
    return _lists_page(actor)


def _lists_page(actor: Actor, err: InvalidInput | Conflict | None = None, field: str | None = None):
    """The page; sent back refused, `field` ("new-tools", "tools-12") is the box sent: it keeps what the admin typed,
    with the message by it (a name refused was an error page, the form and what was typed gone)."""
    data = {kind: catalog.items(actor.organisation_id, kind, include_inactive=True) for kind in LIST_TITLES}
    return render_template("admin/lists.html", actor=actor, lists=data, titles=LIST_TITLES, add_labels=ADD_LABELS,
                           errors=err.form_errors() if err else {}, refused=field,
                           typed=request.form.get("name", "") if err else None), err.status if err else 200


@bp.post("/lists/<kind>")
@requires_actor(Role.ADMIN)
def list_add(actor: Actor, kind: str):
    try:
        catalog.add_item(actor, kind, request.form.get("name", ""))
    except (InvalidInput, Conflict) as err:
        db.session.rollback()
        return _lists_page(actor, err, f"new-{kind}")
    db.session.commit()
    return redirect(launch_url("admin.lists", saved=1), 303)


@bp.post("/lists/<kind>/<id:item_id>")
@requires_actor(Role.ADMIN)
def list_update(actor: Actor, kind: str, item_id: int):
    action = request.form.get("action")
    try:
        if action == "rename":
            catalog.rename_item(actor, kind, item_id, request.form.get("name", ""))
        elif action in ("enable", "disable"):
            catalog.set_active(actor, kind, item_id, action == "enable")
    except (InvalidInput, Conflict) as err:
        db.session.rollback()
        return _lists_page(actor, err, f"{kind}-{item_id}")
    db.session.commit()
    return redirect(launch_url("admin.lists", saved=1), 303)


@bp.get("/scoring")
@requires_actor(Role.ADMIN)
def scoring(actor: Actor):
    return _scoring_page(actor)


def _scoring_page(actor: Actor, errors: dict | None = None, status: int = 200, sent_limits: dict | None = None,
                  sent: str | None = None):
    """The page; sent back with errors, the form sent (`sent`: limits, levels or dimensions) shows what the admin
    typed, not the stored values."""
    stored = settings.limits(actor.organisation_id)
    limits = {name: getattr(stored, name) for name in settings.LIMIT_FIELDS} | (sent_limits or {})
    ladder = levels.ladder(actor.organisation_id)
    if sent == "levels":
        ladder = [{"name": n, "threshold": t} for n, t in zip(request.form.getlist("level_name"),
                                                                request.form.getlist("level_threshold"))
                  if n.strip() or t.strip()]
    return render_template("admin/scoring.html", actor=actor, dimensions=levels.dimensions(actor.organisation_id),
                           ladder=ladder, limits=limits, sent=sent, typed=request.form if sent else {},
                           time_zones=settings.time_zone_choices(), time_zone=settings.time_zone_name(actor.organisation_id),
                           errors=errors or {}), status


@bp.post("/time-zone")
@requires_actor(Role.ADMIN)
def time_zone_save(actor: Actor):
    try:
        boards.change_time_zone(actor, request.form.get("time_zone", ""), utcnow())
    except InvalidInput as err:
        db.session.rollback()
        return _scoring_page(actor, err.form_errors(), err.status)
    db.session.commit()
    return redirect(launch_url("admin.scoring", saved="time_zone"), 303)


@bp.post("/scoring/<part>")
@requires_actor(Role.ADMIN)
def scoring_save(actor: Actor, part: str):
    now = utcnow()
    try:
        if part == "limits":
            settings.update_limits(actor, settings.LimitsIn().load(
                {k: v for k, v in request.form.items() if k in settings.LIMIT_FIELDS}), now)
        elif part == "levels":
            names, thresholds = request.form.getlist("level_name"), request.form.getlist("level_threshold")
            # A row with both boxes cleared is a level taken off (the empty row is one to add); a row with one of
            # them is refused, not dropped (a name cleared by mistake took its level off, its learners down a level,
            # under "Saved."), as is a threshold that is no whole number from 0 to 2**31-1 ("²", 99999999999).
            rows = [(n, t) for n, t in zip(names, thresholds) if n.strip() or t.strip()]
            if any(not (n.strip() and t.strip()) for n, t in rows):
                raise InvalidInput(_("Give each level a name and a threshold; to take a level off, clear both."),
                                   errors={"levels": [_("A name and a threshold for each level.")]})
            steps = [(n, form_whole({"levels": t}, "levels")) for n, t in rows]
            levels.set_levels(actor, steps, now)
            record(actor, "levels.changed", "organisation", actor.organisation_id, {"levels": steps}, now,
                   course_scoped=False)
        elif part == "dimensions":
            dimension = levels.add_dimension(actor, request.form.get("name", ""), request.form.get("description", ""))
            record(actor, "dimension.added", "dimension", dimension.id, {"name": dimension.name}, now,
                   course_scoped=False)
    except ValidationError as err:
        db.session.rollback()
        sent = {k: v for k, v in request.form.items() if k in settings.LIMIT_FIELDS} if part == "limits" else None
        return _scoring_page(actor, err.messages, 422, sent, part)
    except (InvalidInput, Conflict) as err:
        db.session.rollback()
        return _scoring_page(actor, err.form_errors(), err.status, sent=part)
    db.session.commit()
    return redirect(launch_url("admin.scoring", saved=part), 303)


@bp.get("/badges")
@requires_actor(Role.ADMIN)
def badge_list(actor: Actor):
    return _badges_page(actor)


def _badges_page(actor: Actor, errors: dict | None = None, status: int = 200, sent_for: str | None = None):
    """The page; sent back with errors, `sent_for` names the form sent ("issuer", "b<id>", "bnew"): it keeps what
    the admin typed, opened, with each message by its field."""
    from plugin.badges.openbadges import aligned_ids, issuer_of
    from plugin.vision.service import pillars

    return render_template("admin/badges.html", actor=actor, badges=badges.all_badges(actor.organisation_id),
                           issuer=issuer_of(actor.organisation_id, current_app.config["TINKER_BASE_URL"]),
                           pillars=pillars(actor.organisation_id, include_inactive=True),
                           aligned=aligned_ids(actor.organisation_id), errors=errors or {}, sent_for=sent_for), status


@bp.post("/badges/issuer")
@requires_actor(Role.ADMIN)
def badge_issuer_save(actor: Actor):
    from plugin.badges.openbadges import save_issuer
    from plugin.badges.schemas import IssuerIn

    try:
        save_issuer(actor, IssuerIn().load(request.form), utcnow(), image=_upload(),
                    remove_image=request.form.get("remove_image") == "on")
    except ValidationError as err:
        db.session.rollback()
        return _badges_page(actor, err.messages, 422, "issuer")
    except InvalidInput as err:
        db.session.rollback()
        return _badges_page(actor, err.form_errors(), err.status, "issuer")
    db.session.commit()
    return redirect(launch_url("admin.badge_list", saved=1), 303)


@bp.get("/badges/export.csv")
@requires_actor(Role.ADMIN)
def badge_export(actor: Actor):
    from plugin.badges.export import export_for
    from plugin.badges.openbadges import Urls

    body = export_for(actor, Urls(current_app.config["TINKER_BASE_URL"]))
    return Response(body, mimetype="text/csv", headers={
        "Content-Disposition": 'attachment; filename="badge-awards.csv"', "Cache-Control": "no-store"})


@bp.post("/badges")
@requires_actor(Role.ADMIN)
def badge_save(actor: Actor):
    try:
        badges.save_badge(actor, form_id(request.form, "badge_id"), name=request.form.get("name", ""),
                          description=request.form.get("description", ""), criteria=request.form.get("criteria", ""),
                          colour=request.form.get("colour", "#3b5bdb"), manual=request.form.get("manual") == "on",
                          active=request.form.get("active") == "on", now=utcnow(),
                          image=_upload(), remove_image=request.form.get("remove_image") == "on",
                          pillar_ids=form_ids(request.form, "pillar"))
    except (InvalidInput, Conflict) as err:
        db.session.rollback()
        return _badges_page(actor, err.form_errors(), err.status, f"b{form_id(request.form, 'badge_id') or 'new'}")
    db.session.commit()
    return redirect(launch_url("admin.badge_list", saved=1), 303)


def _upload() -> tuple[bytes, str] | None:
    upload = request.files.get("image")
    if upload is None or not upload.filename:
        return None
    return upload.read(MAX_IMAGE_BYTES + 1), upload.filename


AUDIT_PAGE = 100


@bp.get("/audit")
@requires_actor(Role.ADMIN)
def audit_log(actor: Actor):
    events = entries(actor, AUDIT_PAGE + 1, before_id=query_id("before"))
    older = len(events) > AUDIT_PAGE
    events = events[:AUDIT_PAGE]
    names = {u.id: u.display_name for u in db.session.scalars(
        db.select(User).where(User.id.in_({e.actor_user_id for e in events if e.actor_user_id})))}
    return render_template("admin/audit.html", actor=actor, events=events, names=names, action_label=action_label,
                           details_view=details_view, older=older)
