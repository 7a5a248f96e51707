"""Property tests (Hypothesis) for the pure rule engine: random sequences of experiment events fed through
evaluate() with MemoryFacts kept up to date as the ledger would keep the database (the experiment row first,
then one award row and the points of each awarded Decision, per day and dimension).

Examples per run (fixed by @settings; no example database is written):
  test_once_only_rules_award_at_most_once_and_guards_hold       100
  test_daily_experiment_points_never_exceed_the_cap             100
  test_a_reflected_failure_earns_what_a_success_earns           150
  test_evaluate_is_deterministic_and_leaves_facts_untouched     100
  test_award_keys_are_stable_and_distinct_per_fact              150
(650 examples in all, a few seconds.)
"""
from __future__ import annotations

import copy
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from plugin.rules import events as E
from plugin.rules.engine import Decision, RuleSpec, award_key, evaluate, triggered_by
from plugin.rules.facts import MemoryFacts
from plugin.settings.service import Limits

START = datetime(2025, 1, 6, 8, 0, tzinfo=timezone.utc)
TOOLS = ["tool:1", "tool:2", "tool:3", "other"]
SETTINGS = dict(deadline=None, database=None)

# The default pack's experiment rules, plus guarded and points-triggered ones, so every guard is exercised.
EACH = RuleSpec(1, 1, "each_experiment", {"require_reflection_on_failure": True}, points=10)
RULES = [
    EACH,
    RuleSpec(2, 1, "experiment_count", {"count": 1}, points=0, badge_id=1, repeatable=False),
    RuleSpec(3, 1, "failed_shared_with_reflection", {"count": 1}, points=10, dimension="sharing", badge_id=2,
             repeatable=False),
    RuleSpec(4, 1, "distinct_tools", {"count": 3}, points=15, badge_id=3, repeatable=False),
    RuleSpec(5, 1, "distinct_categories", {"count": 4}, points=15, badge_id=4, repeatable=False),
    RuleSpec(6, 1, "active_week_streak", {"weeks": 4}, points=20, badge_id=5, repeatable=False),
    RuleSpec(7, 1, "experiment_count", {"count": 5, "window_days": 30}, points=25, repeatable=False),
    RuleSpec(8, 1, "experiment_count", {"count": 2, "shared_only": True, "window_days": 5}, points=5,
             cooldown_days=7),
    RuleSpec(9, 1, "each_experiment", {"outcomes": ["worked", "partly"]}, points=3, cap_count=2,
             cap_window_days=14),
    RuleSpec(10, 1, "level_reached", {"level": "Practitioner", "threshold": 50}, points=0, badge_id=6,
             repeatable=False),
    RuleSpec(11, 1, "points_in_dimension", {"dimension": "experimenting", "points": 40}, points=5,
             repeatable=False),
    RuleSpec(12, 1, "distinct_categories", {"count": 2}, points=5),  # repeatable threshold, no window
]
ONCE_ONLY = [r for r in RULES if not r.repeatable]
COOLDOWN = next(r for r in RULES if r.cooldown_days)
THRESHOLD_NO_WINDOW = RULES[-1]
CAPPED = next(r for r in RULES if r.cap_count)


# --- strategies -------------------------------------------------------------------------------------
limits_st = st.builds(
    Limits,
    daily_points_cap=st.integers(0, 80),
    repeat_free_count=st.integers(0, 5),
    repeat_factor_percent=st.integers(0, 100),
    min_reflection_chars=st.integers(0, 40),
)


@dataclass(frozen=True)
class Step:
    person: int
    gap_minutes: int
    outcome: str
    tool_key: str
    category_id: int
    shared: bool
    reflection_chars: int
    near_duplicate: bool


step_st = st.builds(
    Step,
    person=st.integers(0, 2),
    gap_minutes=st.one_of(st.integers(0, 180), st.integers(0, 60 * 24 * 10)),  # bursts and pauses
    outcome=st.sampled_from(["worked", "partly", "failed"]),
    tool_key=st.sampled_from(TOOLS),
    category_id=st.integers(1, 5),
    shared=st.booleans(),
    reflection_chars=st.integers(0, 60),
    near_duplicate=st.booleans(),
)
steps_st = st.lists(step_st, min_size=1, max_size=40)


# --- a ledger over MemoryFacts ----------------------------------------------------------------------
@dataclass(frozen=True)
class Awarded:
    person: int
    rule: RuleSpec
    event: E.Event
    decision: Decision


def events_of(steps: list[Step]) -> list[tuple[int, E.Event]]:
    """Experiments in logging order: ids and times increase, as log_experiment creates them."""
    out, at = [], START
    for source_id, step in enumerate(steps, start=1):
        at += timedelta(minutes=step.gap_minutes)
        out.append((step.person, E.Event(
            E.EXPERIMENT_LOGGED, 1, 7, 100 + step.person, "experiment", source_id, at,
            {"outcome": step.outcome, "reflection_chars": step.reflection_chars, "tool_key": step.tool_key,
             "category_id": step.category_id, "shared": step.shared, "near_duplicate": step.near_duplicate})))
    return out


