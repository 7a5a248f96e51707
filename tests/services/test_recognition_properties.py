"""Property tests (Hypothesis) of recognition over the real database: random sequences of log_experiment calls
(tools, categories, outcomes, visibility, sensitive data, dates, repeated texts, retried submissions) for one
to three learners, each call committed as a request would commit it.

The database is emptied only after each test function, not between Hypothesis examples, so every example
registers a platform and organisation of its own (unique issuer and name) and checks only what it created,
or whole-table invariants that hold for all examples at once.

Examples per run (fixed by @settings):
  test_ledger_invariants_hold_over_random_logging                   20
  test_db_facts_answer_as_the_memory_reference_does                 20
  test_a_failure_with_a_too_short_reflection_earns_no_points         5
"""
from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from plugin.badges.models import BadgeAward
from plugin.badges.service import awards_for_source, badges_of
from plugin.catalog.service import items
from plugin.core.actor import Actor, Role
from plugin.experiments.models import Experiment
from plugin.experiments.service import experiment_event, log_experiment
from plugin.extensions import db
from plugin.facts.db import DbFacts
from plugin.ledger.models import LedgerEntry
from plugin.ledger.service import balances, points_for_source, verify_totals
from plugin.rules import service as rules
from plugin.rules.facts import MemoryFacts
from plugin.rules.models import Rule
from plugin.settings.service import Limits, limits, update_limits
from tests.services.factories import NOW, experiment_data, make_actor, make_platform

