"""Shapes at the edge: the admin's vision form."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from plugin.i18n import lazy_gettext as _l

MIN_PILLARS, MAX_PILLARS = 3, 6


class PillarIn(Schema):
    id = fields.Integer(load_default=None, allow_none=True, strict=False)
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    description = fields.String(load_default="", validate=validate.Length(max=1000))


class ToolPolicyIn(Schema):
    ai_tool_id = fields.Integer(required=True, strict=False)
    approved = fields.Boolean(load_default=False)
    data_note = fields.String(load_default="", validate=validate.Length(max=1000))


class VisionIn(Schema):
    statement = fields.String(required=True, validate=validate.Length(min=10, max=20_000))
    guidance = fields.String(load_default="", validate=validate.Length(max=20_000))
    pillars = fields.List(fields.Nested(PillarIn), required=True,
                          validate=validate.Length(min=MIN_PILLARS, max=MAX_PILLARS,
                                                   error=_l("Name between 3 and 6 pillars.")))
    tools = fields.List(fields.Nested(ToolPolicyIn), load_default=list)

    def load_form(self, form) -> dict:
        """Rows of the form (pillar_name_0.., tool_1..) into the nested shape; blank pillar rows are skipped."""
        pillars = []
        for i in range(MAX_PILLARS + 2):
            name = (form.get(f"pillar_name_{i}") or "").strip()
            if name:
                pillars.append({"id": form.get(f"pillar_id_{i}") or None, "name": name,
                                "description": (form.get(f"pillar_description_{i}") or "").strip()})
        tools = [{"ai_tool_id": tool_id, "approved": form.get(f"tool_approved_{tool_id}") == "on",
                  "data_note": (form.get(f"tool_note_{tool_id}") or "").strip()}
                 for tool_id in form.getlist("tool_ids")]
        return self.load({"statement": form.get("statement", ""), "guidance": form.get("guidance", ""),
                          "pillars": pillars, "tools": tools})
