"""B7's floor: what an award writes at the least, without rules or any of the project's aggregates: the
experiment row, one ledger entry and the person's total, with statements built once and executed with parameters,
as a careful hand-written writer would. bench/ledger.py times it in process (1 client) and bench/writers.py's
writer processes (4 clients); the caller commits, one transaction per award as the project's path has.

Beside it, same_writes_writer: a diagnostic that writes every row the award writes (its aggregates included),
still without rules or reads, which tells the cost of what an award writes from the cost of the code writing it."""
from __future__ import annotations

import secrets
from collections.abc import Callable

_STATEMENTS: dict[str, object] = {}


def floor_writer(organisation_id: int, course_id: int, user_id: int, tool_id: int, category_id: int,
                 experiment: bool = True) -> Callable[[int], None]:
    """A function inserting award number i for the person (`experiment` False: the ledger entry and the total
    only, the ledger-only floor sessions before 2026-11-29 measured against). Call it in an app context."""
    import sqlalchemy as sa

    from plugin.core.clock import utcnow
    from plugin.core.db import upsert_increment
    from plugin.experiments.models import Experiment
    from plugin.extensions import db
    from plugin.ledger.models import LedgerEntry, PointsTotal

    if not _STATEMENTS:
        _STATEMENTS["experiment"] = sa.insert(Experiment.__table__)
        _STATEMENTS["entry"] = sa.insert(LedgerEntry.__table__)
    insert_experiment, insert_entry = _STATEMENTS["experiment"], _STATEMENTS["entry"]
    run = secrets.token_hex(4)  # keys stay unique across rounds and processes writing for the same person

    def insert(i: int) -> None:
        if experiment:
            db.session.execute(insert_experiment, {
                "organisation_id": organisation_id, "course_id": course_id, "user_id": user_id,
                "submission_key": secrets.token_hex(8), "title": f"Experiment {i}", "ai_tool_id": tool_id,
                "task_category_id": category_id, "tried": " ".join(secrets.token_hex(3) for _ in range(8)),
                "outcome": "worked", "learned": "", "minutes_saved": 0, "sensitive_data": "no",
                "visibility": "course", "created_at": utcnow(), "anonymous": False, "reflection_chars": 0,
                "coaching": ""})
        db.session.execute(insert_entry, {
            "idempotency_key": f"raw:{user_id}:{run}:{i}", "organisation_id": organisation_id,
            "course_id": course_id, "user_id": user_id, "amount": 10, "dimension": "experimenting",
            "source_type": "bench", "source_id": i, "created_at": utcnow()})
        upsert_increment(db.session, PointsTotal.__table__, {"course_id": course_id, "user_id": user_id,
                                                             "dimension": "total"}, {"points": 10})

    return insert


def same_writes_writer(organisation_id: int, course_id: int, user_id: int, tool_id: int, category_id: int
                       ) -> Callable[[int], None]:
    """A diagnostic floor beside B7's: every row an award of 10 points for an experiment writes (bench/ledger.py
    compares the rows both leave), written without rules, reads or the project's code: the experiment, the ledger
    entry, the person's two totals (dimension and all), their activity rows (period x metric), the facts tallies,
    their 12 board rows (course and organisation, 3 periods, dimension and total) and the rank buckets and blocks
    those move. The first three as floor_writer writes them; the others one hand-written statement per table
    through the driver's cursor (_RowsUpsert), keys sorted, rank rows last (as the project locks them). The
    person's points are known here (this writer is their only one), so nothing is read back. The caller commits."""
    from collections import defaultdict

    from plugin.core.clock import utcnow
    from plugin.facts import tallies
    from plugin.facts.models import ExperimentTally
    from plugin.leaderboards.aggregates import experiment_metrics
    from plugin.leaderboards.keys import board_key, course_scope, organisation_scope, with_blocks
    from plugin.leaderboards.models import BoardRank, BoardScore, MemberStat
    from plugin.leaderboards.periods import keys_for
    from plugin.ledger.models import TOTAL, PointsTotal
    from plugin.settings.service import time_zone

    minimal = floor_writer(organisation_id, course_id, user_id, tool_id, category_id)
    upsert, tz = _RowsUpsert(), time_zone(organisation_id)  # periods in the organisation's zone, as awards
    amount, dimension = 10, "experimenting"

    def insert(i: int) -> None:
        minimal(i)  # the experiment, the ledger entry and the total
        now = utcnow()
        periods = keys_for(now, tz)
        upsert(PointsTotal.__table__, ("course_id", "user_id", "dimension"), "points",
               [(course_id, user_id, dimension, amount)])  # the floor's total is the second of the two
        metrics = experiment_metrics(0, category_id, "worked")
        upsert(MemberStat.__table__, ("course_id", "user_id", "period", "metric"), "value", sorted(
            (course_id, user_id, p, m, v) for p in periods for m, v in metrics.items() if v))
        counted = tallies.buckets(tool_id, category_id, now, "worked", "course", 0)
        upsert(ExperimentTally.__table__, ("course_id", "user_id", "bucket"), "value", sorted(
            (course_id, user_id, b, v) for b, v in counted.items()))
        scopes = (course_scope(course_id), organisation_scope(organisation_id))
        boards = sorted(board_key(scope, p, d) for scope in scopes for p in periods for d in (dimension, TOTAL))
        upsert(BoardScore.__table__, ("board", "user_id"), "points", [(b, user_id, amount) for b in boards])
        before, after = amount * i, amount * (i + 1)  # i awards of 10 before this one
        buckets: dict[tuple[str, int], int] = defaultdict(int)
        for board in boards:
            if i:
                buckets[(board, before)] -= 1
            buckets[(board, after)] += 1
        upsert(BoardRank.__table__, ("board", "points"), "members",
               sorted((b, p, n) for (b, p), n in with_blocks(buckets).items() if n))

    return insert


class _RowsUpsert:
    """INSERT ... ON CONFLICT (keys) DO UPDATE SET counter = counter + excluded.counter for many rows in one statement,
    written by hand and sent through the session connection's DBAPI cursor (no SQLAlchemy per execution): the rows as
    one array per column on PostgreSQL (unnest), an executemany on SQLite."""

    def __init__(self) -> None:
        self.sql: dict[str, str] = {}

    def __call__(self, table, keys: tuple[str, ...], counter: str, rows: list[tuple]) -> None:
        from plugin.extensions import db

        if not rows:
            return
        connection = db.session.connection()
        dialect = connection.dialect
        sql = self.sql.get(table.name)
        if sql is None:
            columns = (*keys, counter)
            if dialect.name == "postgresql":
                arrays = ", ".join(f"%s::{table.c[c].type.compile(dialect=dialect)}[]" for c in columns)
                given = f"SELECT * FROM unnest({arrays})"
            else:
                given = f"VALUES ({', '.join('?' for _ in columns)})"
            sql = self.sql[table.name] = (
                f"INSERT INTO {table.name} ({', '.join(columns)}) {given} ON CONFLICT ({', '.join(keys)}) "
                f"DO UPDATE SET {counter} = {table.name}.{counter} + excluded.{counter}")
        cursor = connection.connection.driver_connection.cursor()
        try:
            if dialect.name == "postgresql":
                cursor.execute(sql, [list(column) for column in zip(*rows)])
            else:
                cursor.executemany(sql, rows)
        finally:
            cursor.close()
