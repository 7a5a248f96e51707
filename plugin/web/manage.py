"""Manager pages: the course's participation and shared experiments."""
from __future__ import annotations

import secrets

from flask import Blueprint, g, redirect, render_template, request
from marshmallow import ValidationError
from sqlalchemy import select

from plugin.badges import service as badges
from plugin.catalog.service import items
from plugin.community import service as community
from plugin.core.actor import Actor, Role
from plugin.core.clock import utcnow
from plugin.errors import Conflict, InvalidInput
from plugin.experiments import queries as experiment_queries
from plugin.experiments.service import OUTCOME_LABELS
from plugin.extensions import db
from plugin.insights.queries import participation
from plugin.levels.service import dimensions
from plugin.lti.ags import lineitems_url
from plugin.outbox import grades
from plugin.peer_help import service as peer_help
from plugin.recognition import service as recognition
from plugin.recognition.models import Kudos
from plugin.tenancy.models import Course
from plugin.tenancy.service import colleagues, members
from plugin.web.auth import launch_url, requires_actor
from plugin.web.boards import summary
from plugin.web.inputs import form_id, form_whole

bp = Blueprint("manage", __name__, url_prefix="/app/manage")


@bp.get("/")
@requires_actor(Role.MANAGER, Role.ADMIN)
def overview(actor: Actor):
    people = participation(actor)
    learners = [p for p in people if p.role == Role.LEARNER.value]
    return render_template(
        "manager/overview.html", actor=actor, people=people,
        started=sum(1 for p in learners if p.experiments), learners=len(learners),
        recent=experiment_queries.feed(actor, limit=10), board=summary(actor, utcnow()),
        outcome_labels=OUTCOME_LABELS, course=db.session.get(Course, actor.course_id),
    )


def _recognise_page(actor: Actor, errors: dict | None = None, values: dict | None = None, status: int = 200,
                    refused: str = "kudos", revoking: str | None = None):
    """refused: which of the page's forms (kudos, badge, revoke) came back with errors and keeps what was sent;
    revoking: the id of the revocation's reason box ("rk-<kudos id>", "rb-<award id>"), opened with the error."""
    now = utcnow()
    fresh = {"submission_key": secrets.token_urlsafe(16)}
    kudos_values, badge_values = (values or fresh, {}) if refused == "kudos" else (fresh, values or {})
    if refused == "revoke":
        kudos_values, badge_values = fresh, {}
    people = colleagues(actor.course_id, actor.user_id, (Role.LEARNER,))
    names = {u.id: u.display_name for u in members(actor.course_id)}
    recent = db.session.scalars(select(Kudos).where(Kudos.course_id == actor.course_id)
                                .order_by(Kudos.id.desc()).limit(20)).all()
    manual = badges.manual_badges(actor.organisation_id)
    return render_template(
        "manager/recognise.html", actor=actor, people=people, names=names, budget=recognition.budget(actor, now),
        max_points=recognition.MAX_KUDOS_POINTS,
        values_list=items(actor.organisation_id, "values"), dimensions=dimensions(actor.organisation_id),
        manual_badges=manual, recent=recent, awards=badges.course_awards(actor, limit=20), unrecognised=[names[u] for u in recognition.unrecognised(actor, now)],
        loops=peer_help.flagged_loops(actor), reports=community.open_reports(actor), errors=errors or {},
        kudos_errors=(errors or {}) if refused == "kudos" else {}, badge_errors=(errors or {}) if refused == "badge" else {},
        revoking=revoking, revoke_errors=(errors or {}) if refused == "revoke" else {},
        revoke_reason=(values or {}).get("reason", "") if refused == "revoke" else "",
        values=kudos_values, badge_values=badge_values), status


@bp.get("/recognise")
@requires_actor(Role.MANAGER, Role.ADMIN)
def recognise(actor: Actor):
    return _recognise_page(actor)


