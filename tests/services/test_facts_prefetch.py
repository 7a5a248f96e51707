"""DbFacts.prefetch_experiment: what an experiment's rules ask first, read in one statement, answers exactly as
the questions asked one by one do, and the day's points are read again once awards were posted."""
from __future__ import annotations

from datetime import datetime, time, timedelta, timezone

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from plugin.experiments.models import Experiment
from plugin.experiments.service import experiment_event
from plugin.extensions import db
from plugin.facts.db import DbFacts
from plugin.ledger.service import Posting, post_entry
from plugin.rules import service as rules
from plugin.rules.engine import DIMINISHING_WINDOW
from plugin.rules.facts import week_start
from tests.services.factories import later, log, make_actor, make_platform


def _questions(facts: DbFacts, event, rule_ids=()) -> tuple:
    streak_since = datetime.combine(week_start(event.occurred_at) - timedelta(weeks=5), time(0), tzinfo=timezone.utc)
    return (facts.active_weeks(streak_since), [facts.rule_awards(r) for r in rule_ids],
            [facts.last_rule_award(r) for r in rule_ids],
            facts.same_tool_and_category(event.attrs["tool_key"], event.attrs["category_id"],
                                         event.occurred_at - DIMINISHING_WINDOW, event.source_id),
            facts.points_on_day(facts.day_of(event.occurred_at), "experiment"),
            facts.experiments(failed_with_reflection=True, min_reflection=20), facts.experiments(),
            facts.experiments(shared_only=True), facts.distinct_tools(), facts.distinct_categories())


def test_prefetched_facts_answer_as_the_questions_asked_one_by_one(appctx):
    platform = make_platform()
    learner = make_actor(platform, "learner-a")
    db.session.commit()
    log(learner, later(1) - timedelta(days=8))
    log(learner, later(2), outcome="failed", learned="Always check the figures it gives against the source.")
    log(learner, later(3), visibility="private")
    db.session.commit()
    newest = db.session.scalar(select(Experiment).order_by(Experiment.id.desc()).limit(1))
    event = experiment_event(newest)

    rule_ids = [r.spec.id for r in rules._active(learner.organisation_id)]
    ahead = DbFacts(learner.course_id, learner.user_id, learner.organisation_id)
    ahead.prefetch_experiment(event, 20)
    sent = []

    def listen(_conn, _cursor, statement, *_args):
        sent.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", listen)
    try:
        answers = _questions(ahead, event, rule_ids)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", listen)
    assert sent == []  # all answered by the one statement read ahead
    assert answers == _questions(DbFacts(learner.course_id, learner.user_id, learner.organisation_id), event, rule_ids)
    assert len(answers[0]) == 2 and sum(answers[1]) > 0  # two weeks with experiments; some rules awarded
    assert answers[3] == 2 and answers[4] > 0  # two earlier experiments with this tool and category; points today

    rule_id = rule_ids[0]
    post_entry(Posting(organisation_id=learner.organisation_id, course_id=learner.course_id,
                       user_id=learner.user_id, amount=7, dimension="experimenting", source_type="experiment",
                       source_id=newest.id, key="test:prefetch:extra", rule_id=rule_id, rule_version=1),
               event.occurred_at + timedelta(minutes=1))
    ahead.changed(rule_id, event.occurred_at + timedelta(minutes=1), ledger=True)  # as rules.process tells it
    fresh = DbFacts(learner.course_id, learner.user_id, learner.organisation_id)
    assert _questions(ahead, event, rule_ids) == _questions(fresh, event, rule_ids)
    assert ahead.points_on_day(ahead.day_of(event.occurred_at), "experiment") == answers[4] + 7
    db.session.rollback()


