"""The shared outbox: enqueue inside the domain transaction, deliver after commit, retry with backoff.

Claiming is safe across app instances: PostgreSQL picks due rows with FOR UPDATE SKIP LOCKED, SQLite
claims each row with a guarded UPDATE; either way a claim is a token plus a lease, and a delivery is
finished only by the worker holding the claim. Handlers run outside any database transaction.

Every organisation shares the workers, so deliveries are taken lane by lane in turn (a lane is the receiver a
delivery goes to: a webhook endpoint, an organisation's LRS, a course's platform, the SMTP server): a batch holds the
first due delivery of every lane before the second of any, and one receiver's backlog never keeps the others
waiting. A receiver that fails is tried once a pass: its lane's other deliveries in the pass are not sent, each
counted as a failed try of its own (with the try's reason), so they are retried and given up on the usual schedule,
without a timeout each.
"""
from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import bindparam, or_, select, text, update
from sqlalchemy.exc import OperationalError

from plugin.core.db import dialect_name, insert_ignore, writing
from plugin.diagnostics import fit
from plugin.extensions import db
from plugin.outbox import messages as said
from plugin.outbox.models import DISMISSED, DONE, FAILED, PENDING, OutboxItem
from plugin.outbox.registry import GiveUp, Retry, handler_for, kinds

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
BASE_DELAY = timedelta(seconds=30)
MAX_DELAY = timedelta(hours=1)
LEASE = timedelta(minutes=5)
CHARGED_AHEAD = timedelta(milliseconds=1)
ENQUEUED_FLAG = "outbox_enqueued"


def backoff(attempts: int) -> timedelta:
    """Delay before the next try after `attempts` failed ones: 30 s, 1 min, 2 min, ... capped at 1 h."""
    return min(BASE_DELAY * (2 ** max(0, attempts - 1)), MAX_DELAY)


def enqueue(kind: str, key: str, payload: dict, now: datetime, *, course_id: int | None = None,
            replace: bool = False, lane: str | None = None) -> None:
    """Add a delivery in the caller's transaction (nothing is sent unless it commits).

    The key names the delivery: enqueuing it again does nothing, unless `replace` asks to coalesce
    to the newest payload (a grade: only the latest score matters), which makes it pending again.
    `lane`: the receiver it goes to, where it has one ("webhook:<endpoint id>"); None: a lane of its own.
    """
    values = {"kind": kind, "dedupe_key": key, "course_id": course_id, "lane": lane, "payload": payload,
              "status": PENDING,
              "attempts": 0, "version": 1, "next_attempt_at": now, "created_at": now, "updated_at": now}
    new_id = insert_ignore(db.session, OutboxItem.__table__, values, ["dedupe_key"])
    if new_id is None and replace:
        db.session.execute(update(OutboxItem).where(OutboxItem.dedupe_key == key).values(
            payload=payload, lane=lane, status=PENDING, attempts=0, version=OutboxItem.version + 1, next_attempt_at=now,
            last_error=None, note=None, updated_at=now, trimmed_at=None).execution_options(synchronize_session=False))
    db.session.info[ENQUEUED_FLAG] = True


@dataclass
class Counts:
    done: int = 0
    retried: int = 0
    failed: int = 0
    held: int = 0  # of those retried or failed, how many were not sent: their receiver had just failed
    claimed: int = 0  # what the batch took: held ones included
    notes: list[str] = field(default_factory=list)

    @property
    def processed(self) -> int:
        return self.done + self.retried + self.failed


def _due(now: datetime):
    return (OutboxItem.status == PENDING, OutboxItem.next_attempt_at <= now,
            or_(OutboxItem.locked_until.is_(None), OutboxItem.locked_until < now))


class Claimed(NamedTuple):
    id: int
    token: str
    version: int
    kind: str
    payload: dict
    lane: str | None


def claim_due(now: datetime, limit: int) -> list[Claimed]:
    """Claim up to `limit` due deliveries in a transaction of its own, lanes in turn (each lane's first due delivery,
    then each lane's second, ...; in a lane, the earliest due first, and of those due together the least tried), in
    the order they are to be sent."""
    session = db.session
    session.commit()  # start from a clean transaction: claims must be committed before any sending
    token = secrets.token_hex(16)
    if dialect_name(session) == "postgresql":
        with writing():
            # One statement: the rows are locked in turn order as it reads them, and a row another worker holds is
            # skipped for the next in turn (SKIP LOCKED), so workers on several instances share a backlog.
            ids = list(session.scalars(_PG_CLAIM, {"now": now, "limit": limit, "kinds": list(kinds())}))
            return _lease(session, ids, token, now)
    # SQLite: the lanes are sorted in a read of its own (no writer waits while a large backlog is sorted); each row
    # is then claimed by a guarded UPDATE under the write lock. Rows another worker took meanwhile are made up
    # for by sorting again, under the lock this time.
    order = _order(session, now, limit)
    session.commit()
    if not order:
        return []
    with writing():
        ids = _won(session, order, now, token)
        if len(ids) < len(order):
            ids += _won(session, _order(session, now, limit - len(ids)), now, token)
        return _lease(session, ids, token, now)


