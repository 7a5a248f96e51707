"""The pure rule engine: every registry condition, the guards and the anti-gaming in evaluate(), award keys,
params validation and ISO-week streaks. No app, no database: MemoryFacts and hand-built Events only."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from marshmallow import ValidationError

from plugin.onboarding.service import RULE_PACK
from plugin.rules import events as E
from plugin.rules.engine import NOTES, Decision, RuleSpec, award_key, evaluate, triggered_by
from plugin.rules.facts import MemoryFacts, streak, week_start
from plugin.rules.registry import REGISTRY, load_params
from plugin.settings.service import Limits

UTC = timezone.utc
WHEN = datetime(2025, 3, 5, 14, 0, tzinfo=UTC)  # a Wednesday
LIMITS = Limits()  # daily cap 60, 3 free repeats then 50 %, reflections of 20 characters
RULE_ID = 12

SOURCE_OF = {E.EXPERIMENT_LOGGED: "experiment", E.HELP_CONFIRMED: "peer_help", E.KUDOS_RECEIVED: "kudos",
             E.REACTION_RECEIVED: "reaction", E.REUSE_RECEIVED: "reuse", E.POINTS_CHANGED: "experiment",
             E.CHALLENGE_COMPLETED: "challenge_contribution"}


# --- builders ---------------------------------------------------------------------------------------
def experiment(source_id: int = 100, at: datetime = WHEN, user_id: int = 3, course_id: int = 2, **attrs) -> E.Event:
    """An experiment_logged event as experiments.service.experiment_event builds it."""
    values = {"outcome": "worked", "reflection_chars": 0, "tool_key": "tool:1", "category_id": 1, "shared": True,
              "near_duplicate": False}
    values.update(attrs)
    return E.Event(E.EXPERIMENT_LOGGED, 1, course_id, user_id, "experiment", source_id, at, values)


def fact(name: str, source_id: int = 50, at: datetime = WHEN, user_id: int = 3, course_id: int = 2,
         **attrs) -> E.Event:
    return E.Event(name, 1, course_id, user_id, SOURCE_OF[name], source_id, at, attrs)


def row(id: int = 1, at: datetime = WHEN, outcome: str = "worked", category_id: int = 1, tool_key: str = "tool:1",
        shared: bool = True, reflection_chars: int = 0, duplicate: bool = False) -> dict:
    return {"id": id, "at": at, "outcome": outcome, "category_id": category_id, "tool_key": tool_key,
            "shared": shared, "reflection_chars": reflection_chars, "duplicate": duplicate}


def rows(*specs: dict) -> list[dict]:
    """Experiment rows numbered 1.. in the order given (all before the event's id 100)."""
    return [row(id=i, **spec) for i, spec in enumerate(specs, start=1)]


def at_times(*deltas: timedelta) -> list[dict]:
    return [{"at": WHEN - d} for d in deltas]


def rule(condition: str = "each_experiment", params: dict | None = None, points: int = 10, **fields) -> RuleSpec:
    return RuleSpec(id=fields.pop("id", RULE_ID), version=fields.pop("version", 1), condition=condition,
                    params={} if params is None else params, points=points, **fields)


def days(n: float) -> timedelta:
    return timedelta(days=n)


def told(decision: Decision, code: str, words: str) -> bool:
    """The decision carries the note code whose learner-facing wording says `words`."""
    return decision.note == code and words in NOTES[code]


# --- every condition: one case that matches, one that does not ---------------------------------------
HELP = fact(E.HELP_CONFIRMED, across_teams=False, over_pair_cap=False)
HELP_ACROSS = fact(E.HELP_CONFIRMED, across_teams=True, over_pair_cap=False)
CHANGED = fact(E.POINTS_CHANGED)

CASES = [
    # each_experiment (per fact)
    pytest.param("each_experiment", {}, experiment(), MemoryFacts(), True, id="each_experiment-worked"),
    pytest.param("each_experiment", {}, experiment(outcome="partly"), MemoryFacts(), True,
                 id="each_experiment-partly-needs-no-reflection"),
    pytest.param("each_experiment", {}, experiment(outcome="failed", reflection_chars=20), MemoryFacts(), True,
                 id="each_experiment-failed-reflected"),
    pytest.param("each_experiment", {}, experiment(outcome="failed", reflection_chars=19), MemoryFacts(), False,
                 id="each_experiment-failed-short-reflection"),
    pytest.param("each_experiment", {"require_reflection_on_failure": False},
                 experiment(outcome="failed", reflection_chars=0), MemoryFacts(), True,
                 id="each_experiment-failed-reflection-not-required"),
    pytest.param("each_experiment", {"outcomes": ["worked"]}, experiment(outcome="partly"), MemoryFacts(), False,
                 id="each_experiment-outcome-filtered-out"),
    pytest.param("each_experiment", {}, experiment(near_duplicate=True), MemoryFacts(), False,
                 id="each_experiment-near-duplicate"),
    # each_confirmed_help (per fact)
    pytest.param("each_confirmed_help", {}, HELP, MemoryFacts(), True, id="each_help"),
    pytest.param("each_confirmed_help", {}, fact(E.HELP_CONFIRMED, across_teams=False, over_pair_cap=True),
                 MemoryFacts(), False, id="each_help-over-pair-cap"),
    pytest.param("each_confirmed_help", {"across_teams_only": True}, HELP, MemoryFacts(), False,
                 id="each_help-across-teams-only-same-team"),
    pytest.param("each_confirmed_help", {"across_teams_only": True}, HELP_ACROSS, MemoryFacts(), True,
                 id="each_help-across-teams-only-other-team"),
    # each_reuse, each_kudos (per fact; they always pay for their own event, never for another)
    pytest.param("each_reuse", {}, fact(E.REUSE_RECEIVED), MemoryFacts(), True, id="each_reuse"),
    pytest.param("each_reuse", {}, fact(E.REACTION_RECEIVED), MemoryFacts(), False, id="each_reuse-on-reaction"),
    pytest.param("each_kudos", {}, fact(E.KUDOS_RECEIVED), MemoryFacts(), True, id="each_kudos"),
    pytest.param("each_kudos", {}, fact(E.REUSE_RECEIVED), MemoryFacts(), False, id="each_kudos-on-reuse"),
    # experiment_count and its filters
    pytest.param("experiment_count", {"count": 2}, experiment(), MemoryFacts(rows({}, {})), True,
                 id="experiment_count-reached"),
    pytest.param("experiment_count", {"count": 3}, experiment(), MemoryFacts(rows({}, {})), False,
                 id="experiment_count-not-reached"),
    pytest.param("experiment_count", {"count": 2}, experiment(), MemoryFacts(rows({}, {"duplicate": True})), False,
                 id="experiment_count-near-duplicates-do-not-count"),
    pytest.param("experiment_count", {"count": 1, "outcome": "failed"}, experiment(),
                 MemoryFacts(rows({"outcome": "worked"}, {"outcome": "partly"})), False,
                 id="experiment_count-outcome-filter-excludes"),
    pytest.param("experiment_count", {"count": 1, "outcome": "failed"}, experiment(),
                 MemoryFacts(rows({"outcome": "worked"}, {"outcome": "failed"})), True,
                 id="experiment_count-outcome-filter-includes"),
    pytest.param("experiment_count", {"count": 1, "category_id": 2}, experiment(),
                 MemoryFacts(rows({"category_id": 1}, {"category_id": 3})), False,
                 id="experiment_count-category-filter-excludes"),
    pytest.param("experiment_count", {"count": 1, "category_id": 2}, experiment(),
                 MemoryFacts(rows({"category_id": 2})), True, id="experiment_count-category-filter-includes"),
    pytest.param("experiment_count", {"count": 1, "tool_id": 2}, experiment(),
                 MemoryFacts(rows({"tool_key": "tool:1"}, {"tool_key": "other"})), False,
                 id="experiment_count-tool-filter-excludes"),
    pytest.param("experiment_count", {"count": 1, "tool_id": 2}, experiment(),
                 MemoryFacts(rows({"tool_key": "tool:2"})), True, id="experiment_count-tool-filter-includes"),
    pytest.param("experiment_count", {"count": 2, "shared_only": True}, experiment(),
                 MemoryFacts(rows({"shared": True}, {"shared": False})), False,
                 id="experiment_count-shared-only-excludes-private"),
    # distinct tools / categories
    pytest.param("distinct_tools", {"count": 3}, experiment(),
                 MemoryFacts(rows({"tool_key": "tool:1"}, {"tool_key": "tool:2"}, {"tool_key": "other"})), True,
                 id="distinct_tools-reached"),
    pytest.param("distinct_tools", {"count": 3}, experiment(),
                 MemoryFacts(rows({"tool_key": "tool:1"}, {"tool_key": "tool:1"}, {"tool_key": "tool:2"})), False,
                 id="distinct_tools-repeats-do-not-count"),
    pytest.param("distinct_categories", {"count": 2}, experiment(),
                 MemoryFacts(rows({"category_id": 1}, {"category_id": 2})), True, id="distinct_categories-reached"),
    pytest.param("distinct_categories", {"count": 2}, experiment(),
                 MemoryFacts(rows({"category_id": 1}, {"category_id": 1}, {"category_id": 1})), False,
                 id="distinct_categories-repeats-do-not-count"),
    # failed experiments shared with a reflection
    pytest.param("failed_shared_with_reflection", {"count": 1}, experiment(),
                 MemoryFacts(rows({"outcome": "failed", "shared": True, "reflection_chars": 40})), True,
                 id="failed_shared-reached"),
    pytest.param("failed_shared_with_reflection", {"count": 1}, experiment(),
                 MemoryFacts(rows({"outcome": "failed", "shared": False, "reflection_chars": 40},
                                  {"outcome": "failed", "shared": True, "reflection_chars": 0},
                                  {"outcome": "worked", "shared": True, "reflection_chars": 40})), False,
                 id="failed_shared-private-or-unreflected-or-worked-do-not-count"),
    pytest.param("failed_shared_with_reflection", {"count": 1}, experiment(),
                 MemoryFacts(rows({"outcome": "failed", "shared": True, "reflection_chars": 19})), False,
                 id="failed_shared-reflection-under-the-minimum"),
    pytest.param("failed_shared_with_reflection", {"count": 1}, experiment(),
                 MemoryFacts(rows({"outcome": "failed", "shared": True, "reflection_chars": 20})), True,
                 id="failed_shared-reflection-at-the-minimum"),
    # peer help
    pytest.param("helps_given", {"count": 2}, HELP,
                 MemoryFacts(help_rows=[{"at": WHEN, "across_teams": False}] * 2), True, id="helps_given-reached"),
    pytest.param("helps_given", {"count": 3}, HELP,
                 MemoryFacts(help_rows=[{"at": WHEN, "across_teams": False}] * 2), False,
                 id="helps_given-not-reached"),
    pytest.param("helps_given", {"count": 1, "across_teams": True}, HELP,
                 MemoryFacts(help_rows=[{"at": WHEN, "across_teams": False}] * 5), False,
                 id="helps_given-across-teams-none"),
    pytest.param("helps_given", {"count": 1, "across_teams": True}, HELP_ACROSS,
                 MemoryFacts(help_rows=[{"at": WHEN, "across_teams": True}]), True,
                 id="helps_given-across-teams-one"),
    # received
    pytest.param("kudos_received", {"count": 2}, fact(E.KUDOS_RECEIVED),
                 MemoryFacts(kudos_rows=at_times(days(1), days(2))), True, id="kudos_received-reached"),
    pytest.param("kudos_received", {"count": 2}, fact(E.KUDOS_RECEIVED),
                 MemoryFacts(kudos_rows=at_times(days(1))), False, id="kudos_received-not-reached"),
    pytest.param("reactions_received", {"count": 3}, fact(E.REACTION_RECEIVED),
                 MemoryFacts(reaction_rows=at_times(days(1), days(2), days(3))), True,
                 id="reactions_received-reached"),
    pytest.param("reactions_received", {"count": 3}, fact(E.REACTION_RECEIVED),
                 MemoryFacts(reaction_rows=at_times(days(1), days(2)), reuse_rows=at_times(days(1))), False,
                 id="reactions_received-reuses-are-not-reactions"),
    pytest.param("reuses_received", {"count": 1}, fact(E.REUSE_RECEIVED),
                 MemoryFacts(reuse_rows=at_times(days(1))), True, id="reuses_received-reached"),
    pytest.param("reuses_received", {"count": 1}, fact(E.REUSE_RECEIVED),
                 MemoryFacts(reaction_rows=at_times(days(1))), False, id="reuses_received-reactions-are-not-reuses"),
    pytest.param("reuses_received", {"count": 2}, fact(E.REUSE_RECEIVED),
                 MemoryFacts(reuse_rows=[{"at": WHEN - days(k), "by": 7} for k in range(3)]), False,
                 id="reuses_received-one-colleague-counts-once"),
    # challenges completed (or mission evidence accepted)
    pytest.param("challenge_completed", {"count": 2}, fact(E.CHALLENGE_COMPLETED),
                 MemoryFacts(challenge_rows=at_times(days(0), days(3))), True, id="challenge_completed-reached"),
    pytest.param("challenge_completed", {"count": 2, "window_days": 30}, fact(E.CHALLENGE_COMPLETED),
                 MemoryFacts(challenge_rows=at_times(days(0), days(31))), False,
                 id="challenge_completed-one-outside-the-window"),
    # streak
    pytest.param("active_week_streak", {"weeks": 2}, experiment(),
                 MemoryFacts(rows({"at": WHEN}, {"at": WHEN - days(7)})), True, id="streak-two-weeks"),
    pytest.param("active_week_streak", {"weeks": 2}, experiment(),
                 MemoryFacts(rows({"at": WHEN}, {"at": WHEN - days(14)})), False, id="streak-gap-week"),
    # points and levels (after points moved)
    pytest.param("points_in_dimension", {"dimension": "sharing", "points": 30}, CHANGED,
                 MemoryFacts(point_totals={"sharing": 30, "total": 30}), True, id="points_in_dimension-reached"),
    pytest.param("points_in_dimension", {"dimension": "sharing", "points": 30}, CHANGED,
                 MemoryFacts(point_totals={"sharing": 29, "experimenting": 100, "total": 129}), False,
                 id="points_in_dimension-other-dimensions-do-not-count"),
    pytest.param("level_reached", {"level": "Practitioner", "threshold": 100}, CHANGED,
                 MemoryFacts(point_totals={"helping": 60, "sharing": 40, "total": 100}), True, id="level-reached"),
    pytest.param("level_reached", {"level": "Practitioner", "threshold": 100}, CHANGED,
                 MemoryFacts(point_totals={"helping": 99, "total": 99}), False, id="level-not-reached"),
]


@pytest.mark.parametrize("condition, params, event, facts, matches", CASES)
def test_condition(condition, params, event, facts, matches):
    decision = evaluate(rule(condition, params, points=10), event, facts, LIMITS)
    assert decision.award is matches
    assert decision.points == (10 if matches else 0)


def test_every_registered_condition_has_a_matching_and_a_non_matching_case():
    matching = {case.values[0] for case in CASES if case.values[4]}
    failing = {case.values[0] for case in CASES if not case.values[4]}
    assert matching == set(REGISTRY)
    assert failing == set(REGISTRY)


# --- the registry covers what issue 4 asks for -------------------------------------------------------
DEMANDED = {
    "experiments counted with outcome, category, tool and visibility filters in a window": (
        "experiment_count", {"count": 2, "outcome": "failed", "category_id": 4, "tool_id": 7, "shared_only": True,
                             "window_days": 30}, E.EXPERIMENT_LOGGED),
    "distinct AI tools tried": ("distinct_tools", {"count": 3}, E.EXPERIMENT_LOGGED),
    "distinct task categories": ("distinct_categories", {"count": 4}, E.EXPERIMENT_LOGGED),
    "failed experiments shared with a reflection": ("failed_shared_with_reflection", {"count": 1},
                                                    E.EXPERIMENT_LOGGED),
    "confirmed peer help given": ("helps_given", {"count": 3}, E.HELP_CONFIRMED),
    "help across teams": ("helps_given", {"count": 1, "across_teams": True}, E.HELP_CONFIRMED),
    "kudos received": ("kudos_received", {"count": 1}, E.KUDOS_RECEIVED),
    "reactions received on my experiments": ("reactions_received", {"count": 5}, E.REACTION_RECEIVED),
    "reuses received on my experiments": ("reuses_received", {"count": 3}, E.REUSE_RECEIVED),
    "active weeks in a row": ("active_week_streak", {"weeks": 4}, E.EXPERIMENT_LOGGED),
    "points in a dimension": ("points_in_dimension", {"dimension": "helping", "points": 50}, E.POINTS_CHANGED),
    "level reached": ("level_reached", {"level": "Practitioner", "threshold": 100}, E.POINTS_CHANGED),
}


@pytest.mark.parametrize("demand", sorted(DEMANDED))
def test_the_registry_offers_each_condition_type_the_issue_demands(demand):
    condition, params, event_name = DEMANDED[demand]
    assert condition in REGISTRY
    assert event_name in REGISTRY[condition].events
    loaded = load_params(condition, params)
    assert {k: loaded[k] for k in params} == params  # every demanded filter is a real, kept parameter


def test_every_rule_of_the_default_pack_names_a_registered_condition_with_valid_params():
    for key, _name, condition, params, *_rest in RULE_PACK:
        assert condition in REGISTRY, key
        load_params(condition, params)


# --- window_days ------------------------------------------------------------------------------------
def test_window_counts_experiments_from_exactly_window_days_ago_but_not_older():
    spec = rule("experiment_count", {"count": 2, "window_days": 7})
    on_the_edge = MemoryFacts(rows({"at": WHEN}, {"at": WHEN - days(7)}))
    just_outside = MemoryFacts(rows({"at": WHEN}, {"at": WHEN - days(7) - timedelta(seconds=1)}))
    assert evaluate(spec, experiment(), on_the_edge, LIMITS).award is True
    assert evaluate(spec, experiment(), just_outside, LIMITS).award is False


def test_no_window_counts_all_time():
    facts = MemoryFacts(rows({"at": WHEN}, {"at": WHEN - days(3000)}))
    assert evaluate(rule("experiment_count", {"count": 2}), experiment(), facts, LIMITS).award is True


@pytest.mark.parametrize("condition, facts", [
    ("distinct_tools", MemoryFacts(rows({"tool_key": "tool:1", "at": WHEN - days(40)}, {"tool_key": "tool:2"}))),
    ("distinct_categories", MemoryFacts(rows({"category_id": 1, "at": WHEN - days(40)}, {"category_id": 2}))),
    ("failed_shared_with_reflection", MemoryFacts(rows(
        {"outcome": "failed", "reflection_chars": 40, "at": WHEN - days(40)},
        {"outcome": "failed", "reflection_chars": 40}))),
])
def test_window_applies_to_experiment_thresholds(condition, facts):
    assert evaluate(rule(condition, {"count": 2}), experiment(), facts, LIMITS).award is True
    assert evaluate(rule(condition, {"count": 2, "window_days": 30}), experiment(), facts, LIMITS).award is False


@pytest.mark.parametrize("condition, event, facts", [
    ("helps_given", HELP, MemoryFacts(help_rows=[{"at": WHEN - days(40), "across_teams": False},
                                                 {"at": WHEN, "across_teams": False}])),
    ("kudos_received", fact(E.KUDOS_RECEIVED), MemoryFacts(kudos_rows=at_times(days(40), days(0)))),
    ("reactions_received", fact(E.REACTION_RECEIVED), MemoryFacts(reaction_rows=at_times(days(40), days(0)))),
    ("reuses_received", fact(E.REUSE_RECEIVED), MemoryFacts(reuse_rows=at_times(days(40), days(0)))),
])
def test_window_applies_to_received_and_help_thresholds(condition, event, facts):
    assert evaluate(rule(condition, {"count": 2}), event, facts, LIMITS).award is True
    assert evaluate(rule(condition, {"count": 2, "window_days": 30}), event, facts, LIMITS).award is False


# --- per fact vs threshold --------------------------------------------------------------------------
def test_a_per_fact_rule_pays_for_every_fact_under_its_own_key():
    spec = rule("each_experiment")
    facts = MemoryFacts()
    keys = []
    for source_id in (101, 102, 103):
        facts.experiment_rows.append(row(id=source_id, category_id=source_id))  # no repeats: full points
        decision = evaluate(spec, experiment(source_id, category_id=source_id), facts, LIMITS)
        assert decision == Decision(True, 10, "")
        facts.award_rows.append({"rule_id": spec.id, "at": WHEN})
        keys.append(award_key(spec, experiment(source_id)))
    assert keys == ["rule:12:experiment:101", "rule:12:experiment:102", "rule:12:experiment:103"]


def test_diminishing_returns_apply_to_per_fact_rules_but_not_to_thresholds():
    same_tool_and_task = MemoryFacts(rows({}, {}, {}, {}))  # four earlier experiments, same tool and category
    per_fact = evaluate(rule("each_experiment"), experiment(), same_tool_and_task, LIMITS)
    threshold = evaluate(rule("experiment_count", {"count": 4}), experiment(), same_tool_and_task, LIMITS)
    assert per_fact.points == 5
    assert threshold == Decision(True, 10, "")


def test_a_once_only_threshold_pays_when_reached_and_never_again():
    spec = rule("experiment_count", {"count": 2}, repeatable=False)
    facts = MemoryFacts(rows({}))
    assert evaluate(spec, experiment(101), facts, LIMITS).award is False
    facts.experiment_rows.append(row(id=101))
    assert evaluate(spec, experiment(101), facts, LIMITS) == Decision(True, 10, "")
    facts.award_rows.append({"rule_id": spec.id, "at": WHEN})
    facts.experiment_rows.append(row(id=102))
    assert evaluate(spec, experiment(102), facts, LIMITS) == Decision(False)


def test_a_repeatable_threshold_rule_pays_once_not_on_every_later_event():
    """A threshold pays when crossed, not again for every experiment after it (no volume contest)."""
    spec = rule("experiment_count", {"count": 3}, points=20, repeatable=True)  # create_rule's default
    facts = MemoryFacts(rows({"category_id": 1}, {"category_id": 2}))
    facts.experiment_rows.append(row(id=103, category_id=3))
    assert evaluate(spec, experiment(103, category_id=3), facts, LIMITS) == Decision(True, 20, "")
    facts.award_rows.append({"rule_id": spec.id, "at": WHEN})
    for later, source_id in ((days(1), 104), (days(400), 105)):
        facts.experiment_rows.append(row(id=source_id, category_id=source_id, at=WHEN + later))
        assert evaluate(spec, experiment(source_id, at=WHEN + later, category_id=source_id), facts,
                        LIMITS).award is False


@pytest.mark.parametrize("last_award_age, awarded", [(days(29), False), (days(30), True)])
def test_a_repeatable_threshold_with_a_window_pays_again_once_per_window(last_award_age, awarded):
    spec = rule("experiment_count", {"count": 1, "window_days": 30}, points=20, repeatable=True)
    facts = MemoryFacts(rows({}), award_rows=[{"rule_id": RULE_ID, "at": WHEN - last_award_age}])
    assert evaluate(spec, experiment(), facts, LIMITS).award is awarded


# --- guards -----------------------------------------------------------------------------------------
def test_a_once_only_rule_already_awarded_awards_nothing():
    spec = rule("each_experiment", repeatable=False)
    assert evaluate(spec, experiment(), MemoryFacts(award_rows=[{"rule_id": RULE_ID, "at": WHEN - days(300)}]),
                    LIMITS) == Decision(False)


def test_a_once_only_rule_is_not_blocked_by_another_rules_award():
    spec = rule("each_experiment", repeatable=False)
    facts = MemoryFacts(award_rows=[{"rule_id": RULE_ID + 1, "at": WHEN}])
    assert evaluate(spec, experiment(), facts, LIMITS) == Decision(True, 10, "")


def test_a_repeatable_rule_pays_again_after_its_own_awards():
    facts = MemoryFacts(award_rows=[{"rule_id": RULE_ID, "at": WHEN}] * 5)
    assert evaluate(rule("each_experiment"), experiment(), facts, LIMITS) == Decision(True, 10, "")


@pytest.mark.parametrize("since_last, awarded", [
    (days(7) - timedelta(seconds=1), False),
    (days(7), True),
    (days(30), True),
])
def test_cooldown_days_since_the_last_award(since_last, awarded):
    spec = rule("each_experiment", cooldown_days=7)
    facts = MemoryFacts(award_rows=[{"rule_id": RULE_ID, "at": WHEN - days(20)},
                                    {"rule_id": RULE_ID, "at": WHEN - since_last}])
    decision = evaluate(spec, experiment(), facts, LIMITS)
    assert decision.award is awarded
    assert decision.points == (10 if awarded else 0)
    if not awarded:
        assert told(decision, "cooldown", "again later")


def test_cooldown_ignores_other_rules_awards():
    facts = MemoryFacts(award_rows=[{"rule_id": RULE_ID + 1, "at": WHEN}])
    assert evaluate(rule("each_experiment", cooldown_days=7), experiment(), facts, LIMITS).award is True


@pytest.mark.parametrize("award_ages, cap_window_days, awarded", [
    ((days(1), days(6)), 7, False),          # two in the last week: capped
    ((days(1), days(8)), 7, True),           # one has left the window
    ((days(1),), 7, True),                   # below the cap
    ((days(400), days(500)), 0, False),      # no window: the cap is for all time
])
def test_cap_count_per_cap_window(award_ages, cap_window_days, awarded):
    spec = rule("each_experiment", cap_count=2, cap_window_days=cap_window_days)
    facts = MemoryFacts(award_rows=[{"rule_id": RULE_ID, "at": WHEN - age} for age in award_ages]
                        + [{"rule_id": RULE_ID + 1, "at": WHEN}] * 3)
    decision = evaluate(spec, experiment(), facts, LIMITS)
    assert decision.award is awarded
    assert decision.points == (10 if awarded else 0)
    if not awarded:
        assert told(decision, "cap", "limit")


# --- anti-gaming ------------------------------------------------------------------------------------
@pytest.mark.parametrize("minimum, chars, awarded", [(20, 19, False), (20, 20, True), (50, 49, False),
                                                     (50, 50, True), (0, 1, True)])
def test_min_reflection_chars_for_failed_experiments(minimum, chars, awarded):
    limits = Limits(min_reflection_chars=minimum)
    decision = evaluate(rule("each_experiment"), experiment(outcome="failed", reflection_chars=chars), MemoryFacts(),
                        limits)
    if awarded:
        assert decision == Decision(True, 10, "")
    else:
        assert (decision.award, decision.points) == (False, 0)
        assert told(decision, "short_reflection", "what you learned")


def test_a_failure_without_any_reflection_earns_nothing_even_without_a_minimum():
    decision = evaluate(rule("each_experiment"), experiment(outcome="failed", reflection_chars=0), MemoryFacts(),
                        Limits(min_reflection_chars=0))
    assert (decision.award, decision.points) == (False, 0)


def test_reflection_length_does_not_matter_when_it_worked():
    assert evaluate(rule("each_experiment"), experiment(outcome="worked", reflection_chars=0), MemoryFacts(),
                    Limits(min_reflection_chars=500)) == Decision(True, 10, "")


@pytest.mark.parametrize("outcome, chars", [("worked", 0), ("failed", 200)])
def test_a_near_duplicate_is_logged_without_points_and_the_learner_is_told_why(outcome, chars):
    decision = evaluate(rule("each_experiment"), experiment(outcome=outcome, reflection_chars=chars,
                                                            near_duplicate=True), MemoryFacts(), LIMITS)
    assert (decision.award, decision.points) == (False, 0)
    assert told(decision, "duplicate", "very like an experiment you logged recently")


def test_a_near_duplicate_earns_nothing_from_threshold_rules_either():
    """'Logged, not awarded again': copying an entry with a third tool selected does not make an Explorer."""
    facts = MemoryFacts(rows({"tool_key": "tool:1"}, {"tool_key": "tool:2"}, {"tool_key": "tool:3"}))
    explorer = rule("distinct_tools", {"count": 3}, points=15, badge_id=3, repeatable=False)
    assert evaluate(explorer, experiment(tool_key="tool:3"), facts, LIMITS) == Decision(True, 15, "")
    decision = evaluate(explorer, experiment(tool_key="tool:3", near_duplicate=True), facts, LIMITS)
    assert (decision.award, decision.points) == (False, 0)


@pytest.mark.parametrize("condition, params", [
    ("experiment_count", {"count": 3}), ("distinct_tools", {"count": 3}), ("distinct_categories", {"count": 3}),
    ("active_week_streak", {"weeks": 3}),
])
def test_near_duplicates_do_not_count_towards_thresholds(condition, params):
    specs = [{"tool_key": f"tool:{k}", "category_id": k, "at": WHEN - timedelta(weeks=k)} for k in range(3)]
    counted = MemoryFacts(rows(*specs))
    one_copied = MemoryFacts(rows(*specs[:2], {**specs[2], "duplicate": True}))
    assert evaluate(rule(condition, params), experiment(), counted, LIMITS).award is True
    assert evaluate(rule(condition, params), experiment(), one_copied, LIMITS).award is False


def diminishing_facts(*specs: dict, day_points: int = 0) -> MemoryFacts:
    facts = MemoryFacts(rows(*specs))
    if day_points:
        facts.day_points[(WHEN.date(), "experiment")] = day_points
    return facts


@pytest.mark.parametrize("earlier, points", [
    pytest.param([{}, {}], 10, id="two-repeats-are-free"),
    pytest.param([{}, {}, {}], 5, id="the-fourth-of-a-kind-earns-half"),
    pytest.param([{}, {}, {"tool_key": "tool:2"}], 10, id="another-tool-is-not-a-repeat"),
    pytest.param([{}, {}, {"tool_key": "other"}], 10, id="other-tool-is-not-a-repeat"),
    pytest.param([{}, {}, {"category_id": 2}], 10, id="another-category-is-not-a-repeat"),
    pytest.param([{}, {}, {"at": WHEN - days(30) - timedelta(seconds=1)}], 10, id="older-than-30-days"),
    pytest.param([{}, {}, {"at": WHEN - days(30)}], 5, id="exactly-30-days-counts"),
    pytest.param([{}, {}, {"outcome": "failed", "reflection_chars": 40, "shared": False}], 5,
                 id="any-outcome-or-visibility-repeats"),
])
def test_diminishing_returns_for_the_same_tool_and_category(earlier, points):
    decision = evaluate(rule("each_experiment"), experiment(), diminishing_facts(*earlier), LIMITS)
    assert (decision.award, decision.points) == (True, points)
    assert decision.note == ("repeat" if points == 5 else "")


def test_experiments_logged_after_this_one_are_not_repeats_of_it():
    facts = MemoryFacts([row(id=i) for i in (1, 101, 102, 103)])  # a replay sees later facts too
    assert evaluate(rule("each_experiment"), experiment(100), facts, LIMITS) == Decision(True, 10, "")


@pytest.mark.parametrize("free, percent, repeats, points", [
    (1, 20, 1, 2), (0, 50, 0, 5), (3, 100, 5, 10), (5, 50, 4, 10), (3, 33, 3, 3)])
def test_diminishing_returns_follow_the_organisations_limits(free, percent, repeats, points):
    limits = Limits(repeat_free_count=free, repeat_factor_percent=percent)
    decision = evaluate(rule("each_experiment"), experiment(), diminishing_facts(*[{}] * repeats), limits)
    assert decision.points == points


def test_a_zero_repeat_factor_awards_nothing_and_says_why():
    limits = Limits(repeat_free_count=1, repeat_factor_percent=0)
    decision = evaluate(rule("each_experiment"), experiment(), diminishing_facts({}), limits)
    assert (decision.award, decision.points) == (False, 0)
    assert told(decision, "repeat", "Fewer points")


@pytest.mark.parametrize("earned_today, points", [(0, 10), (50, 10), (55, 5), (59, 1)])
def test_the_daily_cap_reduces_points_to_the_room_left(earned_today, points):
    decision = evaluate(rule("each_experiment"), experiment(), diminishing_facts(day_points=earned_today), LIMITS)
    assert (decision.award, decision.points) == (True, points)
    assert decision.note == ("daily_cap" if points < 10 else "")


@pytest.mark.parametrize("earned_today", [60, 75])
def test_at_the_daily_cap_an_experiment_earns_nothing_and_the_learner_is_told(earned_today):
    decision = evaluate(rule("each_experiment"), experiment(), diminishing_facts(day_points=earned_today), LIMITS)
    assert (decision.award, decision.points) == (False, 0)
    assert told(decision, "daily_cap", "today's points limit")


def test_at_the_daily_cap_a_badge_is_still_awarded_without_points():
    spec = rule("experiment_count", {"count": 1}, points=15, badge_id=3, repeatable=False)
    facts = diminishing_facts({}, day_points=60)
    decision = evaluate(spec, experiment(), facts, LIMITS)
    assert decision == Decision(True, 0, "daily_cap")


def test_the_daily_cap_also_limits_threshold_rules_on_experiments():
    facts = diminishing_facts({}, {}, {}, day_points=50)
    decision = evaluate(rule("distinct_tools", {"count": 1}, points=15), experiment(), facts, LIMITS)
    assert decision.points == 10


def test_points_of_other_days_and_other_sources_do_not_use_up_todays_cap():
    facts = MemoryFacts(day_points={(WHEN.date() - timedelta(days=1), "experiment"): 60,
                                    (WHEN.date(), "peer_help"): 60, (WHEN.date(), "kudos"): 60})
    assert evaluate(rule("each_experiment"), experiment(), facts, LIMITS) == Decision(True, 10, "")


def test_diminished_points_are_then_capped():
    decision = evaluate(rule("each_experiment"), experiment(), diminishing_facts({}, {}, {}, day_points=58), LIMITS)
    assert decision == Decision(True, 2, "daily_cap")  # the cap is what the learner hits last


def test_a_cap_of_zero_stops_experiment_points():
    decision = evaluate(rule("each_experiment"), experiment(), MemoryFacts(), Limits(daily_points_cap=0))
    assert (decision.award, decision.points) == (False, 0)


def test_the_experiment_cap_and_repeat_rules_do_not_touch_help_points():
    facts = MemoryFacts(day_points={(WHEN.date(), "experiment"): 60, (WHEN.date(), "peer_help"): 500})
    assert evaluate(rule("each_confirmed_help"), HELP, facts, LIMITS) == Decision(True, 10, "")


# --- badge-only and untriggered rules ---------------------------------------------------------------
def test_a_badge_only_rule_with_no_points_still_awards():
    spec = rule("experiment_count", {"count": 1}, points=0, badge_id=5, repeatable=False)
    assert evaluate(spec, experiment(), MemoryFacts(rows({})), LIMITS) == Decision(True, 0, "")


def test_a_rule_with_neither_points_nor_badge_awards_nothing():
    assert evaluate(rule("experiment_count", {"count": 1}, points=0), experiment(), MemoryFacts(rows({})),
                    LIMITS).award is False


@pytest.mark.parametrize("condition", sorted(REGISTRY))
def test_a_rule_is_silent_for_events_that_do_not_trigger_it(condition):
    """Even when its facts would qualify, a rule neither awards nor leaves a note for another kind of event."""
    everything = MemoryFacts(
        rows(*[{"outcome": "failed", "reflection_chars": 40, "tool_key": f"tool:{i}", "category_id": i,
                "at": WHEN - days(7 * i)} for i in range(10)]),
        help_rows=[{"at": WHEN, "across_teams": True}] * 10, kudos_rows=at_times(*[days(0)] * 10),
        reaction_rows=at_times(*[days(0)] * 10), reuse_rows=at_times(*[days(0)] * 10),
        challenge_rows=at_times(*[days(0)] * 10), point_totals={"total": 10_000, "sharing": 10_000})
    params = {"each_experiment": {}, "each_confirmed_help": {}, "each_reuse": {}, "each_kudos": {},
              "active_week_streak": {"weeks": 2}, "points_in_dimension": {"dimension": "sharing", "points": 1},
              "level_reached": {"level": "Any", "threshold": 1}}.get(condition, {"count": 1})
    spec = rule(condition, params)
    others = [name for name in SOURCE_OF if name not in REGISTRY[condition].events]
    assert others
    for name in others:
        event = experiment() if name == E.EXPERIMENT_LOGGED else fact(name, across_teams=True, over_pair_cap=False)
        assert triggered_by(spec, name) is False
        assert evaluate(spec, event, everything, LIMITS) == Decision(False)
    own = next(iter(REGISTRY[condition].events))
    own_event = experiment() if own == E.EXPERIMENT_LOGGED else fact(own, across_teams=True, over_pair_cap=False)
    assert triggered_by(spec, own) is True
    assert evaluate(spec, own_event, everything, LIMITS).award is True


def test_an_unknown_condition_awards_nothing():
    spec = rule("most_messages_sent")
    assert triggered_by(spec, E.EXPERIMENT_LOGGED) is False
    assert evaluate(spec, experiment(), MemoryFacts(), LIMITS) == Decision(False)


# --- award keys -------------------------------------------------------------------------------------
def test_a_repeatable_rule_is_keyed_by_the_fact():
    spec = rule("each_experiment", repeatable=True)
    assert award_key(spec, experiment(345)) == "rule:12:experiment:345"
    assert award_key(spec, fact(E.HELP_CONFIRMED, source_id=9)) == "rule:12:peer_help:9"
    assert award_key(spec, experiment(345)) != award_key(spec, experiment(346))


def test_a_once_only_rule_is_keyed_by_person_and_course():
    spec = rule("experiment_count", {"count": 1}, repeatable=False)
    assert award_key(spec, experiment(345, user_id=3, course_id=2)) == "rule:12:user:3:course:2"
    assert award_key(spec, experiment(999, user_id=3, course_id=2)) == "rule:12:user:3:course:2"
    assert award_key(spec, experiment(345, user_id=4, course_id=2)) == "rule:12:user:4:course:2"
    assert award_key(spec, experiment(345, user_id=3, course_id=5)) == "rule:12:user:3:course:5"


def test_a_new_rule_version_keeps_the_key_so_nothing_is_awarded_twice():
    v1, v2 = rule("each_experiment", version=1), rule("each_experiment", version=2, points=20)
    assert award_key(v1, experiment(345)) == award_key(v2, experiment(345))


# --- params -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("condition, params", [
    ("experiment_count", {}),
    ("experiment_count", {"count": 0}),
    ("experiment_count", {"count": "many"}),
    ("experiment_count", {"count": 1, "outcome": "maybe"}),
    ("experiment_count", {"count": 1, "window_days": -1}),
    ("experiment_count", {"count": 1, "tool_id": "chatgpt"}),
    ("experiment_count", {"count": 1, "category_id": 2**31}),
    ("experiment_count", {"count": 1, "category_id": "99999999999999999999"}),
    ("experiment_count", {"count": 1, "tool_id": 0}),
    ("experiment_count", {"count": 1, "tool_id": 3_000_000_000}),
    ("distinct_tools", {"count": 10_001}),
    ("active_week_streak", {"weeks": 1}),
    ("active_week_streak", {}),
    ("points_in_dimension", {"dimension": "", "points": 10}),
    ("points_in_dimension", {"dimension": "sharing", "points": 0}),
    ("level_reached", {"level": "Practitioner"}),
    ("each_experiment", {"outcomes": ["sometimes"]}),
    ("each_confirmed_help", {"across_teams_only": "perhaps"}),
    ("each_reuse", {"bonus": 5}),
])
def test_bad_params_are_refused(condition, params):
    with pytest.raises(ValidationError):
        load_params(condition, params)


