"""The shared outbox on a real database: enqueue only with the transaction, one row per key, handlers by
kind, backoff then failure, claims that never let two workers send the same delivery."""
from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from plugin.extensions import db
from plugin.outbox import service as outbox
from plugin.outbox.models import DONE, FAILED, PENDING, OutboxItem
from plugin.outbox.registry import GiveUp, Retry, handler
from tests.services.factories import NOW

calls: Counter = Counter()
behaviour: dict[str, str] = {}


@handler("test.echo")
def _echo(payload: dict, now) -> str | None:
    calls[payload["n"]] += 1
    what = behaviour.get(str(payload["n"]), "ok")
    if what == "retry":
        raise Retry("platform busy")
    if what == "giveup":
        raise GiveUp("nothing to send to")
    if what == "boom":
        raise RuntimeError("unexpected")
    if what == "nul":  # a receiver's answer quoted as it came, holding a NUL character (JSON \\u0000)
        raise Retry("answered 400: bad\x00request")
    if what == "nul-note":
        return "stored, said the LRS: al\x00ready"
    return "noted" if what == "note" else None


@pytest.fixture(autouse=True)
def _reset():
    calls.clear()
    behaviour.clear()


def rows() -> list[OutboxItem]:
    db.session.expire_all()
    return list(db.session.scalars(select(OutboxItem).order_by(OutboxItem.id)))


def test_same_key_enqueued_twice_is_one_row(appctx):
    outbox.enqueue("test.echo", "k1", {"n": 1}, NOW)
    outbox.enqueue("test.echo", "k1", {"n": 2}, NOW)
    db.session.commit()
    [row] = rows()
    assert row.payload == {"n": 1} and row.version == 1 and row.status == PENDING


def test_replace_coalesces_to_the_newest_payload(appctx):
    outbox.enqueue("test.echo", "k1", {"n": 1}, NOW)
    db.session.commit()
    outbox.process_due(NOW)
    outbox.enqueue("test.echo", "k1", {"n": 2}, NOW + timedelta(minutes=1), replace=True)
    db.session.commit()
    [row] = rows()
    assert row.payload == {"n": 2} and row.version == 2 and row.status == PENDING and row.attempts == 0
    assert outbox.process_due(NOW + timedelta(minutes=1)).done == 1
    assert calls == Counter({1: 1, 2: 1})


def test_nothing_is_queued_unless_the_transaction_commits(appctx):
    outbox.enqueue("test.echo", "k1", {"n": 1}, NOW)
    db.session.rollback()
    assert rows() == [] and outbox.process_due(NOW).processed == 0 and not calls


def test_due_rows_are_delivered_once_and_marked_done(appctx):
    behaviour["2"] = "note"
    for n in (1, 2):
        outbox.enqueue("test.echo", f"k{n}", {"n": n}, NOW)
    outbox.enqueue("test.echo", "later", {"n": 3}, NOW + timedelta(hours=1))
    db.session.commit()
    counts = outbox.process_due(NOW)
    assert (counts.done, counts.retried, counts.failed) == (2, 0, 0) and counts.notes == ["test.echo #2: noted"]
    assert [r.status for r in rows()] == [DONE, DONE, PENDING]
    assert rows()[1].note == "noted" and rows()[0].claim_token is None
    assert outbox.process_due(NOW).processed == 0 and calls == Counter({1: 1, 2: 1})


def test_backoff_grows_and_is_capped():
    delays = [outbox.backoff(n).total_seconds() for n in range(1, 10)]
    assert delays[:4] == [30, 60, 120, 240] and max(delays) == 3600


