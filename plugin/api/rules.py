"""Rules for administrators (launch tokens): list, read, create (awarded at once), change (a new version), preview,
delete (or archive, when the rule already awarded something)."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from plugin.api.auth import guard
from plugin.api.schemas import Id, JsonBoolean, PatchIn, Text
from plugin.api.spec import Blueprint
from plugin.core.clock import utcnow
from plugin.extensions import db
from plugin.replay import service as replay
from plugin.rules import definitions
from plugin.rules.registry import REGISTRY

blp = Blueprint("api_rules", __name__, url_prefix="/rules",
                description="Recognition rules of the organisation (administrators). Changing a rule makes a new "
                            "version; what was awarded changes only when a recalculation is applied.")
GUARD_RANGE = validate.Range(min=0, max=3650)


class RuleIn(Schema):
    name = Text(required=True, validate=validate.Length(min=1, max=200))
    description = Text(validate=validate.Length(max=2000))
    condition = fields.String(required=True, validate=validate.OneOf(sorted(REGISTRY)))
    params = fields.Dict(keys=fields.String(), metadata={"description": "the condition's parameters"})
    points = fields.Integer(strict=True, validate=validate.Range(min=0, max=definitions.MAX_POINTS))
    dimension = Text(validate=validate.Length(min=1, max=40))
    badge_id = Id(allow_none=True)
    repeatable = JsonBoolean()
    cooldown_days = fields.Integer(strict=True, validate=GUARD_RANGE)
    cap_count = fields.Integer(strict=True, validate=GUARD_RANGE)
    cap_window_days = fields.Integer(strict=True, validate=GUARD_RANGE)
    active = JsonBoolean()


class RulePatchIn(RuleIn, PatchIn):
    pass


class PreviewIn(RuleIn):
    rule_id = Id(metadata={"description": "the rule this one would replace"})


class RuleOut(Schema):
    id = fields.Integer(required=True)
    key = fields.String(required=True, allow_none=True)
    version = fields.Integer(required=True)
    name = fields.String(required=True)
    description = fields.String(required=True)
    condition = fields.String(required=True)
    params = fields.Dict(required=True)
    points = fields.Integer(required=True)
    dimension = fields.String(required=True)
    badge_id = fields.Integer(required=True, allow_none=True)
    repeatable = fields.Boolean(required=True)
    cooldown_days = fields.Integer(required=True)
    cap_count = fields.Integer(required=True)
    cap_window_days = fields.Integer(required=True)
    active = fields.Boolean(required=True)


class CreatedRuleOut(RuleOut):
    recognised = fields.Integer(required=True, metadata={"description": "people it awarded at once"})


class PointChangeOut(Schema):
    course_id = fields.Integer(required=True)
    user_id = fields.Integer(required=True)
    rule_id = fields.Integer(required=True)
    current = fields.Integer(required=True, metadata={"description": "points the ledger holds for this award"})
    desired = fields.Integer(required=True, metadata={"description": "points the rule as it is now would give"})


class BadgeChangeOut(Schema):
    course_id = fields.Integer(required=True)
    user_id = fields.Integer(required=True)
    badge_id = fields.Integer(required=True)


class RecalculationOut(Schema):
    applied = fields.Boolean(required=True)
    points = fields.List(fields.Nested(PointChangeOut), required=True)
    new_badges = fields.List(fields.Nested(BadgeChangeOut), required=True)
    lost_badges = fields.List(fields.Nested(BadgeChangeOut), required=True,
                              metadata={"description": "reported only: revoking is a manager's decision"})


class QualifierOut(Schema):
    course_id = fields.Integer(required=True)
    user_id = fields.Integer(required=True)
    points = fields.Integer(required=True)
    badge = fields.Boolean(required=True)


@blp.route("")
@guard(blp)
@blp.etag
@blp.response(200, RuleOut(many=True))
def list_rules(actor):
    """Every rule of the organisation, active or not (archived ones left out)."""
    return definitions.rules_for(actor)


@blp.route("", methods=["POST"])
@guard(blp)
@blp.arguments(RuleIn)
@blp.response(201, CreatedRuleOut)
def create_rule(actor, data):
    """A new rule; when active, those who already qualify are recognised at once."""
    rule, recognised = replay.introduce_rule(actor, data, utcnow())
    db.session.commit()
    return {**RuleOut().dump(rule), "recognised": recognised}


@blp.route("/<id:rule_id>")
@guard(blp)
@blp.etag
@blp.response(200, RuleOut)
def read_rule(actor, rule_id):
    """One rule, at its current version."""
    return definitions.get_rule(actor, rule_id)


@blp.route("/<id:rule_id>", methods=["PATCH"])
@guard(blp)
@blp.arguments(RulePatchIn(partial=True))
@blp.response(200, RuleOut)
def update_rule(actor, data, rule_id):
    """Change a rule (a new version). Apply the recalculation from the admin pages or `flask ledger replay`."""
    rule = definitions.update_rule(actor, rule_id, data, utcnow())
    db.session.commit()
    return rule


class RuleDeletedOut(Schema):
    id = fields.Integer(required=True)
    outcome = fields.String(required=True, validate=validate.OneOf([definitions.DELETED, definitions.ARCHIVED]),
                            metadata={"description": "deleted: it had never awarded anything and is gone; archived: "
                                                     "it had (or is a default-pack rule), so it stays only to "
                                                     "explain the ledger and badges, out of lists, editing and "
                                                     "evaluation"})


@blp.route("/<id:rule_id>", methods=["DELETE"])
@guard(blp)
@blp.response(200, RuleDeletedOut)
def delete_rule(actor, rule_id):
    """Delete a rule, or archive it when it already awarded points or badges (nothing awarded is taken back).
    Either way it stops being evaluated and a second call answers 404."""
    outcome = definitions.delete_rule(actor, rule_id, utcnow())
    db.session.commit()
    return {"id": rule_id, "outcome": outcome}


@blp.route("/preview", methods=["POST"])
@guard(blp)
@blp.arguments(PreviewIn)
@blp.response(200, QualifierOut(many=True))
def preview_rule(actor, data):
    """Who a rule would recognise now had it always been in force; nothing is written."""
    replacing = data.pop("rule_id", None)
    return replay.preview_rule(actor, data, replacing)


def _report(report) -> dict:
    return {"applied": report.applied,
            "points": [{"course_id": c.course_id, "user_id": c.user_id, "rule_id": c.rule_id, "current": c.current,
                        "desired": c.desired} for c in report.points],
            "new_badges": [{"course_id": a.course_id, "user_id": a.user_id, "badge_id": a.rule.badge_id}
                           for a in report.new_badges],
            "lost_badges": [{"course_id": c, "user_id": u, "badge_id": b} for c, u, b in report.lost_badges]}


@blp.route("/<id:rule_id>/recalculation")
@guard(blp)
@blp.response(200, RecalculationOut)
def preview_recalculation(actor, rule_id):
    """What applying the rule's current version to the whole history would change; nothing is written."""
    rule = definitions.get_rule(actor, rule_id)
    return _report(replay.replay(actor.organisation_id, utcnow(), rule_ids=[rule.id]))


@blp.route("/<id:rule_id>/recalculation", methods=["POST"])
@guard(blp)
@blp.response(200, RecalculationOut)
def apply_recalculation(actor, rule_id):
    """Make the ledger match the rule's current version: reversing and new entries, never edited rows."""
    rule = definitions.get_rule(actor, rule_id)
    report = replay.replay(actor.organisation_id, utcnow(), apply=True, rule_ids=[rule.id])
    db.session.commit()
    return _report(report)
