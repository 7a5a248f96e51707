"""B7's floors, each a function writing one award's rows without rules: bench/ledger.py times them in process
(1 client) and bench/writers.py's writer processes (4 clients); the caller commits, one transaction per award as
the project's path has.

- same_writes_writer: the same inserts without rules, B7's verdict floor: every row the award writes (its
  aggregates included), still without rules or reads, which tells the cost of the code from the cost of the rows.
- floor_writer: what an award writes at the least, without rules or any of the project's aggregates: the
  experiment row, one ledger entry and the person's total, with statements built once and executed with
  parameters, as a careful hand-written writer would (printed beside the verdict)."""
from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import timezone

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
    hashed = db.session.connection().dialect.name == "postgresql"

    def insert(i: int) -> None:
        now = utcnow()
        if experiment:
            db.session.execute(insert_experiment,
                               _experiment_row(organisation_id, course_id, user_id, tool_id, category_id, i, now,
                                               hashed))
        db.session.execute(insert_entry, _entry_row(organisation_id, course_id, user_id, f"raw:{user_id}:{run}:{i}",
                                                    i, now))
        upsert_increment(db.session, PointsTotal.__table__, {"course_id": course_id, "user_id": user_id,
                                                             "dimension": "total"}, {"points": 10})

    return insert


def same_writes_writer(organisation_id: int, course_id: int, user_id: int, tool_id: int, category_id: int
                       ) -> Callable[[int], None]:
    """B7's floor of the same inserts without rules: every row an award of 10 points for an experiment writes
    (bench/ledger.py compares the rows both leave), written without rules, reads or the project's code: the
    experiment, the ledger entry, the person's two totals (dimension and all), the points of its quarter hour (the
    daily cap's), their activity rows (period x
    metric), the facts tallies, their 12 board rows (course and organisation, 3 periods, dimension and total) and
    the rank buckets and blocks those move. PostgreSQL: all in one hand-written statement (_PgSameWrites).
    SQLite: the first three as floor_writer writes them, the others one executemany per table (_RowsUpsert), keys
    sorted, rank rows last (as the project locks them). The person's points are known here (this writer is their
    only one), so nothing is read back. The caller commits."""
    from collections import defaultdict

    from plugin.core.clock import utcnow
    from plugin.extensions import db
    from plugin.facts import tallies
    from plugin.facts.models import ExperimentTally
    from plugin.leaderboards.aggregates import experiment_metrics
    from plugin.leaderboards.keys import board_key, course_scope, organisation_scope, with_blocks
    from plugin.leaderboards.models import BoardRank, BoardScore, MemberStat
    from plugin.leaderboards.periods import keys_for
    from plugin.ledger.models import TOTAL, PointsTotal, QuarterPoints, quarter_of
    from plugin.settings.service import time_zone

    tz = time_zone(organisation_id)  # periods in the organisation's zone, as awards
    amount, dimension = 10, "experimenting"
    postgresql = db.session.connection().dialect.name == "postgresql"
    # SQLite: the floor's three rows as floor_writer writes them, then one executemany per table (in process: no
    # round trips to save). PostgreSQL: every row in one statement (_PgSameWrites), as the award path gathers its
    # own into few statements: one statement a table would cost a floor of 9 round trips, slower than the award.
    minimal = None if postgresql else floor_writer(organisation_id, course_id, user_id, tool_id, category_id)
    upsert = _PgSameWrites() if postgresql else _RowsUpsert()
    run = secrets.token_hex(4)

    def insert(i: int) -> None:
        if minimal is not None:
            minimal(i)  # the experiment, the ledger entry and the total
        now = utcnow()
        periods = keys_for(now, tz)
        totals = [(course_id, user_id, dimension, amount)]  # the floor's total is the second of the two
        quarters = [(course_id, user_id, "bench", quarter_of(now), amount)]  # its entry's source type is "bench"
        metrics = experiment_metrics(0, category_id, "worked")
        activity = sorted((course_id, user_id, p, m, v) for p in periods for m, v in metrics.items() if v)
        counted = tallies.buckets(tool_id, category_id, now, "worked", "course", 0)
        tally = sorted((course_id, user_id, b, v) for b, v in counted.items())
        scopes = (course_scope(course_id), organisation_scope(organisation_id))
        boards = sorted(board_key(scope, p, d) for scope in scopes for p in periods for d in (dimension, TOTAL))
        before, after = amount * i, amount * (i + 1)  # i awards of 10 before this one
        buckets: dict[tuple[str, int], int] = defaultdict(int)
        for board in boards:
            if i:
                buckets[(board, before)] -= 1
            buckets[(board, after)] += 1
        ranks = sorted((b, p, n) for (b, p), n in with_blocks(buckets).items() if n)
        if minimal is None:
            upsert.write(_experiment_row(organisation_id, course_id, user_id, tool_id, category_id, i, now, True),
                         _entry_row(organisation_id, course_id, user_id, f"same:{user_id}:{run}:{i}", i, now),
                         [(course_id, user_id, TOTAL, amount), *totals], quarters, activity, tally,
                         [(b, user_id, amount) for b in boards], ranks)
            return
        upsert(PointsTotal.__table__, ("course_id", "user_id", "dimension"), "points", totals)
        upsert(QuarterPoints.__table__, ("course_id", "user_id", "source_type", "quarter"), "points", quarters)
        upsert(MemberStat.__table__, ("course_id", "user_id", "period", "metric"), "value", activity)
        upsert(ExperimentTally.__table__, ("course_id", "user_id", "bucket"), "value", tally)
        upsert(BoardScore.__table__, ("board", "user_id"), "points", [(b, user_id, amount) for b in boards])
        upsert(BoardRank.__table__, ("board", "points"), "members", ranks)

    return insert