_PG_DUE = """o.status = 'pending' AND o.next_attempt_at <= :now AND (o.locked_until IS NULL OR o.locked_until < :now)"""
# PostgreSQL, one statement: the lanes with pending deliveries found one index probe each (a loose index scan of
# ix_outbox_lane_pending, whatever their backlogs), each lane's first `limit` due deliveries in turn read from the same
# index, the deliveries of no lane (each a lane of its own) from ix_outbox_own_lane_pending; then locked in turn order
# as read, a row another worker holds skipped for the next in turn (SKIP LOCKED), so workers on several instances
# share a backlog. A claim costs about the number of lanes, not the backlog (a window over every due row cost a
# 50,000-row backlog 0.2 s a claim).
_PG_CLAIM = text(f"""
WITH RECURSIVE lanes(lane) AS (
    (SELECT o.lane FROM outbox_item o WHERE o.status = 'pending' AND o.lane IS NOT NULL ORDER BY o.lane LIMIT 1)
    UNION ALL
    SELECT (SELECT o.lane FROM outbox_item o WHERE o.status = 'pending' AND o.lane > lanes.lane
            ORDER BY o.lane LIMIT 1)
    FROM lanes WHERE lanes.lane IS NOT NULL
), candidates AS (
    SELECT t.id, t.next_attempt_at, t.turn FROM lanes CROSS JOIN LATERAL (
        SELECT o.id, o.next_attempt_at, row_number() OVER (ORDER BY o.next_attempt_at, o.attempts, o.id) AS turn
        FROM outbox_item o WHERE o.lane = lanes.lane AND {_PG_DUE} AND o.kind IN :kinds
        ORDER BY o.next_attempt_at, o.attempts, o.id LIMIT :limit) t
    UNION ALL
    (SELECT o.id, o.next_attempt_at, 1 FROM outbox_item o WHERE o.lane IS NULL AND {_PG_DUE} AND o.kind IN :kinds
     ORDER BY o.next_attempt_at, o.id LIMIT :limit)
), first AS (  -- room to skip three other workers' batches (more at once leave this claim short, not wrong)
    SELECT * FROM candidates ORDER BY turn, next_attempt_at, id LIMIT :limit * 4
)
SELECT o.id FROM first c JOIN outbox_item o ON o.id = c.id WHERE {_PG_DUE}
ORDER BY c.turn, c.next_attempt_at, c.id LIMIT :limit
FOR UPDATE OF o SKIP LOCKED""").bindparams(bindparam("kinds", expanding=True))


def _sqlite_claim_read(sql: str):
    """SQLite's claim read with its parameters typed: the kinds a list, `now` stored as the column stores it."""
    return text(sql).bindparams(bindparam("kinds", expanding=True),
                                bindparam("now", type_=OutboxItem.__table__.c.next_attempt_at.type))


# SQLite, the same walk as _PG_CLAIM without LATERAL or row locks: the lanes by a loose scan of ix_outbox_lane_pending,
# each lane's first `limit` due deliveries by a correlated subquery on the same index, the deliveries of no lane from
# ix_outbox_own_lane_pending, then numbered in their lane and put in turn order. A read costs about the number of
# lanes, not the backlog (the window over every due row it replaced cost 200 ms at 70,000 due). The indexes are
# named: a database never analysed (SQLite gathers no statistics by itself) otherwise has each step read every
# pending row through ix_outbox_finished (7 s a claim at 100,000 pending).
_SQLITE_ORDER = _sqlite_claim_read(f"""
WITH RECURSIVE lanes(lane) AS (
    SELECT (SELECT o.lane FROM outbox_item o INDEXED BY ix_outbox_lane_pending
            WHERE o.status = 'pending' AND o.lane IS NOT NULL ORDER BY o.lane LIMIT 1)
    UNION ALL
    SELECT (SELECT o.lane FROM outbox_item o INDEXED BY ix_outbox_lane_pending
            WHERE o.status = 'pending' AND o.lane > lanes.lane ORDER BY o.lane LIMIT 1)
    FROM lanes WHERE lanes.lane IS NOT NULL
), firsts AS (
    SELECT o.id, o.next_attempt_at, row_number() OVER (PARTITION BY o.lane
                                                       ORDER BY o.next_attempt_at, o.attempts, o.id) AS turn
    FROM lanes JOIN outbox_item o ON o.id IN (
        SELECT i.id FROM outbox_item i INDEXED BY ix_outbox_lane_pending WHERE i.lane = lanes.lane AND {_PG_DUE.replace("o.", "i.")}
        AND i.kind IN :kinds ORDER BY i.next_attempt_at, i.attempts, i.id LIMIT :limit)
    UNION ALL
    SELECT * FROM (SELECT o.id, o.next_attempt_at, 1 FROM outbox_item o INDEXED BY ix_outbox_own_lane_pending
                   WHERE o.lane IS NULL AND {_PG_DUE} AND o.kind IN :kinds ORDER BY o.next_attempt_at, o.id
                   LIMIT :limit)
)
SELECT id FROM firsts ORDER BY turn, next_attempt_at, id LIMIT :limit""")