def test_retries_back_off_then_fail_after_the_cap(appctx):
    behaviour["1"] = "retry"
    outbox.enqueue("test.echo", "k1", {"n": 1}, NOW)
    db.session.commit()
    now = NOW
    for attempt in range(1, outbox.MAX_ATTEMPTS):
        assert outbox.process_due(now).retried == 1
        [row] = rows()
        assert row.status == PENDING and row.attempts == attempt and row.last_error == "Retry: platform busy"
        assert outbox.process_due(row.next_attempt_at - timedelta(seconds=1)).processed == 0
        now = row.next_attempt_at
    assert outbox.process_due(now).failed == 1
    [row] = rows()
    assert row.status == FAILED and row.attempts == outbox.MAX_ATTEMPTS
    assert outbox.process_due(now + timedelta(days=30)).processed == 0


class _WorkerKilled(BaseException):
    """What the worker's process dying mid-delivery looks like from inside it (an out-of-memory kill, a timer's
    timeout, a handler that crashes the interpreter): nothing after the handler runs."""


@handler("test.crash")
def _crash(payload: dict, now) -> None:
    calls[payload["n"]] += 1
    raise _WorkerKilled


def test_a_delivery_that_kills_its_worker_every_time_fails_after_the_cap_instead_of_forever(appctx):
    """Each try of it ends its worker before any outcome is written: its claim's lease runs out and the next run takes
    it again. Counted at each start, the tries stop at the cap and it shows as failed with why, instead of being
    tried every few minutes for ever (and holding up nothing else meanwhile)."""
    outbox.enqueue("test.crash", "k1", {"n": 1}, NOW)
    outbox.enqueue("test.echo", "k2", {"n": 2}, NOW)
    db.session.commit()
    now = NOW
    for _run in range(outbox.MAX_ATTEMPTS + 3):
        try:
            outbox.process_due(now)
        except _WorkerKilled:
            db.session.rollback()
        now += outbox.LEASE + outbox.MAX_DELAY
    assert calls[1] == outbox.MAX_ATTEMPTS and calls[2] == 1
    crashed = rows()[0]
    assert crashed.status == FAILED and crashed.attempts == outbox.MAX_ATTEMPTS
    assert "8" in crashed.last_error and "ended before" in crashed.last_error


elapsed = [0.0]  # the batch's monotonic clock, moved on by the slow handler instead of sleeping


@handler("test.slow")
def _slow(payload: dict, now) -> None:
    elapsed[0] += payload["takes"]  # a receiver that takes this long (to answer, or to time out)
    if payload.get("retry"):
        raise Retry("platform busy")


def test_a_retry_is_due_a_backoff_after_its_attempt_ended_not_after_the_batch_began(appctx):
    # A slow receiver first in the batch (200 s), then one that times out after 20 s: the second's retry is
    # due 30 s after its attempt ended (NOW + 250 s), not 30 s after the batch began (long past when it ended).
    elapsed[0] = 0.0
    outbox.enqueue("test.slow", "k1", {"takes": 200}, NOW)
    outbox.enqueue("test.slow", "k2", {"takes": 20, "retry": True}, NOW)
    db.session.commit()
    assert outbox.process_due(NOW, monotonic=lambda: elapsed[0]).retried == 1
    retried = rows()[1]
    assert retried.status == PENDING and retried.attempts == 1
    assert retried.next_attempt_at == NOW + timedelta(seconds=220) + outbox.backoff(1)
    assert outbox.process_due(NOW + timedelta(seconds=240), monotonic=lambda: elapsed[0]).processed == 0


@pytest.mark.parametrize("what,status", [("giveup", FAILED), ("boom", PENDING)])
def test_permanent_and_unexpected_failures(appctx, what, status):
    behaviour["1"] = what
    outbox.enqueue("test.echo", "k1", {"n": 1}, NOW)
    db.session.commit()
    outbox.process_due(NOW)
    [row] = rows()
    assert row.status == status and row.attempts == 1


