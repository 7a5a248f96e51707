"""The "challenge completed" rule condition, pure: MemoryFacts and hand-built events, no app, no database."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from marshmallow import ValidationError

from plugin.rules import events as E
from plugin.rules.engine import Decision, RuleSpec, award_key, evaluate, triggered_by
from plugin.rules.facts import MemoryFacts
from plugin.rules.registry import REGISTRY, load_params
from plugin.settings.service import Limits

WHEN = datetime(2025, 3, 5, 14, 0, tzinfo=timezone.utc)
LIMITS = Limits()


def completed(source_id: int = 7, at: datetime = WHEN) -> E.Event:
    """As plugin/challenges/progress.py raises it: one per learner and challenge (its contribution row)."""
    return E.Event(E.CHALLENGE_COMPLETED, 1, 2, 3, "challenge_contribution", source_id, at,
                   {"challenge_id": 40, "mission": False})


def rule(params: dict, points: int = 20, **fields) -> RuleSpec:
    return RuleSpec(id=fields.pop("id", 12), version=1, condition="challenge_completed", params=params,
                    points=points, **fields)


def done(*days_ago: float) -> MemoryFacts:
    return MemoryFacts(challenge_rows=[{"at": WHEN - timedelta(days=d)} for d in days_ago])


@pytest.mark.parametrize("params, facts, matches", [
    pytest.param({"count": 1}, done(0), True, id="first-challenge"),
    pytest.param({"count": 3}, done(0, 10, 20), True, id="third-challenge"),
    pytest.param({"count": 3}, done(0, 10), False, id="two-of-three"),
    pytest.param({"count": 2, "window_days": 30}, done(0, 29), True, id="both-inside-the-window"),
    pytest.param({"count": 2, "window_days": 30}, done(0, 31), False, id="one-outside-the-window"),
    pytest.param({"count": 1}, MemoryFacts(), False, id="none-yet"),
])
def test_challenge_completed_counts_the_persons_completions(params, facts, matches):
    decision = evaluate(rule(params), completed(), facts, LIMITS)
    assert decision.award is matches
    assert decision.points == (20 if matches else 0)


def test_it_is_offered_in_the_registry_for_the_challenge_event_only():
    condition = REGISTRY["challenge_completed"]
    assert condition.events == frozenset({E.CHALLENGE_COMPLETED})
    assert E.CHALLENGE_COMPLETED in E.EVENT_LABELS  # the rule editor says when it is checked
    assert triggered_by(rule({"count": 1}), E.CHALLENGE_COMPLETED)
    assert not triggered_by(rule({"count": 1}), E.EXPERIMENT_LOGGED)
    experiment = E.Event(E.EXPERIMENT_LOGGED, 1, 2, 3, "experiment", 9, WHEN, {"near_duplicate": False})
    assert evaluate(rule({"count": 1}), experiment, done(0, 1, 2), LIMITS) == Decision(False)


def test_a_badge_only_rule_on_challenges_awards_the_badge():
    decision = evaluate(rule({"count": 1}, points=0, badge_id=5), completed(), done(0), LIMITS)
    assert decision.award is True and decision.points == 0


def test_a_repeatable_threshold_pays_once_per_window_and_a_once_only_rule_once():
    facts = done(0, 1)
    facts.award_rows.append({"rule_id": 12, "at": WHEN - timedelta(days=1)})
    assert evaluate(rule({"count": 1, "window_days": 7}), completed(), facts, LIMITS).award is False
    assert evaluate(rule({"count": 1, "window_days": 7}), completed(at=WHEN + timedelta(days=7)), facts,
                    LIMITS).award is True
    assert evaluate(rule({"count": 1}, repeatable=False), completed(), facts, LIMITS).award is False


def test_each_persons_completion_is_its_own_fact():
    """Two learners completing the same challenge must not share one idempotency key."""
    spec = rule({"count": 1})
    assert award_key(spec, completed(source_id=7)) != award_key(spec, completed(source_id=8))


def test_params_are_validated():
    assert load_params("challenge_completed", {"count": "2", "window_days": "30"}) == {"count": 2, "window_days": 30}
    assert load_params("challenge_completed", {"count": 1}) == {"count": 1, "window_days": 0}
    with pytest.raises(ValidationError):
        load_params("challenge_completed", {"count": 0})
    with pytest.raises(ValidationError):
        load_params("challenge_completed", {})
