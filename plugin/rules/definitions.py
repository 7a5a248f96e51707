"""Creating and changing rules. Every change is a new version; nothing already awarded changes until a
replay is applied (see replay.py)."""
from __future__ import annotations

from datetime import datetime

from marshmallow import ValidationError
from sqlalchemy import delete, exists, or_, select
from sqlalchemy.exc import IntegrityError

from plugin.audit.service import record
from plugin.badges.models import BadgeAward, BadgeClass
from plugin.catalog.models import AiTool, TaskCategory
from plugin.core import text_fold
from plugin.core.actor import Actor
from plugin.core.names import tidy as tidy_name
from plugin.errors import Forbidden, InvalidInput, NotFound
from plugin.extensions import db
from plugin.i18n import gettext as _
from plugin.ledger.models import LedgerEntry
from plugin.levels.models import Dimension, Level
from plugin.rules.models import VERSIONED_FIELDS, Rule, RuleVersion
from plugin.rules.registry import REGISTRY, load_params
from plugin.tenancy import service as tenancy

MAX_POINTS = 100_000  # a rule's points per award (the JSON API's limit too)
DEFAULTS = {"description": "", "params": {}, "points": 0, "dimension": "experimenting", "badge_id": None,
            "repeatable": True, "cooldown_days": 0, "cap_count": 0, "cap_window_days": 0, "active": True}


def validate_fields(organisation_id: int, fields: dict, kept_points: int | None = None) -> dict:
    """Check a rule definition; returns it with params loaded by the condition's schema."""
    return _validate(organisation_id, {**DEFAULTS, **fields}, kept_points)


def _validate(organisation_id: int, fields: dict, kept_points: int | None = None) -> dict:
    """`kept_points`: the points a rule being edited has now, accepted as they are (a rule saved before MAX_POINTS
    bounded them stays editable, and can be switched off, without its points changing)."""
    errors: dict[str, list[str]] = {}
    condition = fields.get("condition")
    if condition not in REGISTRY:
        errors["condition"] = [_("Choose a condition from the list.")]
    else:
        try:
            fields["params"] = load_params(condition, fields.get("params") or {})
        except ValidationError as err:
            errors.update({f"params.{k}": v for k, v in err.messages.items()})
        else:
            errors.update(_check_names(organisation_id, condition, fields["params"]))
    if not tidy_name(fields.get("name")):
        errors["name"] = [_("Give the rule a name.")]
    points = fields.get("points", 0)
    if not isinstance(points, int) or (points > MAX_POINTS and points != kept_points):  # None: not a whole number
        errors["points"] = [_("A whole number from 0 to %(most)d.", most=MAX_POINTS)]
    elif points < 0:
        errors["points"] = [_("Points cannot be negative; revoke awards instead.")]
    for guard in ("cooldown_days", "cap_count", "cap_window_days"):
        if not isinstance(fields.get(guard), int) or not 0 <= fields[guard] <= 3650:
            errors[guard] = [_("A whole number from 0 to 3650.")]
    if db.session.scalar(select(Dimension.id).where(Dimension.organisation_id == organisation_id,
                                                    Dimension.key == fields.get("dimension"))) is None:
        errors["dimension"] = [_("Choose a dimension from the list.")]
    badge_id = fields.get("badge_id")
    if badge_id and db.session.scalar(select(BadgeClass.id).where(
            BadgeClass.id == badge_id, BadgeClass.organisation_id == organisation_id)) is None:
        errors["badge_id"] = [_("Choose one of this organisation's badges.")]
    if not fields.get("points") and not badge_id and "points" not in errors:
        errors["points"] = [_("A rule must give points, a badge, or both.")]
    if errors:
        raise InvalidInput(_("The rule needs some changes."), errors=errors)
    fields["name"] = tidy_name(fields["name"], 200)
    return fields


