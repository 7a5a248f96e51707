"""Finished deliveries lose their bodies after TINKER_OUTBOX_KEEP_DAYS (plugin/outbox/retention.py): a webhook its
JSON, an xAPI statement everything but its id, verb and time, an e-mail its address and text. What pages and later
deliveries read still works on a trimmed row (a void names the trimmed statement by id, a webhook fact is still sent
once), and failed or waiting deliveries are never trimmed. Real services, a real HTTP receiver standing in for the
webhook receiver and the LRS, a real SMTP server."""
from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
from sqlalchemy import event, insert, select

from plugin.core.clock import utcnow
from plugin.experiments.models import Experiment, Visibility
from plugin.extensions import db
from plugin.outbox import service as outbox
from plugin.outbox.email import KIND as EMAIL
from plugin.outbox.models import DISMISSED, DONE, FAILED, PENDING, OutboxItem
from plugin.outbox.registry import handler, trimmer
from plugin.outbox.retention import trim, trim_batch
from plugin.outbox.status import dismiss_failed_deliveries
from plugin.recognition.service import give_kudos, revoke_kudos
from plugin.webhooks import events as webhook_events
from plugin.webhooks import service as webhooks
from plugin.xapi import service as xapi
from tests.badges.conftest import smtp_server  # noqa: F401  (the fixture)
from tests.privacy.world import ADA_EMAIL, PRIVATE_EMAIL, build
from tests.services.factories import later, log
from tests.webhooks.conftest import receiver  # noqa: F401  (the fixture)

DAYS = 30  # the default keeping time


@pytest.fixture
def world(app, appctx, receiver, smtp_server):  # noqa: F811
    assert app.config["OUTBOX_KEEP_DAYS"] == DAYS
    saved = app.config["SMTP_HOST"], app.config["SMTP_PORT"]
    app.config.update(SMTP_HOST=smtp_server.host, SMTP_PORT=smtp_server.port)
    w = build()  # Ada asked for a badge e-mail address to be confirmed: one e-mail queued
    xapi.update_settings(w.admin, xapi.XIn().load({"enabled": True, "endpoint": receiver.url.rsplit("/", 1)[0],
                                                   "key": "tinker", "secret": "s3cret", "send_email": True}), later(0))
    webhooks.create_endpoint(w.admin, webhooks.WebhookIn().load({"url": receiver.url,
                                                                 "events": sorted(webhooks.EVENTS)}), later(0))
    db.session.commit()
    w.receiver, w.inbox = receiver, smtp_server
    yield w
    app.config["SMTP_HOST"], app.config["SMTP_PORT"] = saved


def rows(kind: str | None = None) -> list[OutboxItem]:
    db.session.expire_all()
    query = select(OutboxItem).order_by(OutboxItem.id)
    return list(db.session.scalars(query if kind is None else query.where(OutboxItem.kind == kind)))


def snapshot() -> dict[int, tuple]:
    return {i.id: (i.status, i.payload, i.note, i.last_error, i.updated_at, i.trimmed_at) for i in rows()}


def names_ada(item: OutboxItem) -> bool:
    text = json.dumps([item.payload, item.note, item.last_error])
    return any(word in text for word in ("Ada Lovelace", ADA_EMAIL, PRIVATE_EMAIL, '"name": "ada"', "lms_user_id"))