@pytest.mark.parametrize("what", ["nul", "nul-note"])
def test_a_receivers_answer_holding_a_nul_character_is_recorded_and_the_batch_goes_on(appctx, what):
    """An LMS, LRS or webhook receiver answering with a NUL character in the text the outbox keeps (its error, its
    note): on PostgreSQL writing the outcome failed, ending the worker's batch there, the deliveries claimed behind it
    held up for the lease and this one tried again and again (each try counted) until given up as a lost worker."""
    behaviour["1"] = what
    outbox.enqueue("test.echo", "k1", {"n": 1}, NOW)
    outbox.enqueue("test.echo", "k2", {"n": 2}, NOW)
    db.session.commit()
    counts = outbox.process_due(NOW)
    first, second = rows()
    assert (counts.done, counts.retried) == ((2, 0) if what == "nul-note" else (1, 1))
    assert second.status == DONE
    assert first.attempts == 1 and "\x00" not in (first.last_error or "") + (first.note or "")
    assert "request" in first.last_error if what == "nul" else "ready" in first.note


def test_a_kind_this_instance_does_not_handle_waits_for_an_instance_that_does(appctx, monkeypatch):
    """A rolling upgrade: a newer instance queues a kind of delivery the older ones do not know yet (a deferred
    challenge payment). An older instance's worker leaves it waiting, untried, instead of failing it for good; a
    worker that handles it sends it."""
    from plugin.outbox import registry

    outbox.enqueue("test.newer-kind", "k1", {"n": 1}, NOW)
    db.session.commit()
    counts = outbox.process_due(NOW)
    assert (counts.processed, counts.failed) == (0, 0)
    assert (rows()[0].status, rows()[0].attempts, rows()[0].last_error) == (PENDING, 0, None)
    monkeypatch.setitem(registry._handlers, "test.newer-kind", lambda payload, now: f"sent {payload['n']}")
    assert outbox.process_due(NOW).done == 1
    assert (rows()[0].status, rows()[0].note) == (DONE, "sent 1")


def test_a_newer_payload_queued_between_the_claim_and_the_start_is_the_one_sent_on_its_own_first_try(appctx):
    # A newer score is queued after the worker claimed the delivery but before it started it: the LMS must get the
    # newer score, not the stale one, and the newer must not be charged a try that sent the stale one.
    outbox.enqueue("test.echo", "k1", {"n": 1}, NOW)
    db.session.commit()
    [item] = outbox.claim_due(NOW, 10)
    outbox.enqueue("test.echo", "k1", {"n": 2}, NOW, replace=True)
    db.session.commit()
    counts = outbox.Counts()
    outbox.deliver(item, NOW, counts)
    [row] = rows()
    assert calls == Counter({2: 1}) and counts.done == 1
    assert (row.status, row.attempts, row.version, row.claim_token) == (DONE, 1, 2, None)


@handler("test.replaced")
def _replaced_while_sending(payload: dict, now) -> None:
    calls[payload["n"]] += 1
    if payload["n"] == 1:  # the newer payload arrives while this one is in flight
        outbox.enqueue("test.replaced", "k1", {"n": 2}, NOW, replace=True)
        db.session.commit()


def test_a_newer_payload_during_delivery_is_sent_next(appctx):
    outbox.enqueue("test.replaced", "k1", {"n": 1}, NOW)
    db.session.commit()
    outbox.process_due(NOW)
    [row] = rows()
    assert row.status == PENDING and row.claim_token is None and row.attempts == 0
    assert outbox.process_due(NOW).done == 1 and calls == Counter({1: 1, 2: 1})
    assert (rows()[0].status, rows()[0].attempts) == (DONE, 1)


def test_a_claimed_row_is_not_claimed_again_until_its_lease_ends(appctx):
    outbox.enqueue("test.echo", "k1", {"n": 1}, NOW)
    db.session.commit()
    assert len(outbox.claim_due(NOW, 10)) == 1
    assert outbox.claim_due(NOW + timedelta(minutes=1), 10) == []
    assert len(outbox.claim_due(NOW + outbox.LEASE + timedelta(seconds=1), 10)) == 1  # a crashed worker's row