# The same read where an index it names is missing (a database built by hand, an index dropped in maintenance):
# slower, but the deliveries still go.
_SQLITE_ORDER_UNNAMED = _sqlite_claim_read(re.sub(r" INDEXED BY \w+", "", _SQLITE_ORDER.text))


def _order(session, now: datetime, limit: int) -> list[int]:
    """SQLite: the ids of the first `limit` due deliveries in turn order (only kinds this instance handles: during a
    rolling upgrade a newer instance may queue a kind the older ones do not know yet, which waits for a worker that
    does instead of being failed for good by one that does not)."""
    params = {"now": now, "limit": limit, "kinds": list(kinds())}
    database = str(session.get_bind().url)
    if database not in _without_lane_indexes:
        try:
            return list(session.scalars(_SQLITE_ORDER, params))
        except OperationalError as exc:
            if "no such index" not in str(exc):
                raise
            # Found by the first read of a claim, which is a transaction of its own (claim_due): the one under the
            # write lock, which must not roll back what it claimed, reads without the indexes from then on.
            session.rollback()
            _without_lane_indexes.add(database)
            log.warning("outbox: a lane index is missing (%s); claims read without it", exc.orig)
    return list(session.scalars(_SQLITE_ORDER_UNNAMED, params))


_without_lane_indexes: set[str] = set()  # SQLite databases found without them (this process)


def _won(session, order: list[int], now: datetime, token: str) -> list[int]:
    """SQLite: those of `order` this claim takes (a guarded UPDATE each: still due, so not another worker's)."""
    lease = {"claim_token": token, "locked_until": now + LEASE, "updated_at": now}
    return [candidate for candidate in order if session.execute(
        update(OutboxItem).where(OutboxItem.id == candidate, *_due(now)).values(**lease)
        .execution_options(synchronize_session=False)).rowcount == 1]


def _lease(session, ids: list[int], token: str, now: datetime) -> list[Claimed]:
    """Write the claim on `ids` (PostgreSQL: locked; SQLite: written already), commit, and return them in order."""
    if ids and dialect_name(session) == "postgresql":
        session.execute(update(OutboxItem).where(OutboxItem.id.in_(ids)).values(
            claim_token=token, locked_until=now + LEASE, updated_at=now).execution_options(synchronize_session=False))
    rows = session.execute(select(OutboxItem.id, OutboxItem.claim_token, OutboxItem.version, OutboxItem.kind,
                                  OutboxItem.payload, OutboxItem.lane).where(
        OutboxItem.id.in_(ids), OutboxItem.claim_token == token)).all() if ids else []
    session.commit()
    place = {item_id: n for n, item_id in enumerate(ids)}
    return sorted((Claimed(*r) for r in rows), key=lambda claimed: place[claimed.id])


def _finish(item_id: int, token: str, version: int, outcome) -> None:
    """Record the outcome (outcome(attempts) -> column values), unless a newer payload arrived meanwhile:
    then just release the claim so the newer payload goes out next."""
    mine = (OutboxItem.id == item_id, OutboxItem.claim_token == token)
    released = {"claim_token": None, "locked_until": None}
    db.session.commit()  # whatever the handler read is finished; the outcome is a short write of its own
    with writing():
        attempts = db.session.scalar(select(OutboxItem.attempts).where(*mine)) or 0  # this one counted (_start)
        done = db.session.execute(update(OutboxItem).where(*mine, OutboxItem.version == version)
                                  .values(**{"attempts": attempts, **outcome(attempts)}, **released)
                                  .execution_options(synchronize_session=False))
        if done.rowcount == 0:
            db.session.execute(update(OutboxItem).where(*mine).values(**released)
                               .execution_options(synchronize_session=False))
        db.session.commit()