def _check_names(organisation_id: int, condition: str, params: dict) -> dict[str, list[str]]:
    """A threshold rule names a dimension (by key) or a level of the organisation, an experiment rule a task category
    or an AI tool of its lists; naming anything else (another organisation's, or none), it would never fire. A level
    rule takes its level's threshold from the ladder (as the editor does)."""
    for name, model in (("category_id", TaskCategory), ("tool_id", AiTool)):
        if params.get(name) is not None and db.session.scalar(select(model.id).where(
                model.id == params[name], model.organisation_id == organisation_id)) is None:
            return {f"params.{name}": [_("Choose one from the list.")]}
    if condition == "points_in_dimension" and db.session.scalar(select(Dimension.id).where(
            Dimension.organisation_id == organisation_id, Dimension.key == params["dimension"])) is None:
        return {"params.dimension": [_("Choose a dimension from the list.")]}
    if condition == "level_reached":
        # The level as the ladder names it now (a name stored before names were tidied is the same level)
        wanted = text_fold.key(params["level"])
        found = next(((name, threshold) for name, threshold in db.session.execute(select(
            Level.name, Level.threshold).where(Level.organisation_id == organisation_id).order_by(Level.threshold))
            if text_fold.key(name) == wanted), None)
        if found is None:
            return {"params.level": [_("Choose a level.")]}
        params["level"], params["threshold"] = found
    return {}


def _refuse_taken_name(organisation_id: int, name: str, rule_id: int | None = None) -> None:
    """An administrator's rule takes a name no other rule of the organisation has, whatever its case ("İlk deneme" is
    "ilk deneme"): the same new rule sent twice (a double click, Back and send again) was two rules, each paying for
    the same experiments. Rules take turns on the organisation's row, so two sent at once are told apart too."""
    tenancy.lock_organisation(organisation_id)
    wanted = text_fold.key(name)
    if any(text_fold.key(rule.name) == wanted for rule in rules_of(organisation_id) if rule.id != rule_id):
        taken = _("There is already a rule called “%(name)s”.", name=tidy_name(name))
        raise InvalidInput(taken, errors={"name": [taken]})


def _snapshot(rule: Rule, now: datetime, user_id: int | None) -> None:
    db.session.add(RuleVersion(rule_id=rule.id, version=rule.version, created_at=now, created_by_user_id=user_id,
                               **{f: getattr(rule, f) for f in VERSIONED_FIELDS}))
    db.session.flush()


def create_rule(organisation_id: int, fields: dict, now: datetime, actor: Actor | None = None,
                key: str | None = None) -> Rule:
    if actor is not None and not actor.can_administer:
        raise Forbidden(_("Only the organisation's administrators can create rules."))
    fields = _validate(organisation_id, {**DEFAULTS, **fields})
    if actor is not None:  # the default pack (no actor) keys its rules, and may find an admin's of the same name
        _refuse_taken_name(organisation_id, fields["name"])
    rule = Rule(organisation_id=organisation_id, key=key, version=1, created_at=now,
                **{f: fields[f] for f in VERSIONED_FIELDS})
    db.session.add(rule)
    db.session.flush()
    _snapshot(rule, now, actor.user_id if actor else None)
    if actor is not None:
        record(actor, "rule.created", "rule", rule.id, {"name": rule.name}, now, course_scoped=False)
    return rule


def update_rule(actor: Actor, rule_id: int, fields: dict, now: datetime) -> Rule:
    rule = get_rule(actor, rule_id, lock=True)
    merged = {f: getattr(rule, f) for f in VERSIONED_FIELDS}
    merged.update(fields)
    merged = _validate(actor.organisation_id, merged, kept_points=rule.points)
    changed = {f: [getattr(rule, f), merged[f]] for f in VERSIONED_FIELDS if getattr(rule, f) != merged[f]}
    if not changed:
        return rule
    if "name" in changed:
        _refuse_taken_name(actor.organisation_id, merged["name"], rule.id)
    for f in VERSIONED_FIELDS:
        setattr(rule, f, merged[f])
    rule.version += 1
    db.session.flush()
    _snapshot(rule, now, actor.user_id)
    record(actor, "rule.changed", "rule", rule.id, {"version": rule.version, "changed": sorted(changed)}, now,
           course_scoped=False)
    return rule


