"""Shapes at the edge: what a manager's challenge form, a learner's evidence and a review may send."""
from __future__ import annotations

from datetime import datetime

from marshmallow import ValidationError, fields, validate, validates_schema

from plugin.challenges.models import COUNT, PARTICIPATION
from plugin.core.ids import MAX_ID
from plugin.core.schema import Schema
from plugin.i18n import gettext as _
from plugin.i18n import lazy_gettext as _l

ACCEPT, RETURN = "accept", "return"
_BOOL = {"truthy": {"on", "1", "true", True}, "falsy": {"", "0", "false", False}}
# Far enough for any real challenge, and far from datetime's limits, so shifting into any zone stays valid.
FIRST_YEAR, LAST_YEAR = 2000, 2100


def _in_range(moment: datetime) -> None:
    if not FIRST_YEAR <= moment.year <= LAST_YEAR:
        raise ValidationError(_("Choose a date between the years %(first)s and %(last)s.", first=FIRST_YEAR, last=LAST_YEAR))


def _choice(message, none: bool = True) -> fields.Integer:
    """One of a list's ids (a team, a category, a tool, a badge, a learner), or none: anything else, a word or a number
    no row can have, is told to choose from the list (an id past the database's integers was a server error)."""
    return fields.Integer(load_default=None, allow_none=none, strict=False,
                          validate=validate.Range(min=1, max=MAX_ID, error=message),
                          error_messages={"invalid": message, "null": message})


def _moment(missing) -> fields.NaiveDateTime:
    return fields.NaiveDateTime(required=True, validate=_in_range, error_messages={
        "required": missing, "invalid": _l("Enter a date and time (for example 2026-03-01 09:00).")})


class ChallengeIn(Schema):
    """Times are the organisation's local wall-clock times (datetime-local inputs); the service makes them UTC."""

    title = fields.String(required=True, validate=validate.Length(
        min=3, max=200, error=_l("Give the challenge a title of 3 to 200 characters.")),
        error_messages={"required": _l("Give the challenge a title.")})
    description = fields.String(load_default="", validate=validate.Length(
        max=5000, error=_l("Keep the description to %(max)s characters.", max=5000)))
    goal_kind = fields.String(required=True, validate=validate.OneOf(
        [COUNT, PARTICIPATION], error=_l("Choose how the goal is measured: count or participation.")),
        error_messages={"required": _l("Choose how the goal is measured: count or participation.")})
    goal_value = fields.Integer(required=True, strict=False, validate=validate.Range(
        min=1, max=100_000, error=_l("The goal is a whole number from 1 to 100000.")),
        error_messages={"required": _l("Set a goal: a number, or a percentage for participation."),
                        "invalid": _l("The goal is a whole number from 1 to 100000.")})
    starts_at = _moment(_l("Choose when the challenge starts."))
    ends_at = _moment(_l("Choose when the challenge ends."))
    team = _choice(_l("Choose one of this course's teams."))
    task_category = _choice(_l("Choose a task category from the list."))
    ai_tool = _choice(_l("Choose an AI tool from the list."))
    badge = _choice(_l("Choose one of the organisation's badges managers award."))
    # Sandbox mission
    is_mission = fields.Boolean(load_default=False, **_BOOL)
    scenario = fields.String(load_default="", validate=validate.Length(max=20_000))
    reflection_prompt = fields.String(load_default="", validate=validate.Length(max=2000))
    champion = _choice(_l("The AI champion must be a learner of this course."))
    tools = fields.List(_choice(_l("Choose approved tools from the organisation's list."), none=False),
                        load_default=list)
    dataset_text = fields.String(load_default="", validate=validate.Length(max=210_000))
    remove_dataset = fields.Boolean(load_default=False, **_BOOL)

    @validates_schema(skip_on_field_errors=False)
    def _shape(self, data, **kwargs):
        """Cross-field checks run even when a field failed (its key is then absent), so every problem shows at once."""
        errors: dict[str, list[str]] = {}
        starts, ends = data.get("starts_at"), data.get("ends_at")
        if starts is not None and ends is not None and ends <= starts:
            errors["ends_at"] = [_("The end must come after the start.")]
        if data.get("goal_kind") == PARTICIPATION and data.get("goal_value", 0) > 100:
            errors["goal_value"] = [_("A participation goal is a percentage from 1 to 100.")]
        if errors:
            raise ValidationError(errors)

    def load_form(self, form) -> dict:
        """Form fields -> loaded data; empty optional choices mean none."""
        raw = {k: v for k, v in form.items() if k in self.fields and k != "tools" and v != ""}
        raw["tools"] = [v for v in form.getlist("tools") if v != ""]
        return self.load(raw)


class EvidenceIn(Schema):
    text = fields.String(required=True, validate=validate.Length(
        min=3, max=5000, error=_l("Describe what you did in 3 to 5000 characters.")),
        error_messages={"required": _l("Describe what you did and what you learned.")})
    # A String with the URL check (what fields.Url does), so its message can be translated lazily.
    link = fields.String(load_default=None, allow_none=True, validate=[
        validate.URL(schemes={"http", "https"}, error=_l("Enter a web address starting with http:// or https://.")),
        validate.Length(max=1000)])

    def load_form(self, form) -> dict:
        return self.load({k: v for k, v in form.items() if k in self.fields and v != ""})


class ReviewIn(Schema):
    decision = fields.String(required=True, validate=validate.OneOf(
        [ACCEPT, RETURN], error=_l("Choose Accept or Return for revision.")),
        error_messages={"required": _l("Choose Accept or Return for revision.")})
    comment = fields.String(load_default="", validate=validate.Length(max=2000))

    def load_form(self, form) -> dict:
        return self.load({k: v for k, v in form.items() if k in self.fields and v != ""})


class CancelIn(Schema):
    """Cancelling can't be undone, so the form asks for an explicit tick."""

    confirm = fields.Boolean(required=True, validate=validate.Equal(
        True, error=_l("Tick the box to confirm: cancelling can't be undone.")), **_BOOL,
        error_messages={"required": _l("Tick the box to confirm: cancelling can't be undone.")})

    def load_form(self, form) -> dict:
        return self.load({k: v for k, v in form.items() if k in self.fields and v != ""})
