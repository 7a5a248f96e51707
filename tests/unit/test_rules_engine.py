"""The pure rule engine and its registry conditions: no app, no database."""
from dataclasses import dataclass
from datetime import datetime, timezone

import pytest
from marshmallow import ValidationError

from plugin.rules.engine import RuleSpec, award_key, evaluate
from plugin.rules.events import ExperimentLogged, Facts
from plugin.rules.registry import REGISTRY, load_params

WHEN = datetime(2025, 3, 3, 9, 0, tzinfo=timezone.utc)
# What onboarding gives every new organisation: points for each experiment, failures when reflected on.
DEFAULT_EACH = {"require_reflection_on_failure": True}


def logged(outcome: str = "worked", reflected: bool = False, experiment_id: int = 345, user_id: int = 3,
           course_id: int = 2) -> ExperimentLogged:
    return ExperimentLogged(organisation_id=1, course_id=course_id, user_id=user_id, experiment_id=experiment_id,
                            outcome=outcome, has_reflection=reflected, ai_tool_id=None, task_category_id=1,
                            occurred_at=WHEN)


def rule(condition: str = "each_experiment", params: dict | None = None, event: str = ExperimentLogged.name,
         repeatable: bool = True, rule_id: int = 12) -> RuleSpec:
    return RuleSpec(id=rule_id, version=1, condition=condition,
                    params=DEFAULT_EACH if params is None else params, event=event, repeatable=repeatable)


# --- each_experiment ------------------------------------------------------------------------------
@pytest.mark.parametrize("outcome, reflected, expected", [
    ("worked", False, True),
    ("worked", True, True),
    ("partly", False, True),
    ("failed", False, False),
    ("failed", True, True),
])
def test_each_experiment_under_default_params(outcome, reflected, expected):
    assert evaluate(rule(), logged(outcome, reflected), Facts(experiment_count=1)) is expected


def test_failed_without_reflection_counts_when_reflection_is_not_required():
    spec = rule(params={"require_reflection_on_failure": False})
    assert evaluate(spec, logged("failed", reflected=False), Facts()) is True


def test_reflection_is_required_on_failure_when_params_leave_it_out():
    assert evaluate(rule(params={}), logged("failed", reflected=False), Facts()) is False
    assert evaluate(rule(params={}), logged("failed", reflected=True), Facts()) is True


def test_outcome_filter_matches_only_the_listed_outcomes():
    spec = rule(params={"outcomes": ["worked"]})
    assert evaluate(spec, logged("worked"), Facts()) is True
    assert evaluate(spec, logged("partly", reflected=True), Facts()) is False
    assert evaluate(spec, logged("failed", reflected=True), Facts()) is False


def test_outcome_filter_on_failures_still_requires_reflection():
    spec = rule(params={"outcomes": ["failed"], "require_reflection_on_failure": True})
    assert evaluate(spec, logged("failed", reflected=True), Facts()) is True
    assert evaluate(spec, logged("failed", reflected=False), Facts()) is False
    assert evaluate(spec, logged("worked"), Facts()) is False


@pytest.mark.parametrize("params", [DEFAULT_EACH, {}], ids=["onboarding-default", "schema-default"])
def test_a_reflected_failure_earns_exactly_what_a_success_earns(params):
    spec = rule(params=params)
    worked, failed = logged("worked", experiment_id=1), logged("failed", reflected=True, experiment_id=2)
    assert evaluate(spec, worked, Facts(1)) is evaluate(spec, failed, Facts(2)) is True
    # Each pays under its own key, so neither is swallowed by the other's idempotency.
    assert award_key(spec, worked) != award_key(spec, failed)


# --- experiment_count_at_least --------------------------------------------------------------------
@pytest.mark.parametrize("count, expected", [(0, False), (2, False), (3, True), (10, True)])
def test_experiment_count_at_least(count, expected):
    spec = rule("experiment_count_at_least", {"count": 3}, repeatable=False)
    assert evaluate(spec, logged(), Facts(experiment_count=count)) is expected


def test_first_experiment_threshold_ignores_the_outcome():
    spec = rule("experiment_count_at_least", {"count": 1}, repeatable=False)
    assert evaluate(spec, logged("failed", reflected=False), Facts(experiment_count=1)) is True


# --- what never matches ---------------------------------------------------------------------------
def test_an_unknown_condition_never_matches():
    assert evaluate(rule("solved_world_hunger", {}), logged(), Facts(99)) is False


def test_a_rule_for_another_event_never_matches():
    assert evaluate(rule(event="kudos_given"), logged(), Facts(1)) is False


@dataclass(frozen=True)
class HelpConfirmed:
    user_id: int = 3
    course_id: int = 2
    name = "help_confirmed"


def test_a_condition_does_not_fire_for_an_event_it_does_not_handle():
    spec = rule("experiment_count_at_least", {"count": 1}, event=HelpConfirmed.name)
    assert evaluate(spec, HelpConfirmed(), Facts(experiment_count=5)) is False


# --- params are checked by the condition's schema -------------------------------------------------
@pytest.mark.parametrize("condition, params", [
    ("experiment_count_at_least", {}),
    ("experiment_count_at_least", {"count": 0}),
    ("experiment_count_at_least", {"count": "many"}),
    ("experiment_count_at_least", {"count": 10_001}),
    ("each_experiment", {"outcomes": ["brilliant"]}),
    ("each_experiment", {"outcomes": "worked"}),
    ("each_experiment", {"require_reflection_on_failure": "sometimes"}),
    ("each_experiment", {"bonus": 5}),
])
def test_bad_params_are_rejected(condition, params):
    with pytest.raises(ValidationError):
        load_params(condition, params)
    with pytest.raises(ValidationError):
        evaluate(rule(condition, params), logged(), Facts(1))


def test_params_defaults_are_filled_in():
    assert load_params("each_experiment", {}) == {"outcomes": [], "require_reflection_on_failure": True}
    assert load_params("experiment_count_at_least", {"count": "3"}) == {"count": 3}


def test_every_registered_condition_handles_experiment_logged():
    assert {"each_experiment", "experiment_count_at_least"} <= set(REGISTRY)
    for condition in REGISTRY.values():
        assert ExperimentLogged.name in condition.events


# --- award keys -----------------------------------------------------------------------------------
def test_a_repeatable_rule_pays_once_per_fact():
    spec = rule(rule_id=12, repeatable=True)
    assert award_key(spec, logged(experiment_id=345)) == "rule:12:experiment:345"
    assert award_key(spec, logged(experiment_id=346)) == "rule:12:experiment:346"


def test_a_once_only_rule_pays_once_per_person_and_course():
    spec = rule("experiment_count_at_least", {"count": 1}, repeatable=False, rule_id=7)
    first, second = logged(experiment_id=1), logged(experiment_id=2)
    assert award_key(spec, first) == award_key(spec, second) == "rule:7:user:3:course:2"
    assert award_key(spec, logged(course_id=9)) != award_key(spec, first)
    assert award_key(spec, logged(user_id=4)) != award_key(spec, first)


def test_keys_of_different_rules_never_collide():
    event = logged()
    assert award_key(rule(rule_id=1), event) != award_key(rule(rule_id=2), event)