def test_long_delivered_deliveries_keep_only_what_is_still_read_and_newer_ones_keep_everything(world):
    ada = world.ada
    log(ada, later(1), visibility=Visibility.COURSE.value)
    kudos = give_kudos(world.boss, receiver_id=ada.user_id, message="Thanks", submission_key="k-1", now=later(1),
                       points=5)
    db.session.commit()
    assert outbox.process_due(later(2)).failed == 0
    old = {i.id for i in rows()}
    assert {i.kind for i in rows()} >= {webhooks.KIND, xapi.KIND, EMAIL}
    assert all(i.status == DONE for i in rows()) and any(names_ada(i) for i in rows())
    sent_statements = {i.dedupe_key: i.payload["statement"] for i in rows(xapi.KIND)}
    webhook_ids = {i.id: (i.payload["endpoint_id"], i.payload["event"], i.payload["message_id"])
                   for i in rows(webhooks.KIND)}
    # Two days later: one more, delivered then.
    log(ada, later(2 * 24 * 60), visibility=Visibility.COURSE.value)
    db.session.commit()
    outbox.process_due(later(2 * 24 * 60 + 1))
    newer = {i.id: (i.payload, i.note) for i in rows() if i.id not in old}
    assert newer and all(i.status == DONE for i in rows())

    # 31 days after the first ones were delivered (29 after the newer ones)
    now = later(31 * 24 * 60)
    assert trim(now) == len(old)
    assert trim(now) == 0  # nothing left to trim for now
    trimmed = [i for i in rows() if i.id in old]
    assert all(i.trimmed_at == now and i.status == DONE for i in trimmed)
    assert [i.id for i in trimmed if names_ada(i)] == []
    assert {i.id: (i.payload, i.note) for i in rows() if i.id not in old} == newer  # untouched, not trimmed
    assert all(i.trimmed_at is None for i in rows() if i.id not in old)

    for item in (i for i in trimmed if i.kind == webhooks.KIND):
        assert "body" not in item.payload
        assert (item.payload["endpoint_id"], item.payload["event"], item.payload["message_id"]) == \
            webhook_ids[item.id]
        assert item.note  # the receiver's answer stays
    for item in (i for i in trimmed if i.kind == xapi.KIND):
        sent = sent_statements[item.dedupe_key]
        assert item.payload["statement"] == {"id": sent["id"], "verb": sent["verb"], "timestamp": sent["timestamp"]}
    [mail] = [i for i in trimmed if i.kind == EMAIL]
    assert mail.payload == {"subject": world.inbox.messages[0]["Subject"]}
    assert mail.note == "sent (the address is no longer kept)"

    # The admin's lists still read: each statement's event, verb and person; each webhook delivery's event and URL.
    listed = xapi.recent(world.admin)
    assert {s.item.id for s in listed} >= {i.id for i in trimmed if i.kind == xapi.KIND}
    assert all(s.verb and s.event for s in listed)
    assert {d.event for d in webhooks.recent(world.admin)} >= {"experiment.logged", "kudos.received"}
    assert {d.url for d in webhooks.recent(world.admin)} == {world.receiver.url}

    # The kudos revoked after its statement was trimmed: the void still names that statement, and reaches the LRS.
    world.receiver.received.clear()
    revoke_kudos(world.boss, kudos.id, "Given by mistake", now)
    db.session.commit()
    outbox.process_due(now)
    voids = [r.json for r in world.receiver.received if r.json.get("verb", {}).get("id", "").endswith("/voided")]
    assert [v["object"]["id"] for v in voids] == [sent_statements[f"xapi:kudos:{kudos.id}"]["id"]]

    # The same fact again is still sent once: its trimmed row keeps the key.
    before = len(rows(webhooks.KIND))
    first = next(i for i in trimmed if i.kind == webhooks.KIND and i.payload["event"] == "experiment.logged")
    webhook_events.experiment_logged(db.session.get(Experiment, int(first.dedupe_key.rpartition(":")[2])), now)
    db.session.commit()
    assert len(rows(webhooks.KIND)) == before


