"""Admin rule editor: list, create, edit (each save a new version), preview who qualifies, recalculate, delete."""
from __future__ import annotations

from babel.lists import format_list
from flask import Blueprint, redirect, render_template, request

from plugin.badges.service import all_badges
from plugin.catalog.service import items
from plugin.core.actor import Actor, Role
from plugin.core.clock import utcnow
from plugin.errors import InvalidInput
from plugin.extensions import db
from plugin.i18n import gettext as _
from plugin.i18n import locale
from plugin.levels.service import dimensions
from plugin.replay.service import added_and_taken, introduce_rule, preview_rule, replay
from plugin.rules import definitions
from plugin.rules.events import EVENT_LABELS
from plugin.rules.registry import REGISTRY
from plugin.tenancy.models import Course, User
from plugin.web import rule_forms
from plugin.web.auth import launch_url, requires_actor
from plugin.web.inputs import form_id
from plugin.web.rule_forms import param_fields, rule_fields

bp = Blueprint("admin_rules", __name__, url_prefix="/app/admin/rules")


def _names(user_ids) -> dict[int, str]:
    return {u.id: u.display_name for u in db.session.scalars(db.select(User).where(User.id.in_(set(user_ids))))}


def _who(rows) -> dict[tuple[int, int], str]:
    """(course id, user id) -> how a row of a preview or a recalculation names its person: their name, and the
    course's title when the rows span several courses (rules count per course, so one person can have a row in
    each, which read as the same line twice)."""
    keys = {(row.course_id, row.user_id) for row in rows}
    names = _names(user for _course, user in keys)
    courses = {course for course, _user in keys}
    titles = {} if len(courses) < 2 else dict(db.session.execute(
        db.select(Course.id, Course.title).where(Course.id.in_(courses))).all())
    labelled = {}
    for course, user in keys:
        name = names.get(user) or _("Participant %(id)s", id=user)
        labelled[(course, user)] = _("%(name)s (%(course)s)", name=name, course=titles.get(course) or course) \
            if titles else name
    return labelled


def _checked_when(condition: str) -> str:
    """The events that trigger a condition as one phrase in the page's language ("a or b" / "a veya b")."""
    labels = [str(EVENT_LABELS[e]) for e in sorted(REGISTRY[condition].events)] if condition in REGISTRY else []
    return format_list(labels, style="or", locale=locale()) if labels else ""


def _badge_choices(organisation_id: int, current) -> list:
    """The active badges, and the one the rule gives even when it was switched off since (else saving the rule for
    another change would silently drop it)."""
    return [b for b in all_badges(organisation_id) if b.active or b.id == current]


def _editor(actor: Actor, values: dict, rule=None, errors=None, qualifiers=None, status=200):
    condition = values.get("condition") or "experiment_count"
    return render_template(
        "admin/rule_edit.html", actor=actor, rule=rule, values=values, errors=errors or {}, conditions=REGISTRY,
        checked_when=_checked_when(condition), params=param_fields(condition, actor.organisation_id), condition=condition,
        dimensions=dimensions(actor.organisation_id), badges=_badge_choices(actor.organisation_id, values.get("badge_id")),
        qualifiers=qualifiers, who=_who(qualifiers or [])), status


@bp.get("/")
@requires_actor(Role.ADMIN)
def index(actor: Actor):
    org = actor.organisation_id
    dimension_names = {d.key: d.name for d in dimensions(org)}
    names = {"dimensions": dimension_names,
             "categories": {c.id: c.name for c in items(org, "categories", include_inactive=True)},
             "tools": {t.id: t.name for t in items(org, "tools", include_inactive=True)}}
    rules = definitions.rules_of(org)
    return render_template("admin/rules.html", actor=actor, rules=rules,
                           asks={r.id: rule_forms.what_it_asks(r.condition, r.params, names) for r in rules},
                           badges={b.id: b for b in all_badges(org)}, dimension_names=dimension_names)


@bp.get("/new")
@requires_actor(Role.ADMIN)
def new(actor: Actor):
    return _editor(actor, {"condition": request.args.get("condition", "experiment_count"), "repeatable": False,
                           "active": True, "dimension": "experimenting", "params": {}})


def _stored(rule) -> dict:
    return {f: getattr(rule, f) for f in ("name", "description", "condition", "params", "points", "dimension",
                                          "badge_id", "repeatable", "cooldown_days", "cap_count", "cap_window_days",
                                          "active")}


@bp.get("/<id:rule_id>")
@requires_actor(Role.ADMIN)
def edit(actor: Actor, rule_id: int):
    rule = definitions.get_rule(actor, rule_id)
    values = _stored(rule)
    if request.args.get("condition") in REGISTRY:
        values["condition"], values["params"] = request.args["condition"], {}
    return _editor(actor, values, rule)


@bp.post("/save")
@requires_actor(Role.ADMIN)
def save(actor: Actor):
    rule_id = form_id(request.form, "rule_id")
    rule = definitions.get_rule(actor, rule_id) if rule_id else None
    fields = rule_fields(request.form, actor.organisation_id)
    values = {**fields, "params": fields["params"]}
    if fields["points"] is None:  # not a whole number: shown as typed beside its message
        values["points"] = request.form.get("points", "")
    now = utcnow()
    try:
        if request.form.get("action") == "preview":
            return _editor(actor, values, rule, qualifiers=preview_rule(actor, fields, rule_id))
        if rule is None:
            rule, awarded = introduce_rule(actor, fields, now)
            db.session.commit()
            return redirect(launch_url("admin_rules.index", created=rule.id, awarded=awarded), 303)
        definitions.update_rule(actor, rule.id, fields, now)
        db.session.commit()
        return redirect(launch_url("admin_rules.recalculate", rule_id=rule.id), 303)
    except InvalidInput as err:
        db.session.rollback()
        return _editor(actor, values, rule, err.errors, status=422)


@bp.post("/<id:rule_id>/delete")
@requires_actor(Role.ADMIN)
def delete(actor: Actor, rule_id: int):
    if request.form.get("confirm") != "on":  # one click on the button deleted (or archived) at once
        rule = definitions.get_rule(actor, rule_id)
        return _editor(actor, _stored(rule), rule,
                       {"confirm": [_("Tick the box to confirm: a rule deleted or archived cannot be restored.")]},
                       status=422)
    outcome = definitions.delete_rule(actor, rule_id, utcnow())
    db.session.commit()
    return redirect(launch_url("admin_rules.index", **{outcome: rule_id}), 303)


@bp.get("/<id:rule_id>/recalculate")
@requires_actor(Role.ADMIN)
def recalculate(actor: Actor, rule_id: int):
    rule = definitions.get_rule(actor, rule_id)
    report = replay(actor.organisation_id, utcnow(), rule_ids=[rule.id])
    people = report.by_person()
    added, taken = added_and_taken(people)
    return render_template("admin/rule_replay.html", actor=actor, rule=rule, report=report, people=people,
                           added=added, taken=taken, badges={b.id: b for b in all_badges(actor.organisation_id)},
                           who=_who([*report.points, *report.new_badges, *report.lost_badges]))


@bp.post("/<id:rule_id>/recalculate")
@requires_actor(Role.ADMIN)
def recalculate_apply(actor: Actor, rule_id: int):
    rule = definitions.get_rule(actor, rule_id)
    replay(actor.organisation_id, utcnow(), apply=True, rule_ids=[rule.id])
    db.session.commit()
    return redirect(launch_url("admin_rules.recalculate", rule_id=rule.id, applied=1), 303)