def _start(item_id: int, token: str, now: datetime) -> tuple[int, int, dict] | None:
    """Renew the claim's lease from now, if the claim is still ours (None if not: a batch's later items may come up
    after the lease taken at claim time ran out, and another worker may have taken them over and sent them), and
    count this try before it runs: a try that ends its worker (killed, out of memory) writes no outcome, so a
    delivery doing that every time still reaches MAX_ATTEMPTS instead of being taken again for ever. Returns the
    number of this try, and the delivery's version and payload as they are now: a newer payload queued since the
    claim (enqueue's replace, which starts its count afresh) is the one this try sends and is counted to, instead of
    the claim's stale one being sent and charged to the newer."""
    db.session.commit()
    with writing():
        row = db.session.execute(update(OutboxItem).where(
            OutboxItem.id == item_id, OutboxItem.claim_token == token, OutboxItem.status == PENDING).values(
            locked_until=now + LEASE, attempts=OutboxItem.attempts + 1).returning(
            OutboxItem.attempts, OutboxItem.version, OutboxItem.payload)
            .execution_options(synchronize_session=False)).first()
        db.session.commit()
    return None if row is None else (row[0], row[1], row[2])


def _kept(text: str, limit: int) -> str:
    """An outcome's error or note as stored: a receiver's answer it quotes may hold NUL characters, which PostgreSQL
    refuses in text (the outcome then went unwritten and the batch ended there); they are left out."""
    return fit(text.replace("\x00", ""), limit)


class ReceiverFailed(NamedTuple):
    until: datetime  # the failed try's retry time: the pass treats the receiver as failing until then
    reason: str  # what the try met (the Retry's message)


def deliver(item: Claimed, now: datetime, counts: Counts, *, clock: Callable[[], datetime] | None = None,
            receiver_failed: ReceiverFailed | None = None) -> ReceiverFailed | None:
    """Deliver one claimed item. clock: the time as the batch goes on (default: `now` throughout). Returns how its
    receiver failed if this try ended in a Retry that says the receiver failed; None otherwise. `receiver_failed`:
    its receiver failed on another delivery just before in this pass: this one is not sent, and that counts as a
    failed try of its own (a receiver that is down gives up each of its deliveries on the usual schedule, at the cost
    of one try a pass, not one timeout per delivery)."""
    item_id, token, kind = item.id, item.token, item.kind
    clock = clock or (lambda: now)
    started = clock()
    started_as = _start(item_id, token, started)
    if started_as is None:
        return None
    attempt, version, payload = started_as
    if attempt > MAX_ATTEMPTS:  # its last tries each ended their worker before they could say how they went
        _finish(item_id, token, version, lambda _attempts: {
            "status": FAILED, "attempts": MAX_ATTEMPTS, "note": None, "updated_at": started,
            "last_error": str(said.WORKER_ENDED(attempts=MAX_ATTEMPTS))})
        counts.failed += 1
        return None
    fn = handler_for(kind)
    try:
        if fn is None:
            raise GiveUp(said.NO_HANDLER(kind=repr(kind)))
        if receiver_failed is not None:
            raise Retry(said.RECEIVER_FAILED(error=receiver_failed.reason), receiver=False)
        # The handler stamps what it sends (a webhook's timestamp, checked by receivers against their clock): the
        # moment this delivery starts, not the batch's, which slow receivers earlier in it may have made minutes old.
        note = fn(payload, started)
    except GiveUp as exc:
        now = clock()  # the outcome is as of when this attempt ended
        db.session.rollback()
        reason = _kept(str(exc), 2000)
        _finish(item_id, token, version, lambda attempts: {"status": FAILED, "last_error": reason, "note": None,
                                                          "updated_at": now})
        counts.failed += 1
        return None
    except Exception as exc:  # Retry, or anything unexpected: both are worth another try
        # the backoff counts from when this attempt ended (a slow receiver's timeout, slow items before it in the
        # batch), not from the batch's start, which would make the retry due early or at once
        now = clock()
        db.session.rollback()
        if not isinstance(exc, Retry):
            log.exception("outbox delivery %s (%s) raised", item_id, kind)
        error = _kept(said.RETRY(message=exc) if isinstance(exc, Retry) else f"{type(exc).__name__}: {exc}", 2000)
        outcome: dict = {}

        def retry_or_fail(attempts: int) -> dict:
            outcome["failed"] = attempts >= MAX_ATTEMPTS
            outcome["retry_at"] = now + backoff(attempts)
            if receiver_failed is not None:
                # Due just before the try that failed for it, so the next pass tries this one first: a delivery its
                # receiver refuses alone fails its lane-mates once at most, and a fresh one waits its own backoff.
                outcome["retry_at"] = min(outcome["retry_at"], receiver_failed.until - CHARGED_AHEAD)
            # a note ("Retry requested") described the wait this attempt ended: the error is what counts now
            return {"status": FAILED if outcome["failed"] else PENDING, "last_error": error, "note": None,
                    "updated_at": now, "next_attempt_at": outcome["retry_at"]}

        _finish(item_id, token, version, retry_or_fail)
        counts.held += receiver_failed is not None
        if outcome.get("failed"):
            counts.failed += 1
        else:
            counts.retried += 1
        if isinstance(exc, Retry) and exc.receiver:
            return ReceiverFailed(outcome.get("retry_at", now + backoff(1)), str(exc))
        return None
    now = clock()
    _finish(item_id, token, version, lambda attempts: {
        "status": DONE, "last_error": None, "note": _kept(str(note), 500) if note else None, "updated_at": now})
    counts.done += 1
    if note:
        counts.notes.append(f"{kind} #{item_id}: {note}")
    return None