def test_dismissed_deliveries_are_trimmed_like_delivered_ones_and_failed_or_waiting_ones_never_are(app, world):
    app.config["SMTP_HOST"] = ""  # no SMTP server: the e-mail fails for good
    outbox.process_due(later(1))
    [mail] = rows(EMAIL)
    subject = mail.payload["subject"]
    assert mail.status == FAILED and mail.payload["to"] == PRIVATE_EMAIL and subject
    # Ada's entry: the receiver (LRS and webhook alike here) refuses both deliveries for good.
    world.receiver.script += [(410, '{"message": "gone, like Ada Lovelace\'s hook"}')] * 2
    log(world.ada, later(2), visibility=Visibility.COURSE.value)
    db.session.commit()
    outbox.process_due(later(2))
    assert {(i.kind, i.status) for i in rows()} == {(EMAIL, FAILED), (webhooks.KIND, FAILED), (xapi.KIND, FAILED)}
    # Bo's entry, still waiting for its turn.
    log(world.bo, later(3), visibility=Visibility.COURSE.value)
    db.session.commit()
    assert dismiss_failed_deliveries(later(4), kinds=[EMAIL, webhooks.KIND]) == 2
    db.session.commit()
    kept = {k: v for k, v in snapshot().items() if v[0] in (FAILED, PENDING)}
    assert {v[0] for v in kept.values()} == {FAILED, PENDING}

    now = later(4 + 31 * 24 * 60)
    assert trim(now) == 2
    [mail] = rows(EMAIL)
    assert (mail.status, mail.payload, mail.last_error, mail.trimmed_at) == (DISMISSED, {"subject": subject}, None, now)
    assert mail.note == "Dismissed by the operator: not sent"
    [hook] = [i for i in rows(webhooks.KIND) if i.status == DISMISSED]
    assert "body" not in hook.payload and hook.last_error is None and hook.trimmed_at == now  # it quoted Ada
    assert not names_ada(mail) and not names_ada(hook)
    assert {k: v for k, v in snapshot().items() if k in kept} == kept  # still sendable, as they were


def _kudos_whose_deliveries_fail(world):
    """Kudos to Ada whose statement (and webhook) the receiver refuses for good."""
    world.receiver.script += [(400, '{"message": "bad statement"}')] * 10
    kudos = give_kudos(world.boss, receiver_id=world.ada.user_id, message="Thanks", submission_key="k-fail",
                       now=later(1), points=5)
    db.session.commit()
    outbox.process_due(later(2))
    return kudos


def test_revoking_what_a_dismissed_statement_reported_queues_no_void_and_raises_no_new_failure(world):
    """The statement never reached the LRS: there is nothing to void, and the operator's alarm stays quiet."""
    kudos = _kudos_whose_deliveries_fail(world)
    assert dismiss_failed_deliveries(later(3)) > 0
    db.session.commit()
    world.receiver.script.clear()
    revoke_kudos(world.boss, kudos.id, "Given by mistake", later(4))
    db.session.commit()
    outbox.process_due(later(5))
    assert [i.dedupe_key for i in rows() if i.dedupe_key.startswith("xapi:void:")] == []
    assert [(i.dedupe_key, i.last_error) for i in rows() if i.status == FAILED] == []


def test_a_void_queued_before_its_statement_was_dismissed_finishes_with_nothing_to_void(world):
    kudos = _kudos_whose_deliveries_fail(world)
    revoke_kudos(world.boss, kudos.id, "Given by mistake", later(3))  # the void is queued; the statement failed
    db.session.commit()
    statement = next(i for i in rows(xapi.KIND) if i.dedupe_key == f"xapi:kudos:{kudos.id}")
    assert statement.status == FAILED
    assert dismiss_failed_deliveries(later(4), ids=[statement.id]) == 1
    db.session.commit()
    world.receiver.script.clear()
    world.receiver.received.clear()
    outbox.process_due(later(60))
    [void] = [i for i in rows(xapi.KIND) if i.dedupe_key == f"xapi:void:xapi:kudos:{kudos.id}"]
    assert (void.status, void.note) == (DONE, "nothing to void: the statement it voids was dismissed and never sent")
    assert not any(r.json.get("verb", {}).get("id", "").endswith("/voided") for r in world.receiver.received)


