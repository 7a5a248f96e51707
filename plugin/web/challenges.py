"""Challenge pages: the course's challenges and their boards, sandbox missions and evidence, and the
managers' (and AI champions') review queue."""
from __future__ import annotations

import secrets
from datetime import datetime, timezone
from io import BytesIO
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from flask import Blueprint, redirect, render_template, request, send_file
from marshmallow import ValidationError

from plugin.badges.service import all_badges, manual_badges
from plugin.catalog.service import items
from plugin.challenges import missions, queries
from plugin.challenges import service as challenges
from plugin.challenges.models import ACCEPTED, RETURNED, SUBMITTED
from plugin.challenges.schemas import CancelIn, ChallengeIn, EvidenceIn, ReviewIn
from plugin.core.actor import Actor, Role
from plugin.core.clock import utcnow
from plugin.errors import Conflict, Forbidden, InvalidInput
from plugin.extensions import db
from plugin.i18n import current_locale
from plugin.i18n import gettext as _
from plugin.onboarding.names import seeded
from plugin.tenancy.service import members
from plugin.web.auth import launch_url, requires_actor

bp = Blueprint("challenges", __name__, url_prefix="/app/challenges")
STAFF = (Role.MANAGER, Role.ADMIN)
FORM_TIME = "%Y-%m-%dT%H:%M"


def _local(moment: datetime, tz: ZoneInfo) -> datetime:
    """A stored UTC time in the organisation's zone; in UTC if the zone would push it past datetime's range
    (a date saved near year 1 or 9999 before the form limited the years)."""
    try:
        return moment.astimezone(tz)
    except (OverflowError, ValueError):
        return moment.astimezone(timezone.utc)


def _clock(actor: Actor):
    """Show stored UTC times in the organisation's zone."""
    tz = challenges.zone(actor.organisation_id)
    # No zone abbreviation per time ("UTC", "TSİ", "+0100" depend on zone and language): pages name the zone once.
    return lambda moment: format_datetime(_local(moment, tz), "d MMM y, HH:mm", locale=current_locale())


def _badges(actor: Actor) -> dict:
    """Completion badges by id, retired ones too: a challenge keeps the badge it was given."""
    return {b.id: b for b in all_badges(actor.organisation_id)}


def _names(actor: Actor) -> dict[int, str]:
    return {u.id: u.display_name for u in members(actor.course_id)}


@bp.get("/")
@requires_actor()
def index(actor: Actor):
    now = utcnow()
    return render_template("challenges/challenge_list.html", actor=actor, cards=queries.cards(actor, now),
                           when=_clock(actor), teams=queries.team_names(actor.course_id),
                           reviewer=actor.can_manage or missions.champions_missions(actor),
                           waiting=len(missions.review_queue(actor)), badges=_badges(actor),
                           zone=challenges.zone(actor.organisation_id).key)


def _show(actor: Actor, challenge_id: int, errors: dict | None = None, values: dict | None = None,
          status: int = 200):
    challenge = challenges.get_challenge(actor, challenge_id)
    now = utcnow()
    tools = {t.id: t.name for t in items(actor.organisation_id, "tools", include_inactive=True)}
    trail = missions.history(actor, challenge.id) if challenge.is_mission else []
    latest = trail[-1] if trail else None
    if values is None and latest is not None and latest.status == RETURNED:
        values = {"text": latest.text, "link": latest.link or ""}  # revise the last attempt, not start over
    can_submit = (challenge.is_mission and actor.role is Role.LEARNER and challenge.cancelled_at is None
                  and (latest is None and queries.status_of(challenge, now) == queries.OPEN
                       or latest is not None and latest.status not in (SUBMITTED, ACCEPTED)))
    return render_template(
        "challenges/challenge_show.html", actor=actor, c=challenge, status=queries.status_of(challenge, now),
        progress=queries.progress_of(challenge), board=queries.board(actor, challenge),
        when=_clock(actor), names=_names(actor), teams=queries.team_names(actor.course_id),
        categories={x.id: seeded(x.name) for x in items(actor.organisation_id, "categories", include_inactive=True)},
        tools=tools, approved=[tools[t] for t in queries.approved_tools(challenge) if t in tools],
        trail=trail, can_submit=can_submit, reviewer=missions.can_review(actor, challenge),
        badge=_badges(actor).get(challenge.badge_id) if challenge.badge_id else None,
        zone=challenges.zone(actor.organisation_id).key, errors=errors or {}, values=values or {}), status


@bp.get("/<id:challenge_id>")
@requires_actor()
def show(actor: Actor, challenge_id: int):
    return _show(actor, challenge_id)


def _form(actor: Actor, challenge=None, values: dict | None = None, errors: dict | None = None, status: int = 200):
    if values is None and challenge is not None:
        tz = challenges.zone(actor.organisation_id)
        values = {"title": challenge.title, "description": challenge.description, "goal_kind": challenge.goal_kind,
                  "goal_value": str(challenge.goal_value), "team": str(challenge.team_id or ""),
                  "starts_at": _local(challenge.starts_at, tz).strftime(FORM_TIME),
                  "ends_at": _local(challenge.ends_at, tz).strftime(FORM_TIME),
                  "task_category": str(challenge.task_category_id or ""), "ai_tool": str(challenge.ai_tool_id or ""),
                  "badge": str(challenge.badge_id or ""), "scenario": challenge.scenario,
                  "reflection_prompt": challenge.reflection_prompt, "champion": str(challenge.champion_id or ""),
                  "tools": [str(t) for t in queries.approved_tools(challenge)]}
    return render_template(
        "challenges/challenge_form.html", actor=actor, c=challenge,
        # a new challenge's form carries a key, kept when it comes back with errors (a retry then creates one)
        values=values or {"goal_kind": "count", **({} if challenge else {"submission_key": secrets.token_urlsafe(16)})},
        errors=errors or {}, teams=queries.team_names(actor.course_id), badges=manual_badges(actor.organisation_id),
        tools=items(actor.organisation_id, "tools"), categories=items(actor.organisation_id, "categories"),
        learners=members(actor.course_id, (Role.LEARNER,)),
        zone=challenges.zone(actor.organisation_id).key), status