def process_due(now: datetime, limit: int = 100, *, monotonic: Callable[[], float] = time.monotonic,
                failing: dict[str, ReceiverFailed] | None = None) -> Counts:
    """Deliver what is due (at most `limit`); commits its own transactions. `now` is the batch's start; the
    time each delivery starts and ends is `now` plus what `monotonic` says has passed since. `failing`: the lanes
    whose receiver failed earlier in this pass (batch after batch: the same dict); this batch's failures are added."""
    counts = Counts()
    started = monotonic()

    def clock() -> datetime:
        return now + timedelta(seconds=monotonic() - started)

    failing = {} if failing is None else failing
    claimed = claim_due(now, limit)
    counts.claimed = len(claimed)
    for item in claimed:
        known = failing.get(item.lane) if item.lane is not None else None
        if known is not None and known.until <= clock():
            known = None  # long enough ago that the receiver is worth another try
        # each delivery's lease runs from when it starts, not from when the batch was claimed
        failed = deliver(item, now, counts, clock=clock, receiver_failed=known)
        if failed is not None and item.lane is not None:
            failing[item.lane] = failed
    return counts


def retry_failed(course_id: int, kinds: tuple[str, ...], now: datetime) -> int:
    """Make a course's failed deliveries of these kinds due again with a fresh count of attempts (a person
    asked: the platform was fixed, or a token restored). Returns how many; the worker runs after commit."""
    return retry_failed_where(now, OutboxItem.course_id == course_id, OutboxItem.kind.in_(kinds))


def retry_failed_where(now: datetime, *conditions) -> int:
    """Make the failed deliveries matching every condition due again with a fresh count of attempts (no condition:
    every failed delivery; the operator's `flask outbox retry` asks for that explicitly). Returns how many."""
    result = db.session.execute(update(OutboxItem).where(OutboxItem.status == FAILED, *conditions).values(
        status=PENDING, attempts=0, version=OutboxItem.version + 1, next_attempt_at=now, claim_token=None,
        locked_until=None, note=said.RETRY_REQUESTED(), updated_at=now).execution_options(synchronize_session=False))
    if result.rowcount:
        db.session.info[ENQUEUED_FLAG] = True
    return result.rowcount


def dismiss_failed_where(now: datetime, *conditions) -> int:
    """Mark the failed deliveries matching every condition as not to be sent (the operator decided: an address that
    no longer exists, a course gone from the LMS); they keep their error, leave the failed counts and are trimmed
    like delivered ones. Returns how many; the caller commits."""
    return db.session.execute(update(OutboxItem).where(OutboxItem.status == FAILED, *conditions).values(
        status=DISMISSED, note=said.DISMISSED(), claim_token=None, locked_until=None, updated_at=now)
        .execution_options(synchronize_session=False)).rowcount


def recent(course_id: int, kinds: tuple[str, ...], limit: int = 50) -> list[OutboxItem]:
    return list(db.session.scalars(select(OutboxItem).where(OutboxItem.course_id == course_id,
                                                            OutboxItem.kind.in_(kinds))
                                   .order_by(OutboxItem.updated_at.desc(), OutboxItem.id.desc()).limit(limit)))