def test_evaluating_a_rule_with_bad_params_raises_rather_than_guessing():
    with pytest.raises(ValidationError):
        evaluate(rule("experiment_count", {"count": 0}), experiment(), MemoryFacts(rows({})), LIMITS)


def test_params_are_loaded_with_defaults_and_types():
    assert load_params("experiment_count", {"count": "3"}) == {
        "count": 3, "window_days": 0, "outcome": None, "category_id": None, "tool_id": None, "shared_only": False}
    assert load_params("experiment_count", {"count": 1, "category_id": "2147483647", "tool_id": 1}) == {
        "count": 1, "window_days": 0, "outcome": None, "category_id": 2**31 - 1, "tool_id": 1, "shared_only": False}
    assert load_params("each_experiment", {}) == {"outcomes": [], "require_reflection_on_failure": True}


# --- streaks across ISO weeks -----------------------------------------------------------------------
def test_week_start_is_the_iso_monday():
    assert week_start(datetime(2025, 3, 9, 23, 59, tzinfo=UTC)) == date(2025, 3, 3)   # Sunday night
    assert week_start(datetime(2025, 3, 10, 0, 0, tzinfo=UTC)) == date(2025, 3, 10)   # Monday midnight
    assert week_start(date(2025, 1, 1)) == date(2024, 12, 30)                          # ISO week 1 of 2025