def _posted_values() -> dict:
    return {**request.form.to_dict(), "tools": request.form.getlist("tools")}


def _upload() -> tuple[str, bytes] | None:
    upload = request.files.get("dataset")
    if upload is None or not upload.filename:
        return None
    return upload.filename, upload.read()  # the request itself is capped by MAX_CONTENT_LENGTH


@bp.get("/new")
@requires_actor(*STAFF)
def new(actor: Actor):
    return _form(actor)


@bp.post("/")
@requires_actor(*STAFF)
def create(actor: Actor):
    try:
        challenge = challenges.create_challenge(actor, ChallengeIn().load_form(request.form), utcnow(), _upload(),
                                                submission_key=request.form.get("submission_key", "")[:64] or None)
    except ValidationError as err:
        return _form(actor, None, _posted_values(), err.messages, 422)
    except InvalidInput as err:
        db.session.rollback()
        return _form(actor, None, _posted_values(), err.form_errors(), 422)
    db.session.commit()
    return redirect(launch_url("challenges.show", challenge_id=challenge.id, saved=1), 303)


@bp.get("/<id:challenge_id>/edit")
@requires_actor(*STAFF)
def edit(actor: Actor, challenge_id: int):
    return _form(actor, challenges.get_challenge(actor, challenge_id))


@bp.post("/<id:challenge_id>")
@requires_actor(*STAFF)
def save(actor: Actor, challenge_id: int):
    challenge = challenges.get_challenge(actor, challenge_id)
    try:
        challenges.update_challenge(actor, challenge.id, ChallengeIn().load_form(request.form), utcnow(), _upload())
    except ValidationError as err:
        return _form(actor, challenge, _posted_values(), err.messages, 422)
    except InvalidInput as err:
        db.session.rollback()
        return _form(actor, challenges.get_challenge(actor, challenge_id), _posted_values(), err.form_errors(), 422)
    db.session.commit()
    return redirect(launch_url("challenges.show", challenge_id=challenge_id, saved=1), 303)


@bp.post("/<id:challenge_id>/cancel")
@requires_actor(*STAFF)
def cancel(actor: Actor, challenge_id: int):
    challenges.get_challenge(actor, challenge_id)  # another course's challenge is a 404 before any form check
    try:
        CancelIn().load_form(request.form)
    except ValidationError as err:
        return _show(actor, challenge_id, {f"cancel_{k}": v for k, v in err.messages.items()}, None, 422)
    challenges.cancel_challenge(actor, challenge_id, utcnow())
    db.session.commit()
    return redirect(launch_url("challenges.show", challenge_id=challenge_id), 303)


@bp.get("/<id:challenge_id>/dataset")
@requires_actor()
def dataset(actor: Actor, challenge_id: int):
    data = missions.dataset_for(actor, challenge_id)
    response = send_file(BytesIO(data.content), mimetype=data.content_type, as_attachment=True,
                         download_name=data.name, max_age=0)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.post("/<id:challenge_id>/evidence")
@requires_actor(Role.LEARNER)
def evidence(actor: Actor, challenge_id: int):
    try:
        missions.submit_evidence(actor, challenge_id, EvidenceIn().load_form(request.form), utcnow())
    except ValidationError as err:
        return _show(actor, challenge_id, err.messages, request.form.to_dict(), 422)
    db.session.commit()
    return redirect(launch_url("challenges.show", challenge_id=challenge_id, sent=1), 303)


def _queue(actor: Actor, errors: dict | None = None, failed: int | None = None, status: int = 200,
           notice: str | None = None):
    if not (actor.can_manage or missions.champions_missions(actor)):
        raise Forbidden(_("Only the course's managers and AI champions review evidence."))
    return render_template("challenges/review_queue.html", actor=actor, queue=missions.review_queue(actor),
                           names=_names(actor), when=_clock(actor), zone=challenges.zone(actor.organisation_id).key,
                           errors=errors or {}, failed=failed,
                           values=request.form.to_dict() if failed else {}, notice=notice), status


@bp.get("/reviews")
@requires_actor()
def reviews(actor: Actor):
    return _queue(actor)


@bp.post("/evidence/<id:evidence_id>/review")
@requires_actor()
def review(actor: Actor, evidence_id: int):
    try:
        missions.review_evidence(actor, evidence_id, ReviewIn().load_form(request.form), utcnow())
    except ValidationError as err:
        return _queue(actor, err.messages, evidence_id, 422)
    except InvalidInput as err:
        db.session.rollback()
        return _queue(actor, err.form_errors(), evidence_id, 422)
    except Conflict as err:  # reviewed meanwhile (another tab, another reviewer) or the mission was cancelled
        db.session.rollback()
        return _queue(actor, status=409, notice=_("%(problem)s Nothing was changed; here is what still waits.", problem=err.message))
    db.session.commit()
    return redirect(launch_url("challenges.reviews", done=request.form.get("decision")), 303)
