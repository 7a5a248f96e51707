"""Rules for administrators (launch tokens): list, read, create (awarded at once), change (a new version), preview."""
from __future__ import annotations

from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from plugin.api.auth import guard
from plugin.api.schemas import Id, JsonBoolean, PatchIn, Text
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
    points = fields.Integer(strict=True, validate=validate.Range(min=0, max=100_000))
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
    """Every rule of the organisation, active or not."""
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


@blp.route("/preview", methods=["POST"])
@guard(blp)
@blp.arguments(PreviewIn)
@blp.response(200, QualifierOut(many=True))
def preview_rule(actor, data):
    """Who a rule would recognise now had it always been in force; nothing is written."""
    replacing = data.pop("rule_id", None)
    return replay.preview_rule(actor, data, replacing)
