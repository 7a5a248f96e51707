"""Racing writers, as several requests or instances produce them: each thread has its own app context,
session and transaction, declares write intent as the adapters do, and commits; a barrier makes them start
together. No error may reach a caller, and the totals must equal the ledger afterwards."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select, text

from plugin.badges.service import badges_of
from plugin.core.actor import Role
from plugin.core.db import writing
from plugin.errors import Conflict
from plugin.experiments.models import Experiment
from plugin.experiments.service import log_experiment
from plugin.extensions import db
from plugin.ledger.models import LedgerEntry
from plugin.ledger.service import Posting, balance, post_entry, verify_totals
from plugin.settings.service import limits, update_limits
from plugin.tenancy.models import Platform
from tests.services.factories import NOW, experiment_data, later, make_actor, make_platform

THREADS = 8


def race(app, work, threads: int = THREADS) -> list:
    """Run work(i) in `threads` threads at once, each in its own app context and write transaction(s).

    Returns the results in thread order; fails the test with every exception a caller would have seen.
    The test thread commits first: its setup becomes visible to the writers, and its next read starts a
    fresh transaction that sees what they committed (a still-open SQLite read would keep its old snapshot).
    """
    db.session.commit()
    barrier = threading.Barrier(threads, timeout=30)
    results: list = [None] * threads
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            with app.app_context(), writing():
                barrier.wait()
                results[i] = work(i)
        except BaseException as exc:  # noqa: BLE001  (collected, then reported by the test thread)
            errors.append(exc)

    workers = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert not any(worker.is_alive() for worker in workers), "a writer hung"
    assert errors == [], f"errors reached the callers: {errors!r}"
    return results


def committing_thread(app, name: str, work, errors: list, results: dict | None = None,
                      ended: threading.Event | None = None) -> threading.Thread:
    """A started thread, named `name`, running work() in a transaction of its own and committing it: the result in
    results[name], an exception in errors; `ended` is set when it ends, however it ends (no test waits for ever)."""

    def run():
        try:
            with app.app_context(), writing():
                result = work()
                if results is not None:
                    results[name] = result
                db.session.commit()
        except BaseException as exc:  # noqa: BLE001 - reported by the caller
            errors.append(exc)
        finally:
            if ended is not None:
                ended.set()

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    return thread


def until_sessions_wait_for_locks(count: int, tries: int = 500) -> bool:
    """PostgreSQL: True once `count` sessions wait for a lock, False if they never do within `tries` looks."""
    for _try in range(tries):
        waiting = db.session.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"))
        db.session.rollback()
        if waiting >= count:
            return True
        threading.Event().wait(0.01)
    return False


def until_it_waits_for_a_lock(thread: threading.Thread) -> None:
    """Return once `thread` has ended or (PostgreSQL) a session waits for a lock; SQLite, where a second writer
    waits at BEGIN IMMEDIATE unseen from here: after a short while."""
    postgresql = db.engine.dialect.name == "postgresql"
    for _try in range(300 if postgresql else 20):
        if not thread.is_alive():
            return
        if postgresql:
            waiting = db.session.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"))
            db.session.rollback()
            if waiting:
                return
        threading.Event().wait(0.01)


def while_the_first_waits_to_commit(app, first, second) -> list:
    """Run first() up to its flush, then second() in another transaction, and commit the first only once the
    second has finished or is waiting for a lock (the order a barrier only makes likely). Returns both results."""
    db.session.commit()
    results, errors, flushed, go = [None, None], [], threading.Event(), threading.Event()

    def run(i, work, hold):
        try:
            with app.app_context(), writing():
                results[i] = work()
                if hold:
                    flushed.set()
                    go.wait(30)
                db.session.commit()
        except Conflict:
            results[i] = "refused"
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            flushed.set()

    one = threading.Thread(target=run, args=(0, first, True), daemon=True)
    one.start()
    assert flushed.wait(30)
    two = threading.Thread(target=run, args=(1, second, False), daemon=True)
    two.start()
    until_it_waits_for_a_lock(two)
    go.set()
    one.join(30)
    two.join(30)
    assert errors == [] and not one.is_alive() and not two.is_alive()
    return results


@pytest.fixture
def learner(appctx):
    """A learner whose organisation lifts the anti-gaming limits: these tests are about races."""
    platform = make_platform()
    admin = make_actor(platform, "admin", role=Role.ADMIN)
    update_limits(admin, {**limits(admin.organisation_id).__dict__, "daily_points_cap": 100_000,
                          "repeat_free_count": 100}, NOW)
    return make_actor(platform, "racer")


def ledger_rows(*where) -> int:
    return db.session.scalar(select(func.count()).select_from(LedgerEntry).where(*where))


def ledger_sum(actor) -> int:
    return db.session.scalar(select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
        LedgerEntry.course_id == actor.course_id, LedgerEntry.user_id == actor.user_id))


def posting(actor, key: str, amount: int) -> Posting:
    return Posting(organisation_id=actor.organisation_id, course_id=actor.course_id, user_id=actor.user_id,
                   amount=amount, dimension="experimenting", source_type="manual", source_id=None, key=key)


def test_the_same_idempotency_key_posted_at_once_counts_once(appctx, learner):
    def work(i):
        entry_id = post_entry(posting(learner, "rule:1:experiment:42", 10), NOW)
        db.session.commit()
        return entry_id

    results = race(appctx, work)
    assert len([r for r in results if r is not None]) == 1
    assert ledger_rows(LedgerEntry.idempotency_key == "rule:1:experiment:42") == 1
    assert balance(learner.course_id, learner.user_id) == 10
    assert verify_totals() == []


def test_distinct_keys_posted_at_once_all_add_up(appctx, learner):
    def work(i):
        ids = []
        for n in range(5):
            ids.append(post_entry(posting(learner, f"thread:{i}:entry:{n}", i + 1), later(n)))
            db.session.commit()
        return ids

    results = race(appctx, work)
    assert all(entry_id is not None for ids in results for entry_id in ids)
    expected = sum(5 * (i + 1) for i in range(THREADS))
    assert ledger_rows() == 5 * THREADS
    assert balance(learner.course_id, learner.user_id) == expected == ledger_sum(learner)
    assert verify_totals() == []


def test_one_learner_logging_from_many_tabs_at_once(appctx, learner):
    data = [[experiment_data(learner.organisation_id, title=f"Experiment {i}.{n}",
                             outcome="failed" if n == 1 else "worked",
                             learned="What I learned: check the numbers." if n == 1 else "") for n in range(3)]
            for i in range(THREADS)]

    def work(i):
        created = []
        for n, item in enumerate(data[i]):
            created.append(log_experiment(learner, item, later(n)).created)
            db.session.commit()
        return created

    results = race(appctx, work)
    assert results == [[True, True, True]] * THREADS
    assert db.session.scalar(select(func.count()).select_from(Experiment)) == 3 * THREADS
    assert ledger_rows() == 3 * THREADS + 1  # plus Fail Forward, once
    assert balance(learner.course_id, learner.user_id) == 10 * 3 * THREADS + 10 == ledger_sum(learner)
    assert verify_totals() == []
    assert sorted(badge.name for _award, badge in badges_of(learner.course_id, learner.user_id)) == [
        "Fail Forward", "First experiment"]


@pytest.mark.parametrize("form", [False, True], ids=["api", "form edited after Back"])
def test_the_same_submission_racing_in_is_recorded_once(appctx, learner, form):
    """The web form's (edited_is_new) too: Back to a saved form, an edit, Save pressed in two tabs at once."""
    data = experiment_data(learner.organisation_id, submission_key="retry-storm-0001")
    if form:
        log_experiment(learner, data, NOW, edited_is_new=True)
        db.session.commit()
        data = {**data, "title": "Drafted an outline with AI, then trimmed it"}

    def work(i):
        logged = log_experiment(learner, data, NOW, edited_is_new=form)
        result = (logged.created, logged.experiment.id)
        db.session.commit()
        return result

    results = race(appctx, work)
    assert sorted(created for created, _ in results) == [False] * (THREADS - 1) + [True]
    assert len({experiment_id for _, experiment_id in results}) == 1
    assert db.session.scalar(select(func.count()).select_from(Experiment)) == 1 + form
    assert ledger_rows() == 1 + form
    assert balance(learner.course_id, learner.user_id) == 10 * (1 + form)
    assert len(badges_of(learner.course_id, learner.user_id)) == 1