@pytest.mark.parametrize("first", ["erasure", "trim"])
def test_an_erasure_racing_a_trim_never_writes_a_full_body_back_over_a_trimmed_row(app, world, db_kind, first,
                                                                                  monkeypatch):
    """Two instances, PostgreSQL (SQLite's writers take turns): one erases Ada while the other trims the deliveries
    naming her and others (the kudos giver). Whichever takes the rows first, no trimmed row carries a body again,
    and once both are done every delivery is trimmed and names nobody."""
    if db_kind != "postgresql":
        pytest.skip("SQLite's writers take turns (BEGIN IMMEDIATE)")
    from plugin.outbox.retention import trim_rows
    from plugin.privacy import outbound
    from plugin.privacy import service as privacy
    from tests.services.test_concurrency import while_the_first_waits_to_commit

    give_kudos(world.boss, receiver_id=world.ada.user_id, message="Thanks", submission_key="k-race", now=later(1),
               points=5)
    db.session.commit()
    outbox.process_due(later(2))
    assert any("The Boss" in (i.payload.get("body") or "") for i in rows(webhooks.KIND))
    now = later(31 * 24 * 60)
    if first == "erasure":  # the erasure has taken its rows when the other instance's trim runs
        read, held = outbound._candidates, []

        def candidates_then_another_instance_trims(*args, **kwargs):
            found = read(*args, **kwargs)
            held.extend(row[0] for row in found)
            thread = threading.Thread(target=_trim_in, args=(app, now))
            thread.start()
            thread.join(timeout=60)
            assert not thread.is_alive()
            return found

        monkeypatch.setattr(outbound, "_candidates", candidates_then_another_instance_trims)
        privacy.erase(world.admin, world.ada.user_id, "ERASE", now)
        db.session.commit()
        assert held and all(i.trimmed_at is None for i in rows() if i.id in held)  # the trim passed them by
    else:  # the trim holds its batch, uncommitted, when the erasure reads
        while_the_first_waits_to_commit(app, lambda: trim_rows(now, 500),
                                        lambda: privacy.erase(world.admin, world.ada.user_id, "ERASE", now))
    full = [(i.id, i.kind) for i in rows() if i.trimmed_at is not None and (
        "body" in i.payload or set((i.payload.get("statement") or {})) - {"id", "verb", "timestamp"})]
    assert full == []
    trim(now)
    assert all(i.trimmed_at is not None for i in rows() if i.status == DONE)
    assert [i.id for i in rows() if names_ada(i) or "The Boss" in json.dumps(i.payload)] == []


def _trim_in(app, now) -> int:
    with app.app_context():
        return trim(now)


# -- batches, and the operator's commands ---------------------------------------------------------------------

trimmed_kinds: list[str] = []


@handler("test.trim")
def _accept(payload: dict, now) -> str:
    return "accepted"


@trimmer("test.trim")
def _trim(payload: dict, note, error) -> dict:
    trimmed_kinds.append("test.trim")
    return {"payload": {"n": payload["n"]}}


@handler("test.trim.kept")  # a kind with no trimmer (as grade pushes): its payload stays, the row is marked trimmed
def _accept_kept(payload: dict, now) -> str:
    return "accepted"


def _delivered(count: int, at, start: int = 0) -> None:
    for n in range(start, start + count):
        outbox.enqueue("test.trim", f"trim:{n}", {"n": n, "text": "x" * 100}, at)
    db.session.commit()
    assert outbox.process_due(at).done == count