def follow_ladder(actor: Actor, thresholds: dict[str, int], now: datetime) -> list[Rule]:
    """The ladder changed: each "a level is reached" rule names its level, so it takes that level's new threshold
    (a new version; what it awarded stays until a recalculation). Only a switched-off rule can have lost its level
    (set_levels refuses to take away an active rule's): it is left as it was, and needs a level to be switched on."""
    changed = []
    by_key = {text_fold.key(name): (name, threshold) for name, threshold in thresholds.items()}
    for rule in rules_of(actor.organisation_id):
        params = rule.params or {}
        found = by_key.get(text_fold.key(params.get("level") or "")) if rule.condition == "level_reached" else None
        # its level's threshold, and its name as the ladder writes it now (tidied: core.names)
        if found is not None and (params.get("level"), params.get("threshold")) != found:
            changed.append(update_rule(actor, rule.id, {"params": {**params, "level": found[0],
                                                                   "threshold": found[1]}}, now))
    return changed


DELETED, ARCHIVED = "deleted", "archived"


def delete_rule(actor: Actor, rule_id: int, now: datetime) -> str:
    """Take a rule away; returns what happened: DELETED or ARCHIVED.

    A rule that never awarded anything (no ledger row, no badge award names it) is deleted with its versions.
    One that did must go on explaining those rows and badges, so it is archived instead: inactive, gone from
    lists, editing, evaluation and recalculation, its versions kept. A default-pack rule is always archived:
    deleting it would let the next default-pack upgrade bring it back."""
    rule = get_rule(actor, rule_id, lock=True)
    awarded = db.session.scalar(select(or_(exists().where(LedgerEntry.rule_id == rule.id),
                                           exists().where(BadgeAward.rule_id == rule.id))))
    details = {"name": rule.name, "version": rule.version}
    outcome = ARCHIVED
    if not awarded and rule.key is None:
        try:
            with db.session.begin_nested():  # an award committing meanwhile makes the delete fail: archive then
                db.session.execute(delete(RuleVersion).where(RuleVersion.rule_id == rule.id))
                db.session.execute(delete(Rule).where(Rule.id == rule.id))
            db.session.expunge(rule)
            outcome = DELETED
        except IntegrityError:
            awarded = True
    if outcome == ARCHIVED:
        if rule.active:  # inactive is part of the definition: a new version says so
            rule.active = False
            rule.version += 1
            db.session.flush()
            _snapshot(rule, now, actor.user_id)
        rule.archived_at = now
        details["awarded"] = bool(awarded)
        db.session.flush()
    record(actor, f"rule.{outcome}", "rule", rule_id, details, now, course_scoped=False)
    return outcome


def get_rule(actor: Actor, rule_id: int, lock: bool = False) -> Rule:
    """A rule of the actor's organisation that is not archived (an archived rule is NotFound here). `lock`: for a
    change that makes a new version, the organisation's row is locked first and the rule read afresh (PostgreSQL: a
    second save at once waits, then builds the next version on what the first saved, instead of taking the same
    number). The organisation's row, not the rule's: every rule write moves its configuration version (migration
    0023's triggers) after the rule's row, and a ladder change (set_levels, then follow_ladder) holds it before its
    rules, so locking the rule first could deadlock with either. NO KEY UPDATE: awards need not wait."""
    if not actor.can_administer:
        raise Forbidden(_("Only the organisation's administrators manage rules."))
    if lock:
        tenancy.lock_organisation(actor.organisation_id)
    rule = db.session.get(Rule, rule_id, populate_existing=True) if lock else db.session.get(Rule, rule_id)
    if rule is None or rule.organisation_id != actor.organisation_id or rule.archived_at is not None:
        raise NotFound(_("No such rule."))
    return rule


def rules_of(organisation_id: int) -> list[Rule]:
    """The organisation's rules, archived ones left out."""
    return list(db.session.scalars(select(Rule).where(Rule.organisation_id == organisation_id,
                                                      Rule.archived_at.is_(None)).order_by(Rule.id)))


def version_of(rule_id: int, version: int) -> RuleVersion | None:
    return db.session.scalar(select(RuleVersion).where(RuleVersion.rule_id == rule_id, RuleVersion.version == version))


def rules_for(actor: Actor) -> list[Rule]:
    """The organisation's rules, for its administrators."""
    if not actor.can_administer:
        raise Forbidden(_("Only the organisation's administrators manage rules."))
    return rules_of(actor.organisation_id)
