"""A claim's order on a random outbox, against the rule it is written to follow: only due rows of
kinds this instance handles; in a lane the earliest due first, then the least tried, then the oldest id; across
lanes each lane's first before any lane's second, those by when they are due then id; a row of no lane is a lane
of its own. Run on both databases: SQLite's loose scan and PostgreSQL's claim must agree with it."""
from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import insert, text

from plugin.extensions import db
from plugin.outbox import service as outbox
from plugin.outbox.models import DONE, FAILED, PENDING, OutboxItem
from plugin.outbox.registry import handler
from tests.services.factories import NOW


@handler("test.claim")
def _never_called(payload, now):  # pragma: no cover - the test only claims
    return None


def _expected(rows: list[dict], now, limit: int) -> list[int]:
    due = [r for r in rows if r["status"] == PENDING and r["next_attempt_at"] <= now
           and (r["locked_until"] is None or r["locked_until"] < now) and r["kind"] == "test.claim"]
    lanes: dict[str, list[dict]] = {}
    for r in due:
        lanes.setdefault(r["lane"] if r["lane"] is not None else f"#{r['id']}", []).append(r)
    turned = []
    for members in lanes.values():
        members.sort(key=lambda r: (r["next_attempt_at"], r["attempts"], r["id"]))
        turned += [(turn, r["next_attempt_at"], r["id"]) for turn, r in enumerate(members, 1)]
    return [row_id for _, _, row_id in sorted(turned)[:limit]]


@pytest.mark.parametrize("seed", range(12))
def test_a_claim_takes_the_due_deliveries_in_the_turn_order_the_outbox_promises(appctx, seed):
    rnd = random.Random(seed)
    now = NOW + timedelta(hours=1)
    rows = []
    lanes = [None, None, "a", "b", "c", "d", "webhook:1", "webhook:10", "ags:2", "email", "only-later"]
    for n in range(1, 161):
        lane = rnd.choice(lanes)
        offset = timedelta(minutes=rnd.choice([-50, -30, -30, -10, -1, 0, 5]))  # ties on purpose
        if lane == "only-later":
            offset = timedelta(minutes=10)  # a lane whose pending rows are none of them due
        rows.append({
            "id": n, "kind": rnd.choice(["test.claim"] * 6 + ["test.unknown"]), "dedupe_key": f"claim-{seed}-{n}",
            "lane": lane, "payload": {}, "status": rnd.choice([PENDING] * 8 + [DONE, FAILED]),
            "attempts": rnd.choice([0, 0, 1, 3]), "version": 1, "next_attempt_at": now + offset,
            "locked_until": rnd.choice([None] * 6 + [now + timedelta(minutes=3), now - timedelta(minutes=1)]),
            "created_at": NOW, "updated_at": NOW})
    db.session.execute(insert(OutboxItem), rows)
    db.session.commit()
    limit = rnd.choice([1, 3, 7, 25, 200])
    claimed = outbox.claim_due(now, limit)
    assert [item.id for item in claimed] == _expected(rows, now, limit)


# A database whose outbox lacks the lane indexes of migration 0034 (built by hand, an index dropped in maintenance):
# SQLite's claim names them (INDEXED BY), and must still deliver.
LANE_INDEXES = ("ix_outbox_lane_pending", "ix_outbox_own_lane_pending")


@handler("test.noindex")
def _ok(payload, now):
    return None


@pytest.fixture
def without_lane_indexes(appctx):
    db.session.commit()
    with db.engine.begin() as conn:
        for name in LANE_INDEXES:
            conn.execute(text(f"DROP INDEX {name}"))
    yield
    db.session.rollback()
    outbox._without_lane_indexes.clear()
    with db.engine.begin() as conn:
        for index in OutboxItem.__table__.indexes:
            if index.name in LANE_INDEXES:
                index.create(conn)


def test_deliveries_still_go_when_the_lane_indexes_are_missing(without_lane_indexes):
    outbox.enqueue("test.noindex", "noindex:1", {}, NOW, lane="webhook:1")
    outbox.enqueue("test.noindex", "noindex:2", {}, NOW)
    db.session.commit()
    assert outbox.process_due(NOW).done == 2
