"""Pure rule evaluation: no database, no clock, no request."""
from __future__ import annotations

from dataclasses import dataclass

from plugin.rules.events import Facts
from plugin.rules.registry import REGISTRY, load_params


@dataclass(frozen=True)
class RuleSpec:
    id: int
    version: int
    condition: str
    params: dict
    event: str
    repeatable: bool


def evaluate(rule: RuleSpec, event, facts: Facts) -> bool:
    condition = REGISTRY.get(rule.condition)
    if condition is None or event.name not in condition.events or rule.event != event.name:
        return False
    return condition.check(load_params(rule.condition, rule.params), event, facts)


def award_key(rule: RuleSpec, event) -> str:
    """Repeatable rules pay once per fact; once-only rules once per person and course."""
    if rule.repeatable:
        return f"rule:{rule.id}:{event.fact_key}"
    return f"rule:{rule.id}:user:{event.user_id}:course:{event.course_id}"