@bp.post("/kudos")
@requires_actor(Role.MANAGER, Role.ADMIN)
def kudos_give(actor: Actor):
    form = request.form
    try:
        recognition.give_kudos(actor, receiver_id=form_id(form, "receiver") or 0, message=form.get("message", ""),
                               points=form_whole(form, "points", high=recognition.MAX_KUDOS_POINTS) or 0, value_tag_id=form_id(form, "value_tag"),
                               dimension=form.get("dimension", "experimenting"),
                               submission_key=form.get("submission_key", ""), now=utcnow())
    except (InvalidInput, Conflict) as err:
        db.session.rollback()
        return _recognise_page(actor, err.form_errors(),
                               {**form.to_dict(), "submission_key": secrets.token_urlsafe(16)}, err.status)
    db.session.commit()
    return redirect(launch_url("manage.recognise", sent="kudos"), 303)


@bp.post("/kudos/<id:kudos_id>/revoke")
@requires_actor(Role.MANAGER, Role.ADMIN)
def kudos_revoke(actor: Actor, kudos_id: int):
    try:
        recognition.revoke_kudos(actor, kudos_id, request.form.get("reason", ""), utcnow())
    except InvalidInput as err:  # the reason: the page again, that kudos' box open with what was sent
        db.session.rollback()
        return _recognise_page(actor, err.form_errors(), request.form.to_dict(), err.status, refused="revoke",
                               revoking=f"rk-{kudos_id}")
    db.session.commit()
    return redirect(launch_url("manage.recognise", revoked="kudos"), 303)


@bp.post("/badges")
@requires_actor(Role.MANAGER, Role.ADMIN)
def badge_award(actor: Actor):
    form = request.form
    try:
        recognition.award_badge_manually(actor, receiver_id=form_id(form, "receiver") or 0,
                                         badge_id=form_id(form, "badge") or 0, comment=form.get("comment", ""),
                                         evidence_url=form.get("evidence_url") or None, now=utcnow())
    except (InvalidInput, Conflict) as err:
        db.session.rollback()
        return _recognise_page(actor, err.form_errors(), form.to_dict(), err.status, refused="badge")
    db.session.commit()
    return redirect(launch_url("manage.recognise", sent="badge"), 303)


@bp.post("/badges/<id:award_id>/revoke")
@requires_actor(Role.MANAGER, Role.ADMIN)
def badge_revoke(actor: Actor, award_id: int):
    try:
        recognition.revoke_badge(actor, award_id, request.form.get("reason", ""), utcnow())
    except InvalidInput as err:
        db.session.rollback()
        return _recognise_page(actor, err.form_errors(), request.form.to_dict(), err.status, refused="revoke",
                               revoking=f"rb-{award_id}")
    db.session.commit()
    return redirect(launch_url("manage.recognise", revoked="badge"), 303)


def _grades_page(actor: Actor, errors: dict | None = None, status: int = 200):
    names = {u.id: u.display_name for u in members(actor.course_id)}
    return render_template("manager/grades.html", actor=actor, sync=grades.settings(actor.course_id),
                           offered=lineitems_url(g.launch.services) is not None, modes=grades.MODES,
                           deliveries=grades.deliveries(actor), names=names, errors=errors or {}), status


@bp.get("/grades")
@requires_actor(Role.MANAGER, Role.ADMIN)
def grades_status(actor: Actor):
    return _grades_page(actor)


@bp.post("/grades/retry")
@requires_actor(Role.MANAGER, Role.ADMIN)
def grades_retry(actor: Actor):
    count = grades.retry_failed_deliveries(actor, utcnow())
    db.session.commit()
    return redirect(launch_url("manage.grades_status", retried=count), 303)


@bp.post("/grades")
@requires_actor(Role.MANAGER, Role.ADMIN)
def grades_configure(actor: Actor):
    try:
        data = grades.GradeSyncIn().load({"enabled": request.form.get("enabled") == "on",
                                          "mode": request.form.get("mode", "points")})
    except ValidationError as err:  # a mode the form does not offer (sent by hand): said on the page, by the choices
        return _grades_page(actor, err.messages, 422)
    try:
        grades.configure(actor, data, lineitems_url(g.launch.services), utcnow())
    except InvalidInput as err:
        db.session.rollback()
        return _grades_page(actor, err.form_errors(), err.status)
    db.session.commit()
    return redirect(launch_url("manage.grades_status", saved=1), 303)
