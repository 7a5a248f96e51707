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


def what_it_asks(condition: str, params: dict, names: dict[str, dict]) -> str:
    """The condition's label and the params that set it apart, for the rules list: "Confirmed helps given: 1,
    across teams only". `names`: {"categories"|"tools"|"dimensions": {id or key: name}}."""
    spec = REGISTRY.get(condition)
    if spec is None:
        return condition
    parts: list[str] = []
    p = params or {}
    if p.get("count") is not None:
        parts.append(format_decimal(p["count"]))
    if p.get("weeks"):
        parts.append(format_decimal(p["weeks"]))
    if p.get("points") and p.get("dimension"):
        dimension = names.get("dimensions", {}).get(p["dimension"], p["dimension"])
        parts.append(_("%(points)s points in %(dimension)s", points=format_decimal(p["points"]),
                       dimension=seeded(dimension)))
    if p.get("level"):
        parts.append(seeded(p["level"]))
    if p.get("window_days"):
        parts.append(_("in the last %(num)s days", num=format_decimal(p["window_days"])))
    outcomes = [p["outcome"]] if p.get("outcome") else list(p.get("outcomes") or [])
    if outcomes:
        parts.append(" / ".join(str(OUTCOME_LABELS[o]) for o in outcomes if o in OUTCOME_LABELS))
    if p.get("category_id"):
        parts.append(seeded(names.get("categories", {}).get(p["category_id"], "?")))
    if p.get("tool_id"):
        parts.append(names.get("tools", {}).get(p["tool_id"], "?"))
    if p.get("shared_only"):
        parts.append(_("shared ones only"))
    if p.get("across_teams") or p.get("across_teams_only"):
        parts.append(_("across teams only"))
    if p.get("require_reflection_on_failure") is False:
        parts.append(_("a failure counts without a reflection"))
    label = str(spec.label)
    return f"{label}: {', '.join(parts)}" if parts else label  # the same punctuation in English and Turkish


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
        "points": bounded_int(_typed(form.get("points")), -MAX_ID), "dimension": form.get("dimension", ""),
        "badge_id": _int(form.get("badge_id")) or None, "repeatable": form.get("repeatable") == "on",
        "cooldown_days": _int(form.get("cooldown_days")), "cap_count": _int(form.get("cap_count")),
        "cap_window_days": _int(form.get("cap_window_days")), "active": form.get("active") == "on",
    }


def _int(value) -> int:
    number = bounded_int(_typed(value), -MAX_ID)
    return -1 if number is None else number  # the service refuses -1 with a field message


def _typed(value) -> str:
    """A number box as typed, spaces around it dropped; empty (or only spaces) means 0."""
    return (value or "").strip() or "0"
