"""Pure rule evaluation: no database, no clock, no request. Facts and limits come in; a Decision goes out."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Callable

from plugin.i18n import lazy_gettext as _l
from plugin.rules import events as E
from plugin.rules.facts import Facts
from plugin.rules.registry import REGISTRY, load_params
from plugin.settings.service import Limits

DIMINISHING_WINDOW = timedelta(days=30)


@dataclass(frozen=True)
class RuleSpec:
    id: int
    version: int
    condition: str
    params: dict
    points: int = 0
    dimension: str = "experimenting"
    badge_id: int | None = None
    repeatable: bool = True
    cooldown_days: int = 0
    cap_count: int = 0
    cap_window_days: int = 0


# Why nothing, or why fewer points: codes, worded for learners here (lazy: read in the learner's language
# when shown; the engine itself only hands out codes).
NOTES = {
    "duplicate": _l("This looks very like an experiment you logged recently, so it was recorded without new points."),
    "short_reflection": _l("Experiments that did not work earn points with a reflection: say in a sentence or two "
                           "what you learned."),
    "repeat": _l("Fewer points: you have tried this tool on this kind of task several times this month. "
                 "Try something new!"),
    "daily_cap": _l("You reached today's points limit for experiments; it is logged all the same."),
    "cooldown": _l("This recognition was given recently; it can be earned again later."),
    "cap": _l("This recognition reached its limit for now."),
}


@dataclass(frozen=True)
class Decision:
    award: bool
    points: int = 0
    note: str = ""  # a NOTES code


def triggered_by(rule: RuleSpec, event_name: str) -> bool:
    condition = REGISTRY.get(rule.condition)
    return condition is not None and event_name in condition.events


def _on_sharing(rule: RuleSpec) -> bool:
    """Whether the rule's condition turns on whether an entry is shared: failed experiments shared with a
    reflection, and experiment counts of shared entries only."""
    return rule.condition == "failed_shared_with_reflection" or (
        rule.condition == "experiment_count" and bool((rule.params or {}).get("shared_only")))


def asks_past_awards(rule: RuleSpec) -> bool:
    """Whether evaluate() may ask the facts how often or when the rule recognised the person before: every rule
    but a repeatable per-fact one without cooldown or cap (that pays each fact, whatever it paid before)."""
    condition = REGISTRY.get(rule.condition)
    return not (rule.repeatable and condition is not None and condition.per_fact and not rule.cooldown_days
                and not rule.cap_count)


def evaluate(rule: RuleSpec, event: E.Event, facts: Facts, limits: Limits,
             params: Callable[[], dict] | None = None) -> Decision:
    """`params`, when given, hands over the rule's params already loaded (a caller evaluating many events)."""
    condition = REGISTRY.get(rule.condition)
    if condition is None or event.name not in condition.events:
        return Decision(False)
    if event.name == E.EXPERIMENT_LOGGED and event.attrs.get("near_duplicate"):
        return Decision(False, note="duplicate" if condition.per_fact else "")
    if event.name == E.EXPERIMENT_LOGGED and event.attrs.get("paid_at") is not None and not _on_sharing(rule):
        # An entry shared after it was logged (share_experiment, a replay's "shared later" event): only what sharing
        # changes is paid then. The other rules had their say when it was logged; asked again as of that day, but
        # with every entry logged since in their counts, a threshold rule paid for a window that never held its
        # number (three tools in a week, when the third came nine days later).
        return Decision(False)
    if not rule.repeatable and facts.rule_awards(rule.id) > 0:
        return Decision(False)
    if rule.repeatable and not condition.per_fact:
        window = (rule.params or {}).get("window_days") or 0
        last = facts.last_rule_award(rule.id)
        if last is not None and (not window or event.occurred_at - last < timedelta(days=window)):
            return Decision(False)  # a threshold pays once per window, not on every later event
    if rule.cooldown_days:
        last = facts.last_rule_award(rule.id)
        if last is not None and event.occurred_at - last < timedelta(days=rule.cooldown_days):
            return Decision(False, note="cooldown")
    if rule.cap_count:
        since = event.occurred_at - timedelta(days=rule.cap_window_days) if rule.cap_window_days else None
        if facts.rule_awards(rule.id, since) >= rule.cap_count:
            return Decision(False, note="cap")
    loaded = params() if params is not None else load_params(rule.condition, rule.params)
    if not condition.check(loaded, event, facts, limits):
        return Decision(False, note=_why_not(rule, event, limits))
    points, note = _points(rule, condition.per_fact, event, facts, limits)
    if points <= 0 and rule.badge_id is None:
        return Decision(False, note=note)
    return Decision(True, points, note)


def _why_not(rule: RuleSpec, event: E.Event, limits: Limits) -> str:
    if rule.condition != "each_experiment":
        return ""
    if event.attrs.get("outcome") == "failed":
        return "short_reflection"
    return ""


def _points(rule: RuleSpec, per_fact: bool, event: E.Event, facts: Facts, limits: Limits) -> tuple[int, str]:
    """Anti-gaming for experiments: diminishing returns for the same tool on the same task, a daily cap."""
    amount, note = rule.points, ""
    if amount <= 0 or event.name != E.EXPERIMENT_LOGGED:
        return max(amount, 0), note
    if per_fact:
        repeats = facts.same_tool_and_category(event.attrs["tool_key"], event.attrs["category_id"],
                                               event.occurred_at - DIMINISHING_WINDOW, event.source_id)
        if repeats >= limits.repeat_free_count:
            amount = amount * limits.repeat_factor_percent // 100
            note = "repeat"
    day = facts.day_of(event.occurred_at)
    room = max(0, limits.daily_points_cap - facts.points_on_day(day, "experiment"))
    # An entry shared days after it was logged is evaluated as of its logging day, and paid today: the cap of the
    # day it is paid in holds too (else each older entry shared found its own day's room, which what is paid today
    # never uses up, and sharing them all paid past today's cap). A replay does the same (replay/simulate.py, from
    # the entry's shared_at).
    paid_on = event.attrs.get("paid_at")
    if paid_on is not None and facts.day_of(paid_on) != day:
        room = min(room, max(0, limits.daily_points_cap - facts.points_on_day(facts.day_of(paid_on), "experiment")))
    if amount > room:
        amount = room
        note = "daily_cap"
    return amount, note


def award_key(rule: RuleSpec, event: E.Event) -> str:
    """Repeatable rules pay once per fact; once-only rules once per person and course."""
    if rule.repeatable:
        return f"rule:{rule.id}:{event.fact_key}"
    return f"rule:{rule.id}:user:{event.user_id}:course:{event.course_id}"