def test_trimming_goes_in_batches_oldest_first_and_the_minutely_run_takes_a_few(app, appctx, cli):
    now = utcnow()
    _delivered(5, now - timedelta(days=DAYS + 2))
    _delivered(3, now - timedelta(days=DAYS + 1), start=5)
    _delivered(2, now - timedelta(days=1), start=8)  # kept as they are

    assert trim(now, batches=1, limit=3) == 3
    first = [i.payload["n"] for i in rows() if i.trimmed_at is not None]
    assert len(first) == 3 and set(first) <= set(range(5))  # of the oldest
    assert all(i.payload == {"n": i.payload["n"]} for i in rows() if i.trimmed_at is not None)

    result = cli("outbox", "trim")
    assert result.exit_code == 0, result.output
    assert "Outbox: 5 finished deliveries trimmed (older than 30 days)." in result.output
    assert sorted(i.payload["n"] for i in rows() if i.trimmed_at is None) == [8, 9]

    _delivered(3, now - timedelta(days=DAYS + 3), start=10)
    outbox.enqueue("test.trim.kept", "kept:1", {"n": 1, "text": "x" * 100}, now - timedelta(days=DAYS + 3))
    db.session.commit()
    outbox.process_due(now - timedelta(days=DAYS + 3))
    result = cli("outbox", "run")
    assert result.exit_code == 0, result.output
    assert "Outbox: 4 finished deliveries trimmed to what is still read." in result.output
    [kept] = rows("test.trim.kept")
    assert kept.trimmed_at is not None and kept.payload == {"n": 1, "text": "x" * 100}
    assert "trimmed" not in cli("outbox", "run").output  # quiet when nothing is left


def test_a_trim_batch_reads_the_oldest_rows_in_index_order_not_the_whole_backlog_sorted(appctx, db_kind):
    """Every batch (4 a minute, and after an upgrade thousands in a row) must cost about its own size: the database
    reads ix_outbox_finished from the oldest untrimmed row and stops at the limit, it never sorts the backlog."""
    old = utcnow() - timedelta(days=400)
    db.session.execute(insert(OutboxItem.__table__), [
        {"kind": "webhook", "dedupe_key": f"backlog:{n}", "payload": {"body": "x" * 200},
         "status": status, "attempts": 1, "version": 1, "next_attempt_at": old, "created_at": old,
         "updated_at": old + timedelta(seconds=n)}
        for n, status in enumerate([DONE] * 9000 + [DISMISSED] * 1000)])
    db.session.commit()
    if db_kind == "postgresql":
        db.session.connection().exec_driver_sql("ANALYZE outbox_item")
        db.session.commit()
    seen: list[tuple] = []

    def capture(_conn, _cursor, statement, parameters, *_args):
        if statement.lstrip().upper().startswith("SELECT") and "trimmed_at IS NULL" in statement:
            seen.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", capture)
    try:
        assert trim_batch(utcnow(), 500) == 500
    finally:
        event.remove(db.engine, "before_cursor_execute", capture)
    assert len(seen) == 1  # the oldest 500 are all delivered ones: the dismissed are not asked for
    statement, parameters = seen[0]
    explain = "EXPLAIN " if db_kind == "postgresql" else "EXPLAIN QUERY PLAN "
    plan = [row[0] if db_kind == "postgresql" else row[-1]
            for row in db.session.connection().exec_driver_sql(explain + statement, parameters)]
    db.session.rollback()
    assert any("ix_outbox_finished" in line for line in plan), plan
    assert not any("Sort" in line or "TEMP B-TREE" in line for line in plan), plan


def test_the_keeping_time_is_read_from_the_environment_and_refused_out_of_range(monkeypatch, tmp_path):
    from plugin.config import ConfigError, load_config

    monkeypatch.setenv("TINKER_OUTBOX_KEEP_DAYS", "7")
    assert load_config(tmp_path, {"TESTING": True})["OUTBOX_KEEP_DAYS"] == 7
    for wrong in ("0", "seven", "-1"):
        monkeypatch.setenv("TINKER_OUTBOX_KEEP_DAYS", wrong)
        with pytest.raises(ConfigError, match="TINKER_OUTBOX_KEEP_DAYS"):
            load_config(tmp_path, {"TESTING": True})
