"""Shapes at the edge: what a form or API call may send when logging an experiment."""
from __future__ import annotations

import copy

from marshmallow import Schema, ValidationError, fields, pre_load, validate, validates_schema

from plugin.core.ids import ID_RANGE, parse_id
from plugin.experiments.models import Outcome, SensitiveData, Visibility
from plugin.i18n import gettext as _
from plugin.i18n import lazy_gettext as _l

OTHER_TOOL = "other"
TRIMMED = ("title", "tried", "learned", "ai_tool_other")


def trim(data, names=TRIMMED):
    """The free texts without surrounding white space, before their lengths are checked: "   " is no title
    (the service stores them stripped, so three spaces passed as three characters and were stored empty)."""
    if not isinstance(data, dict):  # a JSON body may be any value: the schema refuses it
        return data
    return {**data, **{name: data[name].strip() for name in names if isinstance(data.get(name), str)}}


class Prebuilt(Schema):
    """A schema whose plain instances (no options given) start from fields built and bound once per class.

    Schema() deep-copies and binds every declared field: for ExperimentIn that cost three times the load it
    serves, on every form post and API call. A plain instance here shares the prototype's field objects (as
    reusing one schema instance does, which marshmallow supports: loading changes no field) and gets its own
    copies of the containers. Instances given options (only, partial, many, ...) are built as usual."""

    def __init__(self, **options):
        if options:
            super().__init__(**options)
            return
        prototype = type(self).__dict__.get("_prototype")
        if prototype is None:
            prototype = Schema.__new__(type(self))
            Schema.__init__(prototype)
            type(self)._prototype = prototype
        self.__dict__.update({key: copy.copy(value) if isinstance(value, (dict, set, list)) else value
                              for key, value in prototype.__dict__.items()})


_OFFERED = _l("Choose one of the answers offered.")
_EXPIRED = _l("This form had expired: send it again.")


class ExperimentIn(Prebuilt):
    # a hidden field: missing or mangled, the form is one to send again (a page kept open across a deploy, an LMS
    # wrapper that dropped it), not a "length" the person could fix
    submission_key = fields.String(required=True, validate=validate.Length(min=8, max=64, error=_EXPIRED),
                                   error_messages={"required": _EXPIRED})
    title = fields.String(required=True, validate=validate.Length(min=3, max=200))
    ai_tool = fields.String(required=True, validate=validate.Length(min=1, max=20))  # an id, or "other"
    ai_tool_other = fields.String(load_default="", validate=validate.Length(max=100))
    task_category = fields.Integer(required=True, strict=False, validate=ID_RANGE)
    tried = fields.String(required=True, validate=validate.Length(min=3, max=5000))
    outcome = fields.String(required=True, validate=validate.OneOf([o.value for o in Outcome], error=_OFFERED))
    learned = fields.String(load_default="", validate=validate.Length(max=5000))
    # blank: not estimated (None), which figures of time saved leave out; 0: saved no time
    minutes_saved = fields.Integer(load_default=None, allow_none=True, strict=False,
                                   validate=validate.Range(min=0, max=100_000))
    sensitive_data = fields.String(required=True, validate=validate.OneOf([s.value for s in SensitiveData],
                                                                          error=_OFFERED))
    visibility = fields.String(required=True, validate=validate.OneOf([v.value for v in Visibility], error=_OFFERED))
    anonymous = fields.Boolean(load_default=False, truthy={"on", "1", "true", True}, falsy={"", "0", "false", False})
    pillars = fields.List(fields.Integer(strict=False, validate=ID_RANGE), load_default=list,
                          validate=validate.Length(max=6))
    confidence_before = fields.Integer(load_default=None, allow_none=True, strict=False,
                                       validate=validate.Range(min=1, max=5))
    confidence_after = fields.Integer(load_default=None, allow_none=True, strict=False,
                                      validate=validate.Range(min=1, max=5))

    @pre_load
    def _trim(self, data, **kwargs):
        return trim(data)

    @validates_schema
    def _shape(self, data, **kwargs):
        for name, value in data.items():  # PostgreSQL refuses NUL in text; say so instead of failing
            if isinstance(value, str) and "\x00" in value:
                raise ValidationError(_("Text may not contain NUL characters."), name)
        if data.get("ai_tool") == OTHER_TOOL and not data.get("ai_tool_other", "").strip():
            raise ValidationError(_("Name the tool you used."), "ai_tool_other")
        if data.get("ai_tool") != OTHER_TOOL and parse_id(data.get("ai_tool")) is None:  # a tool's id, or "other"
            raise ValidationError(_("Choose a tool from the list, or Other."), "ai_tool")
        if data.get("anonymous") and data.get("outcome") != Outcome.FAILED.value:
            raise ValidationError(_("Only experiments that did not work can be shared anonymously."), "anonymous")
        if data.get("outcome") == Outcome.FAILED.value and not data.get("learned", "").strip():
            raise ValidationError(_("When it did not work, tell us what you learned: that is what earns recognition."),
                                  "learned")

    def load_form(self, form) -> dict:
        raw = {k: v for k, v in form.items() if k in self.fields}
        for key in ("minutes_saved", "confidence_before", "confidence_after"):
            if raw.get(key, None) == "":
                raw.pop(key)
        raw["pillars"] = [v for v in form.getlist("pillars") if v] if hasattr(form, "getlist") else raw.get("pillars", [])
        return self.load(raw)