def test_concurrent_workers_never_send_the_same_delivery_twice(app, appctx):
    total = 60
    for n in range(total):
        outbox.enqueue("test.echo", f"k{n}", {"n": n}, NOW)
    db.session.commit()
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def worker():
        try:
            with app.app_context():
                barrier.wait()
                while outbox.process_due(NOW, limit=5).processed:
                    pass
                db.session.remove()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert set(calls) == set(range(total)) and all(v == 1 for v in calls.values())
    assert db.session.scalar(select(func.count()).select_from(OutboxItem).where(OutboxItem.status == DONE)) == total


def test_cli_runs_everything_due_and_reports(app, cli):
    behaviour["2"] = "retry"
    with app.app_context():
        from plugin.core.clock import utcnow

        for n in (1, 2):
            outbox.enqueue("test.echo", f"k{n}", {"n": n}, utcnow() - timedelta(seconds=5))
        db.session.commit()
    result = cli("outbox", "run")
    assert result.exit_code == 0, result.output
    assert "1 delivered, 1 to retry later, 0 failed" in result.output


def test_a_worker_whose_lease_ran_out_does_not_send_what_another_worker_took_over(appctx):
    # Worker A claims a batch, then spends longer than the lease on its first items (a platform timing out);
    # worker B (another instance's timer) takes over the rest and delivers them. A must not send them again.
    for n in (1, 2):
        outbox.enqueue("test.echo", f"k{n}", {"n": n}, NOW)
    db.session.commit()
    first, second = outbox.claim_due(NOW, 10)
    later = NOW + outbox.LEASE + timedelta(seconds=1)
    assert outbox.process_due(later).done == 2  # worker B
    counts = outbox.Counts()
    outbox.deliver(second, later + timedelta(seconds=5), counts)  # worker A reaches its second item
    assert calls == Counter({1: 1, 2: 1}) and counts.processed == 0
    assert [r.status for r in rows()] == [DONE, DONE]



@pytest.mark.parametrize("batch", ["0", "-5"])
def test_cli_refuses_a_batch_size_that_would_deliver_nothing(app, cli, batch):
    with app.app_context():
        from plugin.core.clock import utcnow

        outbox.enqueue("test.echo", "k1", {"n": 1}, utcnow() - timedelta(seconds=5))
        db.session.commit()
    result = cli("outbox", "run", "--batch", batch)
    assert result.exit_code == 2 and "--batch" in result.output
    assert not calls


def test_turning_grade_sync_on_twice_at_once_the_first_time_is_no_server_error(app, appctx):
    """A double click on Save the first time grade sync is set up: both requests make the course's row; the second
    must wait for the first and update it, not fail on its primary key."""
    from plugin.core.actor import Role
    from plugin.outbox import grades
    from tests.services.factories import NOW, make_actor, make_platform
    from tests.services.test_concurrency import while_the_first_waits_to_commit

    manager = make_actor(make_platform(), "manager", role=Role.MANAGER)

    def save():
        return grades.configure(manager, {"enabled": True, "mode": "points"}, "https://lms.example.edu/lineitems",
                                NOW).course_id

    assert while_the_first_waits_to_commit(app, save, save) == [manager.course_id] * 2
    assert grades.settings(manager.course_id).enabled is True


# -- lanes: one receiver's backlog or failure never holds up another's ---------------------------------------------

sent: list[str] = []
down: set[str] = set()  # receivers (lanes) that fail every try
poison: set[str] = set()  # single deliveries their receiver refuses with a 500, every time


waiting: set[str] = set()  # single deliveries that must wait for something else, their receiver not asked


@handler("test.lane")
def _to_receiver(payload: dict, now) -> None:
    if payload["name"] in waiting:
        raise Retry("its statement is not sent yet", receiver=False)
    if payload["lane"] in down or payload["name"] in poison:
        raise Retry("receiver unavailable")
    sent.append(payload["name"])


@pytest.fixture
def _receivers():
    sent.clear(), down.clear(), poison.clear(), waiting.clear()
    yield