def _experiment_row(organisation_id, course_id, user_id, tool_id, category_id, i, now, hashed=False) -> dict:
    """`hashed` (PostgreSQL, where the award keeps them): with its text's word triples hashed, one number each."""
    words = [f"Experiment {i}", *(secrets.token_hex(3) for _ in range(8))]
    return {"organisation_id": organisation_id, "course_id": course_id, "user_id": user_id,
            "submission_key": secrets.token_hex(8), "title": words[0], "ai_tool_id": tool_id,
            "task_category_id": category_id, "tried": " ".join(words[1:]),
            "outcome": "worked", "learned": "", "minutes_saved": 0, "sensitive_data": "no", "visibility": "course",
            "created_at": now, "anonymous": False, "reflection_chars": 0, "coaching": "",
            "shingle_hashes": [secrets.randbits(31) for _ in range(len(words) - 1)] if hashed else None}


def _entry_row(organisation_id, course_id, user_id, key, i, now) -> dict:
    return {"idempotency_key": key, "organisation_id": organisation_id, "course_id": course_id, "user_id": user_id,
            "amount": 10, "dimension": "experimenting", "source_type": "bench", "source_id": i, "created_at": now}


class _PgSameWrites:
    """PostgreSQL: one award's rows in one hand-written statement sent through the session connection's DBAPI cursor:
    the experiment and the ledger entry inserted, the totals, activity, tallies, board and rank rows upserted
    (counter = counter + excluded) from arrays, each in its own data-modifying WITH clause. Arrays go as PostgreSQL
    array text (core.db.pg_text_array: what the award path sends too)."""

    _UPSERTS = (  # table, keys, counter, SQL types of keys + counter
        ("points_total", ("course_id", "user_id", "dimension"), "points", ("integer", "integer", "varchar", "bigint")),
        ("quarter_points", ("course_id", "user_id", "source_type", "quarter"), "points",
         ("integer", "integer", "varchar", "integer", "bigint")),
        ("member_stat", ("course_id", "user_id", "period", "metric"), "value",
         ("integer", "integer", "varchar", "varchar", "bigint")),
        ("experiment_tally", ("course_id", "user_id", "bucket"), "value", ("integer", "integer", "varchar", "bigint")),
        ("board_score", ("board", "user_id"), "points", ("varchar", "integer", "bigint")),
        ("board_rank", ("board", "points"), "members", ("varchar", "bigint", "integer")),
    )

    def __init__(self) -> None:
        from plugin.experiments.models import Experiment
        from plugin.ledger.models import LedgerEntry

        def insert(name, table, columns):
            return (f"{name} AS (INSERT INTO {table.name} ({', '.join(columns)}) VALUES "
                    f"({', '.join(f'%({name}_{c})s' for c in columns)}))")

        # The columns the row builders fill (their keys), as floor_writer inserts them.
        clauses = [insert("e", Experiment.__table__, _experiment_row(0, 0, 0, 0, 0, 0, None)),
                   insert("l", LedgerEntry.__table__, _entry_row(0, 0, 0, "", 0, None))]
        for n, (table, keys, counter, types) in enumerate(self._UPSERTS):
            columns = (*keys, counter)
            arrays = ", ".join(f"%(u{n}_{c})s::{t}[]" for c, t in zip(columns, types))
            clauses.append(f"u{n} AS (INSERT INTO {table} ({', '.join(columns)}) SELECT * FROM unnest({arrays}) "
                           f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {counter} = {table}.{counter} + "
                           f"excluded.{counter})")
        self.sql = "WITH " + ", ".join(clauses) + " SELECT 1"

    def write(self, experiment: dict, entry: dict, *rows: list[tuple]) -> None:
        from plugin.core.db import pg_int_array, pg_text_array
        from plugin.extensions import db

        params = {f"e_{c}": v for c, v in experiment.items()}
        params.update((f"l_{c}", v) for c, v in entry.items())
        for key in ("e_created_at", "l_created_at"):  # the columns keep UTC without a zone
            params[key] = params[key].astimezone(timezone.utc).replace(tzinfo=None)
        for n, ((_table, keys, counter, types), given) in enumerate(zip(self._UPSERTS, rows)):
            for column, sql_type, values in zip((*keys, counter), types, zip(*given) if given else [()] * len(types)):
                params[f"u{n}_{column}"] = (pg_text_array if sql_type == "varchar" else pg_int_array)(values)
        cursor = db.session.connection().connection.driver_connection.cursor()
        try:
            cursor.execute(self.sql, params)
        finally:
            cursor.close()


class _RowsUpsert:
    """SQLite: INSERT ... ON CONFLICT (keys) DO UPDATE SET counter = counter + excluded.counter for many rows, one
    executemany written by hand and sent through the session connection's DBAPI cursor (no SQLAlchemy per
    execution)."""

    def __init__(self) -> None:
        self.sql: dict[str, str] = {}

    def __call__(self, table, keys: tuple[str, ...], counter: str, rows: list[tuple]) -> None:
        from plugin.extensions import db

        if not rows:
            return
        sql = self.sql.get(table.name)
        if sql is None:
            columns = (*keys, counter)
            sql = self.sql[table.name] = (
                f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)}) "
                f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {counter} = {table.name}.{counter} + "
                f"excluded.{counter}")
        cursor = db.session.connection().connection.driver_connection.cursor()
        try:
            cursor.executemany(sql, rows)
        finally:
            cursor.close()