MON = date(2025, 3, 10)


def weeks_back(*n: int) -> set[date]:
    return {MON - timedelta(weeks=k) for k in n}


@pytest.mark.parametrize("weeks, now, expected", [
    pytest.param(weeks_back(0, 1, 2), datetime(2025, 3, 12, 10, tzinfo=UTC), 3, id="this-week-and-two-before"),
    pytest.param(weeks_back(1, 2, 3), datetime(2025, 3, 10, 8, tzinfo=UTC), 3,
                 id="last-week-still-counts-on-monday-morning"),
    pytest.param(weeks_back(1, 2, 3), datetime(2025, 3, 16, 23, 59, tzinfo=UTC), 3,
                 id="last-week-still-counts-all-this-week"),
    pytest.param(weeks_back(1, 2, 3), datetime(2025, 3, 17, 0, 0, tzinfo=UTC), 0,
                 id="gone-once-a-whole-week-passes"),
    pytest.param(weeks_back(0, 2, 3), datetime(2025, 3, 12, tzinfo=UTC), 1, id="a-gap-breaks-the-streak"),
    pytest.param(weeks_back(0, 1, 3, 4, 5), datetime(2025, 3, 12, tzinfo=UTC), 2, id="only-the-latest-run-counts"),
    pytest.param(set(), datetime(2025, 3, 12, tzinfo=UTC), 0, id="nothing"),
    pytest.param({date(2024, 12, 16), date(2024, 12, 23), date(2024, 12, 30)},
                 datetime(2025, 1, 2, tzinfo=UTC), 3, id="across-the-new-year"),
])
def test_streak(weeks, now, expected):
    assert streak(weeks, now) == expected


def test_a_sunday_night_and_the_next_monday_morning_are_two_weeks_of_a_streak():
    sundays = [{"at": datetime(2025, 3, 9, 23, 59, tzinfo=UTC) - timedelta(weeks=k)} for k in range(3)]
    spec = rule("active_week_streak", {"weeks": 4}, points=20, repeatable=False)
    monday = datetime(2025, 3, 10, 0, 5, tzinfo=UTC)
    assert evaluate(spec, experiment(at=monday), MemoryFacts(rows(*sundays, {"at": monday})),
                    LIMITS) == Decision(True, 20, "")
    sunday = datetime(2025, 3, 9, 23, 58, tzinfo=UTC)
    assert evaluate(spec, experiment(at=sunday), MemoryFacts(rows(*sundays, {"at": sunday})), LIMITS).award is False