def experiment_row(event: E.Event) -> dict:
    a = event.attrs
    return {"id": event.source_id, "at": event.occurred_at, "outcome": a["outcome"], "category_id": a["category_id"],
            "tool_key": a["tool_key"], "shared": a["shared"], "reflection_chars": a["reflection_chars"],
            "duplicate": a["near_duplicate"]}


def post(facts: MemoryFacts, rule: RuleSpec, event: E.Event, decision: Decision) -> None:
    facts.award_rows.append({"rule_id": rule.id, "at": event.occurred_at})
    if decision.points:
        for dimension in (rule.dimension, "total"):
            facts.point_totals[dimension] = facts.point_totals.get(dimension, 0) + decision.points
        day = (event.occurred_at.date(), event.source_type)
        facts.day_points[day] = facts.day_points.get(day, 0) + decision.points


def run_rules(facts: MemoryFacts, event: E.Event, limits: Limits, rules=RULES) -> list[tuple[RuleSpec, Decision]]:
    out = []
    for rule in rules:
        if triggered_by(rule, event.name):
            decision = evaluate(rule, event, facts, limits)
            if decision.award:
                post(facts, rule, event, decision)
                out.append((rule, decision))
    return out


def play(steps: list[Step], limits: Limits) -> tuple[dict[int, MemoryFacts], list[Awarded]]:
    """What rules.service.process does for each experiment, with MemoryFacts standing in for the database."""
    people: dict[int, MemoryFacts] = defaultdict(MemoryFacts)
    awarded: list[Awarded] = []
    for person, event in events_of(steps):
        facts = people[person]
        facts.experiment_rows.append(experiment_row(event))
        first = run_rules(facts, event, limits)
        awarded += [Awarded(person, r, event, d) for r, d in first]
        if any(d.points for _r, d in first):
            changed = replace(event, name=E.POINTS_CHANGED)
            awarded += [Awarded(person, r, changed, d) for r, d in run_rules(facts, changed, limits)]
    return people, awarded


# --- (a) once-only, cooldown and cap guards -----------------------------------------------------------
@settings(max_examples=100, **SETTINGS)
@given(steps=steps_st, limits=limits_st)
def test_once_only_rules_award_at_most_once_and_guards_hold(steps, limits):
    _people, awarded = play(steps, limits)
    per_person_rule = defaultdict(list)
    for a in awarded:
        per_person_rule[(a.person, a.rule.id)].append(a.event.occurred_at)
        assert not a.event.attrs.get("near_duplicate")  # a near-duplicate is logged, never awarded
    for rule in [*ONCE_ONLY, THRESHOLD_NO_WINDOW]:
        for person in range(3):
            assert len(per_person_rule[(person, rule.id)]) <= 1, (rule, person)
    cooldown, capped = COOLDOWN, CAPPED
    for person in range(3):
        times = per_person_rule[(person, cooldown.id)]
        assert all(later - earlier >= timedelta(days=cooldown.cooldown_days)
                   for earlier, later in zip(times, times[1:]))
        times = per_person_rule[(person, capped.id)]
        for i, moment in enumerate(times):
            in_window = [t for t in times[:i + 1] if moment - t <= timedelta(days=capped.cap_window_days)]
            assert len(in_window) <= capped.cap_count


# --- (b) the daily cap ------------------------------------------------------------------------------
@settings(max_examples=100, **SETTINGS)
@given(steps=steps_st, limits=limits_st)
def test_daily_experiment_points_never_exceed_the_cap(steps, limits):
    _people, awarded = play(steps, limits)
    per_day = defaultdict(int)
    for a in awarded:
        if a.event.name == E.EXPERIMENT_LOGGED:
            assert a.decision.points >= 0
            per_day[(a.person, a.event.occurred_at.date())] += a.decision.points
    assert all(total <= limits.daily_points_cap for total in per_day.values()), dict(per_day)


# --- (c) failing with a reflection is worth the same as succeeding -------------------------------------
@settings(max_examples=150, **SETTINGS)
@given(history=st.lists(step_st.map(lambda s: replace(s, person=0)), max_size=25), limits=limits_st,
       last=step_st, extra_chars=st.integers(0, 200), points=st.integers(1, 50))
def test_a_reflected_failure_earns_what_a_success_earns(history, limits, last, extra_chars, points):
    """'each_experiment' gives a failure with a reflection of at least min_reflection_chars (and at least one
    character: the form requires one) exactly what it gives a success or a partial success in the same
    situation: same history, tool, category, day and duplicate flag."""
    people, _ = play(history, limits)
    (_, event), = events_of([*history, replace(last, person=0)])[-1:]
    rule = replace(EACH, points=points)
    decisions = {}
    for outcome, chars in (("worked", 0), ("partly", 0),
                           ("failed", max(1, limits.min_reflection_chars) + extra_chars)):
        facts = copy.deepcopy(people[0])
        variant = replace(event, attrs={**event.attrs, "outcome": outcome, "reflection_chars": chars})
        facts.experiment_rows.append(experiment_row(variant))
        decisions[outcome] = evaluate(rule, variant, facts, limits)
    assert decisions["failed"] == decisions["worked"] == decisions["partly"]


