"""The operator's view of the outbox from the command line, on a real database: `flask outbox status` counts every
kind (those no page shows too) and lists the latest failures, `flask outbox retry` makes the failed deliveries it is
pointed at due again for the next `flask outbox run`, `flask outbox dismiss` gives up on the ones it is pointed at. Rows get their state through the real enqueue and delivery."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import event, select

from plugin.core.clock import utcnow
from plugin.extensions import db
from plugin.outbox import service as outbox
from plugin.outbox.email import send
from plugin.outbox.models import DISMISSED, DONE, FAILED, PENDING, OutboxItem
from plugin.outbox.registry import GiveUp, Retry, handler, lane_names
from plugin.outbox.service import dismiss_failed_where
from plugin.outbox.status import failing_receivers, outbox_status
from tests.services.factories import NOW, make_actor, make_platform
from tests.support.migrating import migrated_app, step_back_and_upgrade

refusing: set[int] = set()  # the payloads the receiver refuses for good


@handler("test.ops")
@handler("test.ops.other")
def _receiver(payload: dict, now) -> None:
    if payload["n"] in refusing:
        raise GiveUp(f"receiver refused {payload['n']}:\n  account suspended")


outage: set[str] = set()  # "down": the receiver of test.ops.down does not answer


@handler("test.ops.down")
def _down(payload: dict, now) -> None:
    if "down" in outage:
        raise Retry("connection refused:\n  port 9")


@pytest.fixture(autouse=True)
def _reset():
    refusing.clear()
    outage.clear()


def _deliver(kind: str, n: int, at, *, course_id=None, refused=False) -> None:
    """Enqueue one delivery due at `at` and run the outbox then: it ends done, or failed when refused."""
    if refused:
        refusing.add(n)
    outbox.enqueue(kind, f"ops:{n}", {"n": n}, at, course_id=course_id)
    db.session.commit()
    outbox.process_due(at)


def _ids() -> dict[str, int]:
    return {row.dedupe_key: row.id for row in db.session.scalars(select(OutboxItem))}


def _failed_world(app) -> dict:
    """Four failed deliveries, the oldest first: two kinds in two courses, and an e-mail with no SMTP server."""
    with app.app_context():
        platform = make_platform()
        first = make_actor(platform, "ada", context_id="course-1").course_id
        second = make_actor(platform, "bob", context_id="course-2").course_id
        db.session.commit()
        now = utcnow()
        _deliver("test.ops", 3, now - timedelta(minutes=5), course_id=first, refused=True)
        _deliver("test.ops", 4, now - timedelta(minutes=4), course_id=second, refused=True)
        _deliver("test.ops.other", 5, now - timedelta(minutes=3), course_id=first, refused=True)
        send(to="x@example.org", subject="s", body="b", key="ops:mail", now=now - timedelta(minutes=2))
        db.session.commit()
        outbox.process_due(now - timedelta(minutes=2))
        return {"first": first, "second": second, **_ids()}


def _world(app) -> dict:
    """On top of the failures: one delivered now and one two days ago, one in flight, one due ten minutes ago, one
    due in an hour, and one of a kind no handler here takes."""
    world = _failed_world(app)
    with app.app_context():
        now = utcnow()
        _deliver("test.ops", 2, now - timedelta(days=2))
        _deliver("test.ops", 1, now - timedelta(minutes=1))
        outbox.enqueue("test.ops", "ops:8", {"n": 8}, now - timedelta(minutes=20))
        db.session.commit()
        assert len(outbox.claim_due(now, 1)) == 1  # a worker took it and is sending it
        outbox.enqueue("test.ops", "ops:6", {"n": 6}, now - timedelta(minutes=10))
        outbox.enqueue("test.ops", "ops:7", {"n": 7}, now + timedelta(hours=1))
        outbox.enqueue("test.unhandled", "ops:9", {"n": 9}, now - timedelta(minutes=1))
        db.session.commit()
        return {**world, **_ids()}


def _rows(app) -> dict[str, tuple[str, int]]:
    with app.app_context():
        return {row.dedupe_key: (row.status, row.attempts) for row in db.session.scalars(select(OutboxItem))}


def test_status_counts_each_kind_and_lists_the_latest_failures_first(app, cli):
    world = _world(app)
    result = cli("outbox", "status")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()

    def row(name):
        [line] = [line for line in lines if line.split(" ")[0] == name]
        return line.split()

    # kind, pending, due, oldest due (two words), in flight, failed, done in 24 h, dismissed in 24 h
    assert row("test.ops")[:3] == ["test.ops", "2", "1"] and row("test.ops")[3].startswith("10m")
    assert row("test.ops")[5:] == ["1", "2", "1", "0"]
    assert row("test.ops.other")[1:] == ["0", "0", "-", "0", "1", "0", "0"]
    assert row("email")[1:] == ["0", "0", "-", "0", "1", "0", "0"]
    assert row("challenge.completed")[1:] == ["0", "0", "-", "0", "0", "0", "0"]  # a kind with no page of its own
    assert row("test.unhandled*")[1:3] == ["1", "1"] and any("no handler here" in line for line in lines)
    assert row("total")[:3] == ["total", "3", "2"] and row("total")[5:] == ["1", "4", "1", "0"]
    start = lines.index(next(line for line in lines if line.startswith("Most recent failed"))) + 1
    failures = [line.strip() for line in lines[start:lines.index("", start)]]
    assert lines[-1] == "No finished delivery past the keeping time (30 d) keeps its body."
    assert "(4 of 4)" in result.output
    assert [line.split()[0] for line in failures] == [f"#{world[k]}" for k in ("ops:mail", "ops:5", "ops:4", "ops:3")]
    assert failures[0].startswith(f"#{world['ops:mail']} email, course -, attempts 1, ")
    assert failures[0].endswith(": no SMTP server configured (TINKER_SMTP_HOST)")
    assert failures[3].startswith(f"#{world['ops:3']} test.ops, course {world['first']}, attempts 1, ")
    assert failures[3].endswith(": receiver refused 3: account suspended")  # the error on one line

    limited = cli("outbox", "status", "--limit", "1")
    assert limited.exit_code == 0 and "(1 of 4)" in limited.output
    assert f"#{world['ops:mail']} " in limited.output and f"#{world['ops:5']} " not in limited.output


def test_status_as_json_for_monitoring(app, cli):
    world = _world(app)
    result = cli("outbox", "status", "--json", "--limit", "2")
    assert result.exit_code == 0, result.output
    status = json.loads(result.output)
    ops = status["kinds"]["test.ops"]
    assert 600 <= ops.pop("oldest_due_seconds") < 660
    assert ops.pop("oldest_due_at") == status["total"]["oldest_due_at"]  # the one claimed earlier is not due
    assert ops == {"pending": 2, "due": 1, "in_flight": 1, "failed": 2, "done_24h": 1, "dismissed_24h": 0,
                   "handled": True}
    assert status["kinds"]["challenge.completed"] == {
        "pending": 0, "due": 0, "oldest_due_at": None, "oldest_due_seconds": None, "in_flight": 0, "failed": 0,
        "done_24h": 0, "dismissed_24h": 0, "handled": True}
    assert status["kinds"]["test.unhandled"]["handled"] is False
    assert {k: v for k, v in status["total"].items() if not k.startswith("oldest")} == {
        "pending": 3, "due": 2, "in_flight": 1, "failed": 4, "done_24h": 1, "dismissed_24h": 0}
    # the one delivered two days ago is within the 30 days its body is kept: nothing waits to be trimmed
    assert status["trim"] == {"keep_days": 30, "untrimmed": 0, "oldest_finished_at": None}
    mail, other = status["recent_failures"]
    assert (mail["id"], mail["kind"], mail["course_id"], mail["attempts"]) == (world["ops:mail"], "email", None, 1)
    assert mail["last_error"] == "no SMTP server configured (TINKER_SMTP_HOST)" and mail["updated_at"]
    assert (other["id"], other["kind"], other["course_id"]) == (world["ops:5"], "test.ops.other", world["first"])
    assert other["last_error"] == "receiver refused 5:\n  account suspended"  # as stored


def test_fail_on_failed_exits_1_while_any_delivery_has_failed(app, cli):
    _failed_world(app)
    assert cli("outbox", "status").exit_code == 0
    result = cli("outbox", "status", "--fail-on-failed")
    assert result.exit_code == 1 and "(4 of 4)" in result.output
    assert cli("outbox", "status", "--json", "--fail-on-failed").exit_code == 1
    refusing.clear()
    assert cli("outbox", "retry", "--all").exit_code == 0
    saved = app.config["SMTP_HOST"], app.config["SMTP_PORT"]
    app.config["SMTP_HOST"], app.config["SMTP_PORT"] = "127.0.0.1", 9  # nothing listens: retried later, not failed
    try:
        assert "3 delivered, 1 to retry later, 0 failed" in cli("outbox", "run").output
    finally:
        app.config["SMTP_HOST"], app.config["SMTP_PORT"] = saved
    result = cli("outbox", "status", "--fail-on-failed")
    assert result.exit_code == 0, result.output
    assert "No failed deliveries." in result.output


def test_retry_makes_exactly_the_filtered_failures_due_again_and_the_next_run_sends_them(app, cli):
    world = _failed_world(app)
    refusing.clear()  # the receiver was fixed
    result = cli("outbox", "retry", "--kind", "test.ops", "--course", str(world["first"]))
    assert result.exit_code == 0, result.output
    assert "Outbox: 1 failed delivery queued again" in result.output
    assert _rows(app) == {"ops:3": (PENDING, 0), "ops:4": (FAILED, 1), "ops:5": (FAILED, 1), "ops:mail": (FAILED, 1)}
    with app.app_context():
        retried = db.session.get(OutboxItem, world["ops:3"])
        assert retried.next_attempt_at <= utcnow() and retried.claim_token is None and retried.note == "Retry requested"

    result = cli("outbox", "retry", "--id", str(world["ops:4"]), "--id", str(world["ops:mail"]))
    assert result.exit_code == 0 and "Outbox: 2 failed deliveries queued again" in result.output
    assert _rows(app) == {"ops:3": (PENDING, 0), "ops:4": (PENDING, 0), "ops:5": (FAILED, 1), "ops:mail": (PENDING, 0)}

    result = cli("outbox", "run")
    assert result.exit_code == 0, result.output
    assert "Outbox: 2 delivered, 0 to retry later, 1 failed." in result.output  # still no SMTP server for the e-mail
    assert _rows(app) == {"ops:3": (DONE, 1), "ops:4": (DONE, 1), "ops:5": (FAILED, 1), "ops:mail": (FAILED, 1)}

    result = cli("outbox", "retry", "--kind", "test.ops.other", "--kind", "email")
    assert result.exit_code == 0 and "Outbox: 2 failed deliveries queued again" in result.output
    assert cli("outbox", "retry", "--kind", "test.ops").output.startswith("Outbox: 0 failed deliveries queued again.")


def test_a_bare_retry_refuses_and_all_must_be_asked_for(app, cli):
    _failed_world(app)
    result = cli("outbox", "retry")
    assert result.exit_code == 2 and "--all" in result.output
    assert {status for status, _attempts in _rows(app).values()} == {FAILED}
    result = cli("outbox", "retry", "--all")
    assert result.exit_code == 0 and "Outbox: 4 failed deliveries queued again" in result.output
    assert set(_rows(app).values()) == {(PENDING, 0)}


def test_retrying_an_unknown_kind_names_the_kinds(app, cli):
    _failed_world(app)
    result = cli("outbox", "retry", "--kind", "emial")
    assert result.exit_code == 2
    assert "unknown kind emial" in result.output
    for kind in ("ags.score", "challenge.completed", "email", "webhook", "xapi.statement"):
        assert kind in result.output
    assert {status for status, _attempts in _rows(app).values()} == {FAILED}


def test_dismiss_gives_up_on_exactly_the_chosen_failures_which_are_never_sent_and_leave_the_failed_count(app, cli):
    world = _failed_world(app)
    result = cli("outbox", "dismiss")
    assert result.exit_code == 2 and "--all" in result.output  # a bare dismiss refuses, as retry does
    result = cli("outbox", "dismiss", "--id", str(world["ops:mail"]), "--kind", "email")
    assert result.exit_code == 0, result.output
    assert "Outbox: 1 failed delivery dismissed; it will not be sent." in result.output
    assert _rows(app) == {"ops:3": (FAILED, 1), "ops:4": (FAILED, 1), "ops:5": (FAILED, 1), "ops:mail": (DISMISSED, 1)}
    with app.app_context():
        mail = db.session.get(OutboxItem, world["ops:mail"])
        assert mail.last_error == "no SMTP server configured (TINKER_SMTP_HOST)"  # why it failed is kept
        assert mail.note == "Dismissed by the operator: not sent"

    status = json.loads(cli("outbox", "status", "--json").output)
    assert status["kinds"]["email"]["failed"] == 0 and status["total"]["failed"] == 3
    assert status["kinds"]["email"]["dismissed_24h"] == 1 and status["total"]["dismissed_24h"] == 1
    assert [f["id"] for f in status["recent_failures"]] == [world[k] for k in ("ops:5", "ops:4", "ops:3")]

    # a retry of everything leaves it alone, and no run sends it
    refusing.clear()
    assert "3 failed deliveries queued again" in cli("outbox", "retry", "--all").output
    saved = app.config["SMTP_HOST"], app.config["SMTP_PORT"]
    app.config["SMTP_HOST"], app.config["SMTP_PORT"] = "127.0.0.1", 9
    try:
        assert "3 delivered, 0 to retry later, 0 failed" in cli("outbox", "run").output
    finally:
        app.config["SMTP_HOST"], app.config["SMTP_PORT"] = saved
    assert _rows(app)["ops:mail"] == (DISMISSED, 1)
    result = cli("outbox", "status", "--fail-on-failed")
    assert result.exit_code == 0 and "No failed deliveries." in result.output

    # only failed ones are dismissed: a delivered or waiting one is not
    assert cli("outbox", "dismiss", "--all").output.startswith("Outbox: 0 failed deliveries dismissed.")
    assert {status for status, _ in _rows(app).values()} == {DONE, DISMISSED}


def test_the_counts_are_one_grouped_query_however_many_deliveries(appctx):
    now = utcnow()
    for n in range(200):
        outbox.enqueue("test.ops" if n % 2 else "test.ops.other", f"ops:{n}", {"n": n}, now - timedelta(seconds=n))
    db.session.commit()
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        status = outbox_status(now, limit=20)
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    # the counts, the failures, the trim's backlog (one index range per finished status), the failing receivers
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 5
    assert (status.total.pending, status.total.due) == (200, 200)
    assert status.total.oldest_due == now - timedelta(seconds=199)


def test_status_says_how_many_finished_deliveries_still_keep_their_bodies_past_the_keeping_time(app, cli):
    """A growing count here means no `flask outbox run` is trimming: the operator sees it before the bodies pile up."""
    with app.app_context():
        now = utcnow()
        _deliver("test.ops", 1, now - timedelta(days=45))  # delivered 45 days ago: past the 30 days
        _deliver("test.ops", 2, now - timedelta(days=31), refused=True)
        assert dismiss_failed_where(now - timedelta(days=31), OutboxItem.dedupe_key == "ops:2") == 1
        _deliver("test.ops", 3, now - timedelta(days=29))  # still within them
        _deliver("test.ops", 4, now - timedelta(days=60), refused=True)  # failed: never trimmed, not counted
        db.session.commit()
        oldest = db.session.scalar(select(OutboxItem.updated_at).where(OutboxItem.dedupe_key == "ops:1"))

    status = json.loads(cli("outbox", "status", "--json").output)
    assert status["trim"] == {"keep_days": 30, "untrimmed": 2, "oldest_finished_at": oldest.isoformat()}
    text = cli("outbox", "status").output
    assert ("Finished deliveries past the keeping time (30 d) with their bodies still on: 2, the oldest finished "
            f"{oldest.strftime('%Y-%m-%d %H:%M:%S UTC')}.") in text

    assert cli("outbox", "trim").exit_code == 0
    assert json.loads(cli("outbox", "status", "--json").output)["trim"]["untrimmed"] == 0
    assert "No finished delivery past the keeping time (30 d) keeps its body." in cli("outbox", "status").output


def test_status_names_the_receivers_failing_now_with_the_error_their_last_try_met(app, cli):
    """A receiver that is down shows once, with how many of its deliveries wait and failed a try, and the error the
    try that reached it met (not the note of a delivery left unsent because of it); a healthy one does not show."""
    outage.add("down")
    with app.app_context():
        now = utcnow() - timedelta(minutes=1)
        for n in (1, 2, 3):
            outbox.enqueue("test.ops.down", f"down:{n}", {"n": n}, now, lane="recv:down")
        outbox.enqueue("test.ops", "up:1", {"n": 10}, now, lane="recv:up")
        for n in (4, 5):  # no lane: each its own receiver, shown together under their kind
            outbox.enqueue("test.ops.down", f"own:{n}", {"n": n}, now)
        db.session.commit()
        counts = outbox.process_due(now)
        assert (counts.done, counts.retried, counts.held) == (1, 5, 2)
        outbox.enqueue("test.ops.down", "down:4", {"n": 4}, now, lane="recv:down")  # not tried yet
        db.session.commit()
        [down, own] = outbox_status(utcnow()).receivers
    assert (down.lane, down.pending, down.retrying, down.attempts) == ("recv:down", 4, 3, 1)
    assert down.last_error == "Retry: connection refused:\n  port 9"
    assert (own.lane, own.pending, own.retrying, own.attempts) == ("(test.ops.down)", 2, 2, 1)

    lines = cli("outbox", "status").output.splitlines()
    start = lines.index("Receivers failing now (their deliveries wait for a retry; each receiver is tried once a "
                        "pass):") + 1
    shown = [line.strip() for line in lines[start:lines.index("", start)]]
    assert shown[0].startswith("recv:down: 3 of 4 waiting failed a try (up to 1), last tried ")
    assert shown[0].endswith(": Retry: connection refused: port 9") and len(shown) == 2
    assert shown[1].startswith("(test.ops.down): 2 of 2 waiting failed a try (up to 1)")
    [receiver, _] = json.loads(cli("outbox", "status", "--json").output)["failing_receivers"]
    assert {k: receiver[k] for k in ("lane", "pending", "retrying", "attempts", "last_error")} == {
        "lane": "recv:down", "pending": 4, "retrying": 3, "attempts": 1,
        "last_error": "Retry: connection refused:\n  port 9"}

    outage.clear()
    with app.app_context():  # the receiver is back: the next pass sends everything, and nothing shows as failing
        db.session.execute(OutboxItem.__table__.update().values(next_attempt_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
        assert outbox.process_due(utcnow()).done == 6
    after = cli("outbox", "status")
    assert "No receiver is failing now." in after.output and "recv:down" not in after.output
    assert json.loads(cli("outbox", "status", "--json").output)["failing_receivers"] == []


def test_the_email_lane_is_named_by_its_smtp_server(app, appctx, monkeypatch):
    from plugin.outbox.registry import lane_names

    monkeypatch.setitem(app.config, "SMTP_HOST", "")
    assert lane_names(["email", "recv:down"]) == {"email": "the SMTP server (none configured: TINKER_SMTP_HOST)"}
    monkeypatch.setitem(app.config, "SMTP_HOST", "mail.example.org")
    monkeypatch.setitem(app.config, "SMTP_PORT", 587)
    assert lane_names(["email"]) == {"email": "the SMTP server mail.example.org:587"}


seen_during_try: list = []


@handler("test.ops.healthy")
def _healthy(payload: dict, now) -> None:
    """A receiver that answers at once; while it does, the operator runs `flask outbox status`."""
    seen_during_try.append([(r.lane, r.retrying, r.last_error) for r in failing_receivers()])


def test_a_delivery_on_its_first_try_to_a_healthy_receiver_is_not_a_failing_receiver(appctx):
    """A try is counted before it runs (attempts 1, still pending, no error yet): a status read while the worker
    sends must not list the receiver as failing."""
    seen_during_try.clear()
    outbox.enqueue("test.ops.healthy", "healthy:1", {}, NOW, lane="webhook:7")
    db.session.commit()
    assert outbox.process_due(NOW).done == 1
    assert seen_during_try == [[]]


def test_grade_deliveries_queued_under_their_courses_lane_move_to_their_platforms(tmp_path):
    """Grade deliveries queued before their lane was the platform had "ags:<course id>": migration 0037 moves the
    ones still to be sent or retried, so the operator is never told another LMS is failing (courses and platforms
    share small ids: here the second LMS's course has the first LMS's id)."""
    with migrated_app(tmp_path):
        first = make_platform()
        second = make_platform(issuer="https://other-lms.example.edu", client_id="client-2", organisation="Org B")
        course_id = make_actor(second, "teacher-1", context_id="course-x").course_id
        db.session.commit()
        assert course_id == first.id  # the collision this test is about
        second_id, second_issuer, first_issuer = second.id, second.issuer, first.issuer
        for user_id, status in ((1, PENDING), (2, FAILED), (3, DONE)):  # as the previous release queued them
            outbox.enqueue("ags.score", f"ags:score:{course_id}:{user_id}", {"course_id": course_id, "user_id": user_id},
                           NOW, course_id=course_id, lane=f"ags:{course_id}")
            db.session.execute(OutboxItem.__table__.update().where(
                OutboxItem.dedupe_key == f"ags:score:{course_id}:{user_id}").values(status=status))
        step_back_and_upgrade("0036")
        lanes = dict(db.session.execute(select(OutboxItem.dedupe_key, OutboxItem.lane)).all())
        assert lanes == {f"ags:score:{course_id}:1": f"ags:{second_id}", f"ags:score:{course_id}:2": f"ags:{second_id}",
                         f"ags:score:{course_id}:3": f"ags:{course_id}"}  # a delivered one is left as it was
        name = lane_names([f"ags:{second_id}"])[f"ags:{second_id}"]
        assert second_issuer in name and first_issuer not in name