def test_rules_left_out_of_the_read_ahead_are_still_answered_exactly(appctx):
    """An experiment's facts read the past awards of the rules that ask (rules.asking_rules) and leave out the
    others' (the every-experiment rule's, as many as the person's experiments); asked all the same, those are read
    then and answer as a fresh read does, before and after a new award is posted."""
    platform = make_platform()
    learner = make_actor(platform, "learner-q")
    for minute in (1, 2, 3):
        log(learner, later(minute))
    newest = db.session.scalar(select(Experiment).order_by(Experiment.id.desc()).limit(1))
    event = experiment_event(newest)
    asking = rules.asking_rules(learner.organisation_id)
    every = {r.spec.id for r in rules._active(learner.organisation_id) if r.spec.condition == "each_experiment"}
    assert every and not every & asking and asking  # the default every-experiment rule is not one of them
    rule_ids = [r.spec.id for r in rules._active(learner.organisation_id)]

    ahead = DbFacts(learner.course_id, learner.user_id, learner.organisation_id)
    ahead.prefetch_experiment(event, 20, awards_of=asking)
    fresh = DbFacts(learner.course_id, learner.user_id, learner.organisation_id)
    assert _questions(ahead, event, rule_ids) == _questions(fresh, event, rule_ids)
    assert all(ahead.rule_awards(r) == 3 for r in every)  # read when asked: three experiments paid

    rule_id = next(iter(every))
    post_entry(Posting(organisation_id=learner.organisation_id, course_id=learner.course_id,
                       user_id=learner.user_id, amount=7, dimension="experimenting", source_type="experiment",
                       source_id=newest.id, key="test:prefetch:quiet", rule_id=rule_id, rule_version=1),
               event.occurred_at + timedelta(minutes=1))
    ahead.changed(rule_id, event.occurred_at + timedelta(minutes=1), ledger=True)
    fresh = DbFacts(learner.course_id, learner.user_id, learner.organisation_id)
    assert _questions(ahead, event, rule_ids) == _questions(fresh, event, rule_ids)
    assert ahead.rule_awards(rule_id) == 4
    assert ahead.last_rule_award(rule_id) == event.occurred_at + timedelta(minutes=1)
    db.session.rollback()


def _experiment_questions(facts: DbFacts, event) -> tuple:
    streak_since = datetime.combine(week_start(event.occurred_at) - timedelta(weeks=5), time(0), tzinfo=timezone.utc)
    return (facts.active_weeks(streak_since),
            facts.same_tool_and_category(event.attrs["tool_key"], event.attrs["category_id"],
                                         event.occurred_at - DIMINISHING_WINDOW, event.source_id),
            facts.experiments(failed_with_reflection=True, min_reflection=20), facts.experiments(),
            facts.experiments(shared_only=True), facts.distinct_tools(), facts.distinct_categories())


@pytest.mark.parametrize("change", [
    {}, {"tool": 1}, {"category": 1}, {"tool": 1, "category": 1, "days": 9}, {"visibility": "private"},
    {"outcome": "failed", "learned": "It made up a figure; I now check every number it gives."},
    {"outcome": "failed", "learned": "Too short."}, {"tool": "other"},
])
def test_facts_read_before_the_experiment_is_inserted_answer_as_the_read_after_it(appctx, change):
    """PostgreSQL reads an experiment's facts in the statement that inserts it, as the rows were before it, and
    counts the new one in (experiment_read with `new`): every answer equals the read after the insert, whether the
    experiment brings a new tool, category or day, is private, or failed with a long or short reflection."""
    from plugin.catalog.service import items
    from plugin.rules import events as E

    platform = make_platform()
    learner = make_actor(platform, "learner-n")
    tools = [str(t.id) for t in items(learner.organisation_id, "tools")[:2]]
    categories = [c.id for c in items(learner.organisation_id, "categories")[:2]]
    log(learner, later(1) - timedelta(days=8))
    log(learner, later(2), outcome="failed", learned="Always check the figures it gives against the source.")
    log(learner, later(3), visibility="private")
    tool = "other" if change.get("tool") == "other" else tools[change.get("tool", 0)]
    category = categories[change.get("category", 0)]
    now = later(4) + timedelta(days=change.get("days", 0))
    overrides = {"ai_tool": tool, "task_category": category, "ai_tool_other": "A local model",
                 **{k: v for k, v in change.items() if k in ("visibility", "outcome", "learned")}}
    learned = overrides.get("learned", "")
    row = {"ai_tool_id": None if tool == "other" else int(tool), "created_at": now,
           "outcome": overrides.get("outcome", "worked"), "visibility": overrides.get("visibility", "course"),
           "reflection_chars": len(learned.strip())}
    before = DbFacts(learner.course_id, learner.user_id, learner.organisation_id)
    read = before.experiment_read(E.Event(
        name=E.EXPERIMENT_LOGGED, organisation_id=learner.organisation_id, course_id=learner.course_id,
        user_id=learner.user_id, source_type="experiment", source_id=0, occurred_at=now,
        attrs={"tool_key": "other" if tool == "other" else f"tool:{tool}", "category_id": category}), 20, new=row)
    rows = read.hot().all(db.session, read.params)

    logged = log(learner, now, **overrides).experiment
    event = experiment_event(logged)
    assert event.attrs["near_duplicate"] is False
    read.event = event
    before.take_experiment_read(read, rows)
    after = DbFacts(learner.course_id, learner.user_id, learner.organisation_id)
    after.prefetch_experiment(event, 20)
    sent = []

    def listen(_conn, _cursor, statement, *_args):
        sent.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", listen)
    try:
        answers = _experiment_questions(before, event)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", listen)
    assert sent == []  # all answered by the read before the insert
    assert answers == _experiment_questions(after, event)
    db.session.rollback()
