"""Condition types: a name, a params schema and a pure check. Add one = add an entry and its unit test."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from marshmallow import Schema, fields, validate

from plugin.rules.events import ExperimentLogged, Facts

OUTCOMES = ["worked", "partly", "failed"]


@dataclass(frozen=True)
class Condition:
    name: str
    label: str
    events: frozenset[str]
    params_schema: type[Schema]
    check: Callable[[dict, object, Facts], bool]


class EachExperimentParams(Schema):
    outcomes = fields.List(fields.String(validate=validate.OneOf(OUTCOMES)), load_default=list)
    require_reflection_on_failure = fields.Boolean(load_default=True)


def _each_experiment(params: dict, event: ExperimentLogged, facts: Facts) -> bool:
    if params["outcomes"] and event.outcome not in params["outcomes"]:
        return False
    if event.outcome == "failed" and params["require_reflection_on_failure"]:
        return event.has_reflection
    return True


class CountAtLeastParams(Schema):
    count = fields.Integer(required=True, validate=validate.Range(min=1, max=10_000))


def _experiment_count_at_least(params: dict, event: ExperimentLogged, facts: Facts) -> bool:
    return facts.experiment_count >= params["count"]


REGISTRY: dict[str, Condition] = {
    c.name: c
    for c in [
        Condition("each_experiment", "Every experiment logged (failures count when reflected on)",
                  frozenset({ExperimentLogged.name}), EachExperimentParams, _each_experiment),
        Condition("experiment_count_at_least", "Number of experiments logged reaches a threshold",
                  frozenset({ExperimentLogged.name}), CountAtLeastParams, _experiment_count_at_least),
    ]
}


def load_params(condition: str, raw: dict) -> dict:
    """Validate a rule's params against its condition's schema (raises marshmallow.ValidationError)."""
    return REGISTRY[condition].params_schema().load(raw or {})