def test_racing_awards_to_many_learners_keep_boards_and_rank_buckets_exact(app, learner):
    """Eight writers awarding different learners of one course move shared rank buckets at once: none may
    deadlock or fail, and every board and bucket must equal a rebuild from the ledger afterwards."""
    from plugin.leaderboards.queries import Scope, board
    from plugin.leaderboards.rebuild import verify

    platform_id, course_context = learner.platform_id, "course-1"
    from plugin.tenancy.models import Platform
    platform = db.session.get(Platform, platform_id)
    people = [make_actor(platform, f"racer-{i}", context_id=course_context) for i in range(THREADS)]

    def work(i: int) -> None:
        for n in range(6):
            person = people[(i + n) % THREADS]
            post_entry(Posting(organisation_id=person.organisation_id, course_id=person.course_id,
                               user_id=person.user_id, amount=5 + (n % 3) * 5, dimension="experimenting",
                               source_type="manual", source_id=None, key=f"race-board:{i}:{n}"), NOW)
            db.session.commit()

    race(app, work)
    assert verify() == {}
    result = board(Scope.course(people[0].course_id), limit=THREADS + 1)
    assert sum(r.points for r in result.rows if r.user_id in {p.user_id for p in people}) == THREADS * (5 + 10 + 15) * 2


