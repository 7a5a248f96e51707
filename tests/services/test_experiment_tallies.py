"""The experiment tallies the rules read (facts.tallies): kept by the writers exactly as a rebuild from the
experiments gives them, answering as counting the experiments does, and filled by the migration that adds them."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from sqlalchemy import select, update

from plugin.catalog.service import items
from plugin.experiments.models import Experiment
from plugin.experiments.service import experiment_event, share_experiment
from plugin.extensions import db
from plugin.facts.db import DbFacts
from plugin.facts.models import ExperimentTally
from plugin.leaderboards import rebuild
from plugin.rules.engine import DIMINISHING_WINDOW
from tests.services.factories import NOW, log, make_actor, make_platform
from tests.support.migrating import migrated_app, step_back_and_upgrade

REFLECTION = "Check every figure it gives against the source before it goes out."


def _tallies(actor) -> dict[str, int]:
    return dict(db.session.execute(select(ExperimentTally.bucket, ExperimentTally.value).where(
        ExperimentTally.course_id == actor.course_id, ExperimentTally.user_id == actor.user_id)).all())


def test_the_tallies_the_writers_keep_equal_a_rebuild_through_logging_sharing_and_near_duplicates(appctx):
    platform = make_platform()
    ada, bo = make_actor(platform, "ada"), make_actor(platform, "bo")
    tools, categories = items(platform.organisation_id, "tools"), items(platform.organisation_id, "categories")
    log(ada, NOW, ai_tool=str(tools[1].id), task_category=categories[1].id)
    failed = log(ada, NOW + timedelta(days=1), outcome="failed", learned=REFLECTION).experiment
    private = log(ada, NOW + timedelta(days=1, hours=1), visibility="private", ai_tool="other",
                  ai_tool_other="An in-house assistant").experiment
    text = {"title": "Summarised the meeting notes", "tried": "Pasted the notes and asked for actions per owner"}
    log(bo, NOW, **text)
    copy = log(bo, NOW + timedelta(hours=2), **text).experiment  # a near-duplicate counts nowhere
    assert copy.duplicate_of_id is not None
    share_experiment(ada, private.id, "course", NOW + timedelta(days=2))
    share_experiment(ada, failed.id, "private", NOW + timedelta(days=2))
    db.session.commit()

    ada_tallies = _tallies(ada)
    assert ada_tallies["n"] == 3 and ada_tallies["shared"] == 2  # the private one shared, the failed one withdrawn
    assert {b for b, v in ada_tallies.items() if b.startswith("tool:") and v} == {
        f"tool:{tools[0].id}", f"tool:{tools[1].id}", "tool:other"}
    assert not any(b.startswith("fsr:") and v for b, v in ada_tallies.items())  # no failed entry is shared now
    assert _tallies(bo)["n"] == 1
    assert rebuild.verify() == {}

    share_experiment(ada, failed.id, "team", NOW + timedelta(days=3))
    db.session.commit()
    assert _tallies(ada)[f"fsr:{len(REFLECTION):05d}"] == 1
    facts = DbFacts(ada.course_id, ada.user_id, ada.organisation_id)
    assert facts.experiments(failed_with_reflection=True, min_reflection=len(REFLECTION)) == 1
    assert facts.experiments(failed_with_reflection=True, min_reflection=len(REFLECTION) + 1) == 0
    assert rebuild.verify() == {}
    # Guard for the guard: a tampered tally is noticed, and a rebuild puts it right.
    db.session.execute(update(ExperimentTally).where(ExperimentTally.user_id == ada.user_id,
                                                     ExperimentTally.bucket == "n").values(value=7))
    assert set(rebuild.verify()) == {"experiment_tally"}
    rebuild.rebuild()
    assert _tallies(ada)["n"] == 3 and rebuild.verify() == {}


def test_the_repeats_read_ahead_count_a_window_that_starts_within_a_day_as_counting_the_entries_does(appctx):
    platform = make_platform()
    ada = make_actor(platform, "ada")
    start = datetime(2025, 3, 3, 12, 0, tzinfo=timezone.utc)  # the window of the last entry starts here
    for moment in (start - timedelta(hours=2), start, start + timedelta(hours=5), start + timedelta(days=9),
                   start + DIMINISHING_WINDOW):
        log(ada, moment)
    db.session.commit()
    newest = db.session.scalar(select(Experiment).order_by(Experiment.id.desc()).limit(1))
    event = experiment_event(newest)
    since = event.occurred_at - DIMINISHING_WINDOW

    ahead = DbFacts(ada.course_id, ada.user_id, ada.organisation_id)
    ahead.prefetch_experiment(event, 20)
    read_ahead = ahead.same_tool_and_category(event.attrs["tool_key"], event.attrs["category_id"], since,
                                              event.source_id)
    counted = DbFacts(ada.course_id, ada.user_id, ada.organisation_id).same_tool_and_category(
        event.attrs["tool_key"], event.attrs["category_id"], since, event.source_id)
    # 12:00 (the window's first moment), 17:00 and nine days later; not 10:00, nor the entry itself.
    assert read_ahead == counted == 3


def test_the_migration_that_adds_the_tallies_fills_them_from_the_experiments_already_logged(tmp_path):
    with migrated_app(tmp_path):
        platform = make_platform()
        ada, bo = make_actor(platform, "ada"), make_actor(platform, "bo")
        log(ada, NOW)
        log(ada, NOW + timedelta(days=1), outcome="failed", learned=REFLECTION)
        log(bo, NOW, visibility="private", ai_tool="other", ai_tool_other="Something else")
        db.session.commit()
        kept = {(a.user_id, b): v for a in (ada, bo) for b, v in _tallies(a).items()}
        step_back_and_upgrade("0026")
        assert {(a.user_id, b): v for a in (ada, bo) for b, v in _tallies(a).items()} == kept
        assert kept[(ada.user_id, "n")] == 2 and kept[(bo.user_id, "tool:other")] == 1
        assert rebuild.verify() == {}


def test_on_sqlite_an_awards_read_ahead_looks_up_rows_and_never_walks_the_authors_history(appctx):
    """What an award reads stays the same however many experiments and awards its author has: tally buckets, one
    day of their entries, that day's points per quarter hour and the past awards of the rules that ask, each an index lookup
    or range (the every-experiment rule's entries, one per experiment, are not walked past)."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("EXPLAIN QUERY PLAN is SQLite's")
    platform = make_platform()
    ada = make_actor(platform, "ada")
    for hour in range(3):
        log(ada, NOW + timedelta(hours=hour))
    db.session.commit()
    sent = []

    def listen(_conn, _cursor, statement, parameters, *_args):
        if statement.startswith("SELECT 'facts' AS kind"):
            sent.append((statement, parameters))

    sa.event.listen(db.engine, "before_cursor_execute", listen)
    try:
        log(ada, NOW + timedelta(hours=4))
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", listen)
    (statement, parameters), = sent  # the read ahead is one statement
    plan = [row[-1] for row in db.session.connection().exec_driver_sql("EXPLAIN QUERY PLAN " + statement,
                                                                        parameters)]
    reads = [line for line in plan if any(f" {t} " in f"{line} " for t in (
        "experiment", "experiment_tally", "ledger_entry", "quarter_points", "badge_award"))]
    assert reads and all(line.startswith("SEARCH") for line in reads), plan
    assert any("ix_experiment_author_created" in line and "created_at>? AND created_at<?" in line for line in reads)
    assert any("quarter_points USING INDEX sqlite_autoindex_quarter_points_1" in line
               and "source_type=? AND quarter>? AND quarter<?" in line
               for line in reads), plan  # the day's points: its quarter hours, a range of the primary key
    assert any("ix_ledger_course_user_rule (course_id=? AND user_id=? AND rule_id=?)" in line for line in reads)
