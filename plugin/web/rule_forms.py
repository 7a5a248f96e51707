"""The rule editor's form, derived from each condition's params schema (no raw JSON typing)."""
from __future__ import annotations

from dataclasses import dataclass

from marshmallow import fields as mf

from plugin.catalog.service import items
from plugin.core.ids import MAX_ID, bounded_int
from plugin.i18n import format_decimal
from plugin.i18n import gettext as _
from plugin.i18n import lazy_gettext as _l
from plugin.levels.service import dimensions, ladder
from plugin.onboarding.names import seeded
from plugin.rules.registry import OUTCOMES, REGISTRY

LABELS = {
    "count": _l("How many"), "window_days": _l("Within the last N days (0 = ever)"),
    "outcome": _l("Only with outcome"), "category_id": _l("Only in task category"),
    "tool_id": _l("Only with AI tool"), "shared_only": _l("Only shared ones"),
    "outcomes": _l("Only these outcomes (none ticked = any)"),
    "require_reflection_on_failure": _l("A failure counts only with a reflection"),
    "across_teams": _l("Across teams only"), "across_teams_only": _l("Only help across teams"),
    "weeks": _l("Weeks in a row"), "dimension": _l("Dimension"), "points": _l("Points"), "level": _l("Level"),
    "threshold": _l("Level threshold"),
}
OUTCOME_LABELS = {"worked": _l("Worked"), "partly": _l("Partly worked"), "failed": _l("Did not work")}


@dataclass(frozen=True)
class ParamField:
    name: str
    label: str
    kind: str                      # number | checkbox | select | checkboxes
    options: list[tuple[str, str]]
    required: bool


def param_fields(condition: str, organisation_id: int) -> list[ParamField]:
    if condition not in REGISTRY:
        return []
    out = []
    for name, field in REGISTRY[condition].params_schema().fields.items():
        if name == "threshold":
            continue  # set from the chosen level
        label = LABELS.get(name, name.replace("_", " ").capitalize())
        if isinstance(field, mf.Boolean):
            out.append(ParamField(name, label, "checkbox", [], False))
        elif isinstance(field, mf.List):
            out.append(ParamField(name, label, "checkboxes", list(OUTCOME_LABELS.items()), False))
        elif name == "category_id":
            out.append(ParamField(name, label, "select", [("", _("Any"))] + [(str(c.id), seeded(c.name)) for c in items(organisation_id, "categories")], False))
        elif name == "tool_id":
            out.append(ParamField(name, label, "select", [("", _("Any"))] + [(str(t.id), t.name) for t in items(organisation_id, "tools")], False))
        elif name == "outcome":
            out.append(ParamField(name, label, "select", [("", _("Any"))] + list(OUTCOME_LABELS.items()), False))
        elif name == "dimension":
            out.append(ParamField(name, label, "select", [(d.key, seeded(d.name)) for d in dimensions(organisation_id)], True))
        elif name == "level":
            out.append(ParamField(name, label, "select", [(s.name, _("%(level)s (%(points)s points)", level=seeded(s.name), points=format_decimal(s.threshold)))
                                                            for s in ladder(organisation_id)], True))
        else:
            out.append(ParamField(name, label, "number", [], field.required))
    return out


def parse_params(condition: str, form, organisation_id: int) -> dict:
    """Form values -> raw params for the schema to validate (the service validates)."""
    raw: dict = {}
    for spec in param_fields(condition, organisation_id):
        key = f"param_{spec.name}"
        if spec.kind == "checkbox":
            raw[spec.name] = form.get(key) in ("on", "1", "true")
        elif spec.kind == "checkboxes":
            raw[spec.name] = [v for v in form.getlist(key) if v in OUTCOMES]
        else:
            value = form.get(key, "").strip()
            if value != "":
                raw[spec.name] = value
    if condition == "level_reached" and raw.get("level"):
        steps = {s.name: s.threshold for s in ladder(organisation_id)}
        raw["threshold"] = steps.get(raw["level"], 0)
    return raw


def rule_fields(form, organisation_id: int) -> dict:
    condition = form.get("condition", "")
    return {
        "name": form.get("name", ""), "description": form.get("description", ""), "condition": condition,
        "params": parse_params(condition, form, organisation_id),
        "points": _int(form.get("points")), "dimension": form.get("dimension", ""),
        "badge_id": _int(form.get("badge_id")) or None, "repeatable": form.get("repeatable") == "on",
        "cooldown_days": _int(form.get("cooldown_days")), "cap_count": _int(form.get("cap_count")),
        "cap_window_days": _int(form.get("cap_window_days")), "active": form.get("active") == "on",
    }


def _int(value) -> int:
    number = bounded_int((value or "0").strip(), -MAX_ID)
    return -1 if number is None else number  # the service refuses -1 with a field message