def queue(lane: str, count: int, start=NOW, step=timedelta(seconds=1)) -> None:
    for n in range(1, count + 1):
        outbox.enqueue("test.lane", f"{lane}-{n}", {"lane": lane, "name": f"{lane}{n}"}, start + step * n, lane=lane)
    db.session.commit()


def by_key() -> dict[str, OutboxItem]:
    return {row.dedupe_key: row for row in rows()}


def test_a_batch_takes_every_receiver_in_turn_so_one_receivers_backlog_never_delays_another(appctx, _receivers):
    queue("busy", 40)  # one organisation's endpoint with a backlog, queued first
    queue("quiet", 2, start=NOW + timedelta(minutes=1))  # another organisation's, queued after it
    assert outbox.process_due(NOW + timedelta(minutes=2), limit=6).done == 6
    assert sent == ["busy1", "quiet1", "busy2", "quiet2", "busy3", "busy4"]


def test_a_failing_receiver_is_tried_once_a_pass_and_its_other_deliveries_count_a_try_without_being_sent(
        appctx, _receivers):
    queue("dead", 5)
    queue("live", 3)
    down.add("dead")
    counts = outbox.process_due(NOW + timedelta(minutes=1))
    assert sorted(sent) == ["live1", "live2", "live3"]
    assert (counts.done, counts.retried, counts.failed, counts.held, counts.claimed) == (3, 5, 0, 4, 8)
    items = by_key()
    tried = items["dead-1"]  # the one real try
    assert (tried.status, tried.attempts, tried.last_error) == (PENDING, 1, "Retry: receiver unavailable")
    for n in range(2, 6):  # the others: not sent, a try counted with its reason, due just before the one tried
        other = items[f"dead-{n}"]
        assert (other.status, other.attempts, other.claim_token) == (PENDING, 1, None)
        assert other.last_error == ("Retry: not sent: its receiver had just failed on another delivery "
                                    "(receiver unavailable)")
        assert other.next_attempt_at < tried.next_attempt_at
    retry_at = tried.next_attempt_at
    assert outbox.process_due(items["dead-2"].next_attempt_at - timedelta(seconds=1)).claimed == 0

    down.clear()  # it answers again: everything goes
    assert outbox.process_due(retry_at).done == 5
    assert sorted(sent[3:]) == ["dead1", "dead2", "dead3", "dead4", "dead5"]
    assert {(row.status, row.last_error) for row in rows()} == {(DONE, None)}


def test_a_receiver_down_for_good_gives_up_each_delivery_on_the_usual_schedule_though_new_ones_keep_coming(
        appctx, _receivers):
    """A webhook endpoint gone for good, an event for it every two minutes: its deliveries fail for good (for the
    admin to see and dismiss) after the usual tries, each with one real try a pass between them."""
    down.add("gone")
    tries = 0
    for n in range(1, 91):  # three hours
        at = NOW + timedelta(minutes=2 * n)
        outbox.enqueue("test.lane", f"gone-{n}", {"lane": "gone", "name": f"gone{n}"}, at, lane="gone")
        db.session.commit()
        counts = outbox.process_due(at + timedelta(seconds=1), monotonic=lambda: 0.0)
        assert counts.processed - counts.held <= 1  # at most one real try a pass
        tries += counts.processed - counts.held
    items = by_key()
    assert (items["gone-1"].status, items["gone-1"].attempts) == (FAILED, outbox.MAX_ATTEMPTS)
    assert items["gone-90"].status == PENDING and sent == [] and tries <= 90