DB_SETTINGS = dict(deadline=None, database=None,
                   suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

LEARNERS = [("learner-a", "course-1"), ("learner-b", "course-1"), ("learner-a", "course-2")]  # same person, 2 courses
SHORT = "Check facts."                                             # 12 characters: under the default minimum of 20
LONG = "Always check the figures it gives against the source document."
TEXTS = {
    "a": ("Summarised a report", "Asked the assistant to summarise the quarterly report into five bullet points "
                                 "for the team meeting on Monday"),
    "b": ("Drafted feedback", "Used AI to draft feedback comments on student essays and then rewrote the tone of "
                              "each comment by hand"),
}
_unique = itertools.count()


def fresh_organisation():
    """A platform and organisation no other example uses: the database is shared by all examples."""
    n = next(_unique)
    platform = make_platform(f"https://lms-{n}.recognition.example", f"client-{n}", organisation=f"Org {n}")
    db.session.commit()
    return platform


step_st = st.fixed_dictionaries({
    "learner": st.integers(0, 2),
    "tool": st.integers(0, 3),  # 3: "Other"
    "other_name": st.sampled_from(["Our internal chatbot", "A local model"]),
    "category": st.integers(0, 4),
    "outcome": st.sampled_from(["worked", "partly", "failed"]),
    "visibility": st.sampled_from(["private", "team", "course"]),
    "sensitive": st.sampled_from(["no", "no", "no", "unsure", "yes"]),
    "learned": st.sampled_from(["", SHORT, LONG]),
    "text": st.sampled_from(["a", "b", "fresh", "fresh"]),
    "gap_minutes": st.one_of(st.integers(0, 240), st.integers(0, 60 * 24 * 9)),
    "retry": st.sampled_from([False, False, False, False, True]),
})
limits_st = st.fixed_dictionaries({
    "daily_points_cap": st.sampled_from([15, 25, 40, 60]),
    "repeat_free_count": st.integers(0, 3),
    "repeat_factor_percent": st.sampled_from([0, 50, 100]),
    "min_reflection_chars": st.sampled_from([1, 12, 13, 20]),
    "duplicate_threshold_percent": st.sampled_from([60, 80, 100]),
})
scenario_st = st.tuples(st.integers(1, 3), st.lists(step_st, min_size=4, max_size=16), limits_st)


@dataclass
class Scenario:
    organisation_id: int
    actors: list[Actor]
    created: list[Experiment] = field(default_factory=list)
    rows: dict[int, list[dict]] = field(default_factory=lambda: defaultdict(list))  # actor index -> Memory rows
    last: datetime = NOW


def ledger_rows(organisation_id: int) -> dict[int, tuple]:
    """Every column of the organisation's ledger rows, read past the ORM's identity map."""
    table = LedgerEntry.__table__
    return {row.id: tuple(row) for row in db.session.execute(
        select(table).where(table.c.organisation_id == organisation_id))}


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def play(n_learners: int, steps: list[dict], overrides: dict) -> Scenario:
    """Log the steps through log_experiment, committing each, and check what must hold after every request."""
    db.session.rollback()
    platform = fresh_organisation()
    org = platform.organisation_id
    admin = make_actor(platform, "admin", Role.ADMIN)
    update_limits(admin, {**asdict(Limits()), **overrides}, NOW)
    actors = [make_actor(platform, sub, context_id=course) for sub, course in LEARNERS[:n_learners]]
    db.session.commit()
    tools, categories = items(org, "tools")[:3], items(org, "categories")[:5]
    scenario = Scenario(org, actors)
    keys: dict[int, list[str]] = defaultdict(list)
    seen = {}
    tag = next(_unique)
    for i, step in enumerate(steps):
        who = step["learner"] % n_learners
        actor = actors[who]
        scenario.last += timedelta(minutes=step["gap_minutes"])
        retry = step["retry"] and bool(keys[who])
        key = keys[who][-1] if retry else f"sub-{tag}-{i:04d}"
        outcome = step["outcome"]
        learned = step["learned"] or (SHORT if outcome == "failed" else "")  # the form requires one on failure
        if step["text"] == "fresh":
            title, tried = f"Experiment {tag} {i}", " ".join(f"w{tag}x{i}y{j}" for j in range(10))
        else:
            title, tried = TEXTS[step["text"]]
        tool = tools[step["tool"]] if step["tool"] < 3 else None
        category = categories[step["category"]]
        data = experiment_data(org, submission_key=key, title=title, tried=tried, outcome=outcome, learned=learned,
                               ai_tool=str(tool.id) if tool else "other", ai_tool_other=step["other_name"],
                               task_category=category.id, sensitive_data=step["sensitive"],
                               visibility=step["visibility"])
        ledger_before = count(LedgerEntry)
        badges_before = count(BadgeAward)
        result = log_experiment(actor, data, scenario.last)
        db.session.commit()

        if retry:  # a retried submission returns the first experiment and earns nothing
            assert result.created is False and result.recognitions == []
            assert (count(LedgerEntry), count(BadgeAward)) == (ledger_before, badges_before)
        else:
            assert result.created is True
            keys[who].append(key)
            scenario.created.append(result.experiment)
            scenario.rows[who].append({
                "id": result.experiment.id, "at": scenario.last, "outcome": outcome, "category_id": category.id,
                "tool_key": f"tool:{tool.id}" if tool else "other",
                "shared": step["sensitive"] == "no" and step["visibility"] != "private",
                "reflection_chars": len(learned.strip()),
                "duplicate": result.experiment.duplicate_of_id is not None})
        # Append-only: every ledger row seen so far is still there, unchanged.
        now_rows = ledger_rows(org)
        assert all(now_rows.get(entry_id) == values for entry_id, values in seen.items())
        seen = now_rows
    return scenario


# --- ledger, badges and idempotency ------------------------------------------------------------------
@settings(max_examples=20, **DB_SETTINGS)
@given(scenario=scenario_st)
def test_ledger_invariants_hold_over_random_logging(appctx, scenario):
    n_learners, steps, overrides = scenario
    s = play(n_learners, steps, overrides)
    org_limits = limits(s.organisation_id)
    assert asdict(org_limits) == {**asdict(Limits()), **overrides}

    # Maintained totals equal the ledger, everywhere and for each learner.
    assert verify_totals() == []
    for actor in s.actors:
        sums = dict(db.session.execute(select(LedgerEntry.dimension, func.sum(LedgerEntry.amount)).where(
            LedgerEntry.course_id == actor.course_id, LedgerEntry.user_id == actor.user_id,
        ).group_by(LedgerEntry.dimension)).all())
        expected = {d: int(p) for d, p in sums.items()}
        if expected:
            expected["total"] = sum(expected.values())
        assert balances(actor.course_id, actor.user_id) == expected

    # No idempotency key twice, in the ledger or among badge awards.
    for model in (LedgerEntry, BadgeAward):
        dupes = db.session.execute(select(model.idempotency_key).group_by(model.idempotency_key)
                                   .having(func.count() > 1)).all()
        assert dupes == []

    # Once-only rules: at most one badge and one ledger entry per person and course.
    once = list(db.session.scalars(select(Rule).where(Rule.organisation_id == s.organisation_id,
                                                      Rule.repeatable.is_(False))))
    assert once
    for rule in once:
        for model in (BadgeAward, LedgerEntry):
            twice = db.session.execute(select(model.course_id, model.user_id).where(model.rule_id == rule.id)
                                       .group_by(model.course_id, model.user_id).having(func.count() > 1)).all()
            assert twice == [], (rule.name, model.__tablename__)
        if rule.badge_id:
            for actor in s.actors:
                names = [b.name for _a, b in badges_of(actor.course_id, actor.user_id) if b.id == rule.badge_id]
                assert len(names) <= 1

    # The daily cap on experiment points holds per learner and UTC day.
    per_day = defaultdict(int)
    for entry in db.session.scalars(select(LedgerEntry).where(LedgerEntry.organisation_id == s.organisation_id,
                                                              LedgerEntry.source_type == "experiment")):
        per_day[(entry.course_id, entry.user_id, entry.created_at.date())] += entry.amount
    assert all(points <= org_limits.daily_points_cap for points in per_day.values()), dict(per_day)

    # A near-duplicate is logged but earns no points and no badge.
    for experiment in s.created:
        if experiment.duplicate_of_id is not None:
            assert points_for_source(experiment.course_id, experiment.user_id, "experiment", experiment.id) == 0
            assert awards_for_source(experiment.course_id, experiment.user_id, "experiment", experiment.id) == []

    # Processing an already-processed experiment again awards nothing new.
    ledger_before, badges_before = count(LedgerEntry), count(BadgeAward)
    for experiment in s.created:
        again = rules.process(experiment_event(experiment), DbFacts(experiment.course_id, experiment.user_id),
                              org_limits, s.last + timedelta(minutes=1))
        assert [r for r in again if r.awarded] == []
    assert (count(LedgerEntry), count(BadgeAward)) == (ledger_before, badges_before)
    db.session.commit()


# --- DbFacts against the pure reference ---------------------------------------------------------------
def memory_facts(rows: list[dict]) -> MemoryFacts:
    return MemoryFacts(experiment_rows=list(rows))


@settings(max_examples=20, **DB_SETTINGS)
@given(scenario=scenario_st)
def test_db_facts_answer_as_the_memory_reference_does(appctx, scenario):
    """The SQL in plugin/facts/db.py answers each experiment question as MemoryFacts does over the rows the
    test itself logged (scoped to one person in one course; `since` inclusive)."""
    n_learners, steps, overrides = scenario
    s = play(n_learners, steps, overrides)
    for who, actor in enumerate(s.actors):
        rows = s.rows[who]
        sql, ref = DbFacts(actor.course_id, actor.user_id), memory_facts(rows)
        moments = sorted({r["at"] for r in rows})
        sinces = [None, *moments, *(m + timedelta(seconds=1) for m in moments[:3]), NOW + timedelta(days=400)]
        for since in sinces:
            assert sql.experiments(since=since) == ref.experiments(since=since), since
            assert sql.distinct_tools(since) == ref.distinct_tools(since), since
            assert sql.distinct_categories(since) == ref.distinct_categories(since), since
        middle = moments[len(moments) // 2] if moments else None
        filters = [{"shared_only": True}]
        filters += [{"failed_with_reflection": True, "min_reflection": n} for n in (1, 12, 13, 20, len(LONG) + 1)]
        filters += [{"outcome": o} for o in ("worked", "partly", "failed")]
        filters += [{"category_id": c} for c in {r["category_id"] for r in rows}]
        filters += [{"tool_id": int(t.split(":")[1])} for t in {r["tool_key"] for r in rows} if t != "other"]
        filters += [{"outcome": "failed", "shared_only": True}]
        for since in (None, middle):
            for f in filters:
                assert sql.experiments(since=since, **f) == ref.experiments(since=since, **f), (since, f)
        for r in rows:
            for since, before_id in ((r["at"] - timedelta(days=30), r["id"]), (r["at"], r["id"] + 1)):
                args = (r["tool_key"], r["category_id"], since, before_id)
                assert sql.same_tool_and_category(*args) == ref.same_tool_and_category(*args), args
        assert sql.active_weeks() == ref.active_weeks()
        for since in sinces:
            assert sql.active_weeks(since) == ref.active_weeks(since), since


# --- the minimum reflection holds for every rule -------------------------------------------------------
@settings(max_examples=5, **DB_SETTINGS)
@given(length=st.integers(1, 19))
def test_a_failure_with_a_too_short_reflection_earns_no_points(appctx, length):
    """Neither 'Logged an experiment' nor Fail Forward pays for a shared failure whose reflection is under
    min_reflection_chars; the First experiment badge (no points) still comes."""
    db.session.rollback()
    platform = fresh_organisation()
    learner = make_actor(platform, "learner-a")
    assert limits(learner.organisation_id).min_reflection_chars == 20
    result = log_experiment(learner, experiment_data(learner.organisation_id, outcome="failed",
                                                     learned="x" * length, visibility="course"), NOW)
    db.session.commit()
    assert result.created is True
    assert balances(learner.course_id, learner.user_id) == {}
    assert [b.name for _a, b in badges_of(learner.course_id, learner.user_id)] == ["First experiment"]
