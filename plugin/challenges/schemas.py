"""Shapes at the edge: what a manager's challenge form, a learner's evidence and a review may send."""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from plugin.challenges.models import COUNT, PARTICIPATION

ACCEPT, RETURN = "accept", "return"
_BOOL = {"truthy": {"on", "1", "true", True}, "falsy": {"", "0", "false", False}}


class ChallengeIn(Schema):
    """Times are the organisation's local wall-clock times (datetime-local inputs); the service makes them UTC."""

    title = fields.String(required=True, validate=validate.Length(min=3, max=200))
    description = fields.String(load_default="", validate=validate.Length(max=5000))
    goal_kind = fields.String(required=True, validate=validate.OneOf([COUNT, PARTICIPATION]))
    goal_value = fields.Integer(required=True, strict=False, validate=validate.Range(min=1, max=100_000))
    starts_at = fields.NaiveDateTime(required=True)
    ends_at = fields.NaiveDateTime(required=True)
    team = fields.Integer(load_default=None, allow_none=True, strict=False)
    task_category = fields.Integer(load_default=None, allow_none=True, strict=False)
    ai_tool = fields.Integer(load_default=None, allow_none=True, strict=False)
    badge = fields.Integer(load_default=None, allow_none=True, strict=False)
    # Sandbox mission
    is_mission = fields.Boolean(load_default=False, **_BOOL)
    scenario = fields.String(load_default="", validate=validate.Length(max=20_000))
    reflection_prompt = fields.String(load_default="", validate=validate.Length(max=2000))
    champion = fields.Integer(load_default=None, allow_none=True, strict=False)
    tools = fields.List(fields.Integer(strict=False), load_default=list)
    dataset_text = fields.String(load_default="", validate=validate.Length(max=210_000))
    remove_dataset = fields.Boolean(load_default=False, **_BOOL)

    @validates_schema
    def _shape(self, data, **kwargs):
        if data["ends_at"] <= data["starts_at"]:
            raise ValidationError("The end must come after the start.", "ends_at")
        if data["goal_kind"] == PARTICIPATION and data["goal_value"] > 100:
            raise ValidationError("A participation goal is a percentage from 1 to 100.", "goal_value")

    def load_form(self, form) -> dict:
        """Form fields -> loaded data; empty optional choices mean none."""
        raw = {k: v for k, v in form.items() if k in self.fields and k != "tools" and v != ""}
        raw["tools"] = [v for v in form.getlist("tools") if v != ""]
        return self.load(raw)


class EvidenceIn(Schema):
    text = fields.String(required=True, validate=validate.Length(min=3, max=5000))
    link = fields.Url(load_default=None, allow_none=True, schemes={"http", "https"},
                      validate=validate.Length(max=1000))

    def load_form(self, form) -> dict:
        return self.load({k: v for k, v in form.items() if k in self.fields and v != ""})


class ReviewIn(Schema):
    decision = fields.String(required=True, validate=validate.OneOf([ACCEPT, RETURN]))
    comment = fields.String(load_default="", validate=validate.Length(max=2000))

    def load_form(self, form) -> dict:
        return self.load({k: v for k, v in form.items() if k in self.fields})
