"""DbFacts.prefetch_experiment: what an experiment's rules ask first, read in one statement, answers exactly as
the questions asked one by one do, and the day's points are read again once awards were posted."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import select

from plugin.experiments.models import Experiment
from plugin.experiments.service import experiment_event
from plugin.extensions import db
from plugin.facts.db import DbFacts
from plugin.ledger.service import Posting, post_entry
from plugin.rules.engine import DIMINISHING_WINDOW
from tests.services.factories import later, log, make_actor, make_platform


def _questions(facts: DbFacts, event) -> tuple:
    return (facts.same_tool_and_category(event.attrs["tool_key"], event.attrs["category_id"],
                                         event.occurred_at - DIMINISHING_WINDOW, event.source_id),
            facts.points_on_day(facts.day_of(event.occurred_at), "experiment"),
            facts.experiments(failed_with_reflection=True, min_reflection=20), facts.experiments(),
            facts.experiments(shared_only=True), facts.distinct_tools(), facts.distinct_categories())


def test_prefetched_facts_answer_as_the_questions_asked_one_by_one(appctx):
    platform = make_platform()
    learner = make_actor(platform, "learner-a")
    db.session.commit()
    log(learner, later(1))
    log(learner, later(2), outcome="failed", learned="Always check the figures it gives against the source.")
    log(learner, later(3), visibility="private")
    db.session.commit()
    newest = db.session.scalar(select(Experiment).order_by(Experiment.id.desc()).limit(1))
    event = experiment_event(newest)

    ahead = DbFacts(learner.course_id, learner.user_id, learner.organisation_id)
    ahead.prefetch_experiment(event, 20)
    sent = []

    def listen(_conn, _cursor, statement, *_args):
        sent.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", listen)
    try:
        answers = _questions(ahead, event)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", listen)
    assert sent == []  # all answered by the one statement read ahead
    assert answers == _questions(DbFacts(learner.course_id, learner.user_id, learner.organisation_id), event)
    assert answers[0] == 2 and answers[1] > 0

    post_entry(Posting(organisation_id=learner.organisation_id, course_id=learner.course_id,
                       user_id=learner.user_id, amount=7, dimension="experimenting", source_type="experiment",
                       source_id=newest.id, key="test:prefetch:extra"), event.occurred_at)
    ahead.changed()  # as rules.process says after posting
    assert ahead.points_on_day(ahead.day_of(event.occurred_at), "experiment") == answers[1] + 7
    db.session.rollback()