def test_experiments_racing_in_from_one_learner_stay_within_the_daily_cap_and_repeat_limit(appctx, learner):
    """Eight tabs (or instances) logging for one learner at once: each award must see what the others paid, or
    every one finds the whole day's cap (and the free repeats) still unused and pays in full."""
    admin = make_actor(db.session.get(Platform, learner.platform_id), "cap-admin", role=Role.ADMIN)
    update_limits(admin, {**limits(learner.organisation_id).__dict__, "daily_points_cap": 35,
                          "repeat_free_count": 2, "repeat_factor_percent": 50}, NOW)
    data = [experiment_data(learner.organisation_id) for _ in range(THREADS)]  # one tool, one category

    def work(i):
        log_experiment(learner, data[i], later(i))
        db.session.commit()

    race(appctx, work)
    paid = sorted(db.session.scalars(select(LedgerEntry.amount).where(
        LedgerEntry.user_id == learner.user_id, LedgerEntry.source_type == "experiment",
        LedgerEntry.rule_id.is_not(None))), reverse=True)
    assert sum(paid) == 35  # 10 + 10 (the free repeats), then 5 + 5 + 5 (halved), then the cap: nothing
    assert paid[:5] == [10, 10, 5, 5, 5]
    assert balance(learner.course_id, learner.user_id) == ledger_sum(learner)
    assert verify_totals() == []


def test_sharing_an_experiment_while_logging_another_stays_within_the_daily_cap(appctx, learner):
    """Sharing a failure earns Fail Forward's points under the same daily cap as logging: a share and a new entry at
    once must not each find the day's cap still open."""
    from plugin.experiments.service import share_experiment

    admin = make_actor(db.session.get(Platform, learner.platform_id), "cap-admin", role=Role.ADMIN)
    update_limits(admin, {**limits(learner.organisation_id).__dict__, "daily_points_cap": 20}, NOW)
    failed = log_experiment(learner, experiment_data(learner.organisation_id, outcome="failed", visibility="private",
                                                     learned="What I learned: it invents sources."), NOW).experiment
    failed_id, data = failed.id, experiment_data(learner.organisation_id)

    while_the_first_waits_to_commit(appctx, lambda: share_experiment(learner, failed_id, "course", later(1)).id,
                                    lambda: log_experiment(learner, data, later(2)).experiment.id)
    assert balance(learner.course_id, learner.user_id) == 20 == ledger_sum(learner)
    assert verify_totals() == []