@pytest.mark.parametrize("tries_before", [6, outbox.MAX_ATTEMPTS - 1])
def test_a_delivery_tried_many_times_holds_a_fresh_lane_mate_no_longer_than_its_own_first_retry(
        appctx, _receivers, tries_before):
    """(From a review.) A delivery its receiver refuses alone comes up for a late try in the same batch as one just
    queued for that receiver: the fresh one waits as its own first failed try would (30 s), not the refused one's
    backoff (32 min, or an hour after the last try), and then goes."""
    queue("hooks", 2)
    poison.add("hooks1")
    db.session.execute(update(OutboxItem).where(OutboxItem.dedupe_key == "hooks-1").values(attempts=tries_before))
    db.session.commit()
    at = NOW + timedelta(minutes=1)
    counts = outbox.process_due(at, monotonic=lambda: 0.0)
    assert (counts.done, counts.held) == (0, 1)
    assert by_key()["hooks-2"].next_attempt_at == at + outbox.backoff(1)
    assert outbox.process_due(at + outbox.backoff(1)).done == 1 and sent == ["hooks2"]


def test_a_delivery_its_receiver_keeps_refusing_costs_its_lane_mates_one_try_at_most(appctx, _receivers):
    queue("hooks", 4)
    poison.add("hooks1")  # the receiver fails on this one delivery only
    outbox.process_due(NOW + timedelta(minutes=1))
    assert sent == []  # this pass cannot tell a poisoned delivery from a receiver that is down
    retry_at = by_key()["hooks-1"].next_attempt_at
    outbox.process_due(retry_at)
    assert sent == ["hooks2", "hooks3", "hooks4"]  # tried first: the receiver is back to work for them
    items = by_key()
    assert [items[f"hooks-{n}"].attempts for n in range(1, 5)] == [2, 2, 2, 2]  # one not-sent try, one sent
    assert (items["hooks-1"].status, items["hooks-2"].status) == (PENDING, DONE)


def test_a_delivery_that_waits_for_another_without_asking_its_receiver_holds_up_nothing(appctx, _receivers):
    queue("lrs", 3)
    waiting.add("lrs1")  # e.g. an xAPI void whose statement is still to be sent
    counts = outbox.process_due(NOW + timedelta(minutes=1))
    assert sent == ["lrs2", "lrs3"] and (counts.retried, counts.held) == (1, 0)


def test_a_worker_on_another_instance_takes_the_next_deliveries_in_turn_past_rows_a_worker_holds(
        app, appctx, db_kind, _receivers):
    """PostgreSQL (SQLite's writers take turns): while one instance's worker holds the first deliveries in turn,
    another's takes the next ones in turn, not nothing (several instances share a backlog)."""
    if db_kind != "postgresql":
        pytest.skip("SQLite's writers take turns (BEGIN IMMEDIATE)")
    queue("a", 4)
    queue("b", 4)
    first_in_turn = [by_key()[key].id for key in ("a-1", "b-1", "a-2", "b-2")]
    with db.engine.connect() as other:  # the other worker, in the middle of claiming
        other.execute(select(OutboxItem.id).where(OutboxItem.id.in_(first_in_turn)).with_for_update())
        claimed = outbox.claim_due(NOW + timedelta(minutes=1), 4)
        other.rollback()
    assert [item.payload["name"] for item in claimed] == ["a3", "b3", "a4", "b4"]


def test_a_run_of_several_batches_tries_a_failing_receiver_once_and_sends_everything_else(app, cli, _receivers):
    with app.app_context():
        from plugin.core.clock import utcnow

        queue("dead", 4, start=utcnow() - timedelta(minutes=5))
        queue("live", 4, start=utcnow() - timedelta(minutes=5))
    down.add("dead")
    result = cli("outbox", "run", "--batch", "4")
    assert result.exit_code == 0, result.output
    assert sorted(sent) == ["live1", "live2", "live3", "live4"]  # the batches after the one that met the failure
    assert "4 delivered, 4 to retry later, 0 failed (3 of them not sent: their receiver had just failed)" \
        in result.output
    with app.app_context():
        dead = [row for row in rows() if row.lane == "dead"]
        assert [row.attempts for row in dead] == [1, 1, 1, 1]
        assert sum(row.last_error.startswith("Retry: not sent") for row in dead) == 3