# --- (d) determinism and purity ---------------------------------------------------------------------
ANY_EVENT = [E.EXPERIMENT_LOGGED, E.HELP_CONFIRMED, E.KUDOS_RECEIVED, E.REACTION_RECEIVED, E.REUSE_RECEIVED,
             E.POINTS_CHANGED]
OTHER_RULES = [
    RuleSpec(20, 1, "each_confirmed_help", {"across_teams_only": False}, points=10, dimension="helping"),
    RuleSpec(21, 1, "helps_given", {"count": 2, "across_teams": True}, points=10, repeatable=False),
    RuleSpec(22, 1, "kudos_received", {"count": 2, "window_days": 30}, points=5),
    RuleSpec(23, 1, "reactions_received", {"count": 3}, points=5, cap_count=1, cap_window_days=30),
    RuleSpec(24, 1, "reuses_received", {"count": 1}, points=5, cooldown_days=3),
    RuleSpec(25, 1, "each_reuse", {}, points=5, dimension="sharing"),
    RuleSpec(26, 1, "each_kudos", {}, points=2),
]


@st.composite
def received_rows(draw):
    moments = st.integers(0, 90 * 24).map(lambda h: START + timedelta(hours=h))
    return {
        "help_rows": draw(st.lists(st.builds(lambda at, x: {"at": at, "across_teams": x}, moments, st.booleans()),
                                   max_size=6)),
        "kudos_rows": draw(st.lists(moments.map(lambda at: {"at": at}), max_size=6)),
        "reaction_rows": draw(st.lists(moments.map(lambda at: {"at": at}), max_size=6)),
        "reuse_rows": draw(st.lists(moments.map(lambda at: {"at": at}), max_size=6)),
    }


@settings(max_examples=100, **SETTINGS)
@given(history=st.lists(step_st.map(lambda s: replace(s, person=0)), max_size=20), limits=limits_st,
       received=received_rows(), rule=st.sampled_from(RULES + OTHER_RULES), name=st.sampled_from(ANY_EVENT),
       last=step_st, across=st.booleans())
def test_evaluate_is_deterministic_and_leaves_facts_untouched(history, limits, received, rule, name, last, across):
    people, _ = play(history, limits)
    facts = people[0]
    for kind, rows in received.items():
        getattr(facts, kind).extend(rows)
    (_, event), = events_of([*history, replace(last, person=0)])[-1:]
    if name != E.EXPERIMENT_LOGGED:
        event = replace(event, name=name, attrs={"across_teams": across, "over_pair_cap": False})
    before = copy.deepcopy(facts)
    first = evaluate(rule, event, facts, limits)
    assert facts == before
    assert evaluate(rule, event, facts, limits) == first
    assert evaluate(rule, event, copy.deepcopy(before), limits) == first
    assert facts == before
    if not triggered_by(rule, name):
        assert first == Decision(False)


# --- (e) award keys ---------------------------------------------------------------------------------
@settings(max_examples=150, **SETTINGS)
@given(facts=st.lists(st.tuples(st.sampled_from(["experiment", "peer_help", "kudos", "reaction", "reuse"]),
                                st.integers(1, 10_000)), min_size=1, max_size=30, unique=True),
       people=st.lists(st.tuples(st.integers(1, 50), st.integers(1, 5)), min_size=1, max_size=5, unique=True),
       rule_ids=st.lists(st.integers(1, 500), min_size=2, max_size=4, unique=True),
       version=st.integers(1, 9), shift=st.integers(-1000, 1000))
def test_award_keys_are_stable_and_distinct_per_fact(facts, people, rule_ids, version, shift):
    def event(fact, person, at=START):
        (source_type, source_id), (user_id, course_id) = fact, person
        return E.Event(E.EXPERIMENT_LOGGED, 1, course_id, user_id, source_type, source_id, at, {"outcome": "worked"})

    repeatable = [RuleSpec(i, version, "each_experiment", {}, points=10) for i in rule_ids]
    once = [replace(r, repeatable=False) for r in repeatable]
    person = people[0]
    for rule in repeatable:
        keys = [award_key(rule, event(f, person)) for f in facts]
        assert len(set(keys)) == len(facts)  # one key per fact
        for f, key in zip(facts, keys):      # stable: time, attrs and rule version do not change it
            moved = replace(event(f, person, START + timedelta(hours=shift)), attrs={})
            assert award_key(replace(rule, version=version + 1, points=99), moved) == key
    all_repeatable = {award_key(r, event(f, person)) for r in repeatable for f in facts}
    assert len(all_repeatable) == len(repeatable) * len(facts)  # rules never share keys
    for rule in once:
        per_person = {p: {award_key(rule, event(f, p)) for f in facts} for p in people}
        assert all(len(keys) == 1 for keys in per_person.values())  # one key per person and course
        assert len(set().union(*per_person.values())) == len(people)
        assert not set().union(*per_person.values()) & all_repeatable
