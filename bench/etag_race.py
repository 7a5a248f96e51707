"""The API's ETags on PostgreSQL under racing writers: does a 304 ever confirm a copy that lacks committed rows,
and do writers of unrelated tables move the tag?

The tag derives from the data version (plugin/insights/version.py): the newest ids of the watched tables and the
transactions holding their sequences. Its account relies on the answer being read after the version under read
committed, which the app's connections always use (plugin/config.py). This bench checks that claim against a
control that breaks it.

Writers (2 processes) commit pairs in the order that defeats a version read from max ids alone: A takes its
transaction id, B takes one, B inserts a data_change row (the lower id), A inserts one (the higher id), A commits,
B commits up to 2 ms later; then a quiet 20-40 ms. A reader repeats what an ETag'd GET does (a first statement, the
version, the answer: here count and sum of the ids, then the version again) and flags a read whose version equals
an earlier read's while its answer differs: a client holding the earlier answer would have been told 304.
- read committed, the app's own session (what ships): expected 0;
- repeatable read (the control: the answer shares the version's snapshot, and a B committing between that snapshot
  and the version's lock read is in neither): expected > 0, which shows the bench can see the race.
Then 2 processes insert into a table the version does not watch as fast as they can, and the reader counts how many
of 300 consecutive versions changed: expected 0.

    .venv/bin/python bench/etag_race.py [--seconds 20] [--database-url postgresql|URL]

Last line: `RESULT rc_wrong=<n> rc_reads=<n> rr_wrong=<n> rr_reads=<n> unrelated_changed=<n>`.
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import secrets
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench._app import config  # noqa: E402 (after the path above, as a script)
from bench._database import TempDatabase  # noqa: E402


def _plain(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def _crossing_pairs(url: str, seed: int, stop) -> None:
    import psycopg

    rnd = random.Random(seed)
    a, b = psycopg.connect(url), psycopg.connect(url)
    while not stop.is_set():
        a.execute("SELECT pg_current_xact_id()")
        b.execute("SELECT pg_current_xact_id()")
        b.execute("INSERT INTO data_change (changed_at, tables) VALUES (now(), 'bench lower')")
        a.execute("INSERT INTO data_change (changed_at, tables) VALUES (now(), 'bench higher')")
        a.commit()
        time.sleep(rnd.random() * 0.002)
        b.commit()
        time.sleep(0.02 + rnd.random() * 0.02)


def _unrelated(url: str, stop) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        while not stop.is_set():
            conn.execute("INSERT INTO bench_unrelated VALUES (1)")


def _writers(target, args, count: int):
    stop = multiprocessing.Event()
    procs = [multiprocessing.Process(target=target, args=(*args(i), stop)) for i in range(count)]
    for proc in procs:
        proc.start()
    return stop, procs


def _end(stop, procs) -> None:
    stop.set()
    for proc in procs:
        proc.join(10)


def _race(read, seconds: float) -> tuple[int, int]:
    """(wrong-304 candidates, reads): `read()` gives (version before, answer, version after)."""
    first, wrong, reads = {}, 0, 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        before, answer, after = read()
        reads += 1
        if after in first and first[after] != answer:
            wrong += 1
        first.setdefault(before, answer)
    return wrong, reads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--database-url", default="postgresql")
    args = parser.parse_args()
    multiprocessing.set_start_method("spawn")
    with TempDatabase(args.database_url) as database:
        if database.kind != "postgresql":
            raise SystemExit("PostgreSQL only: on SQLite one writer at a time draws ids in commit order")
        import flask_migrate
        import sqlalchemy as sa

        from plugin import create_app
        from plugin.core.clock import utcnow
        from plugin.extensions import db
        from plugin.insights.version import version_query

        app = create_app(config(database.url, secrets.token_hex(16)))
        with app.app_context():
            flask_migrate.upgrade()
            db.session.execute(sa.text("CREATE TABLE bench_unrelated (x int)"))
            db.session.commit()
            query = version_query(0, utcnow())
            answer = sa.text("SELECT count(*), sum(id) FROM data_change")

            def reader(session_execute, done):
                def read():
                    session_execute(sa.text("SELECT 1"))  # a request's first statement (the guard's)
                    time.sleep(0.001)
                    before = session_execute(query).one()
                    result = session_execute(answer).one()
                    after = session_execute(query).one()
                    done()
                    return before, result, after
                return read

            url = _plain(database.url)
            stop, procs = _writers(_crossing_pairs, lambda i: (url, i), 2)
            try:
                rc_wrong, rc_reads = _race(reader(db.session.execute, db.session.rollback), args.seconds)
                control = sa.create_engine(database.url, isolation_level="REPEATABLE READ")
                with control.connect() as conn:
                    rr_wrong, rr_reads = _race(reader(conn.execute, conn.rollback), args.seconds)
                control.dispose()
            finally:
                _end(stop, procs)
            print(f"read committed (the app's sessions): {rc_wrong} wrong-304 candidates in {rc_reads} reads")
            print(f"repeatable read (control):           {rr_wrong} wrong-304 candidates in {rr_reads} reads")

            stop, procs = _writers(_unrelated, lambda i: (url,), 2)
            try:
                time.sleep(0.5)
                versions = []
                for _ in range(300):
                    versions.append(db.session.execute(query).one())
                    db.session.rollback()
            finally:
                _end(stop, procs)
            changed = sum(a != b for a, b in zip(versions, versions[1:]))
            print(f"under unrelated writes: {changed} of {len(versions) - 1} consecutive versions changed")
            db.session.remove()
            db.engine.dispose()
    print(f"RESULT rc_wrong={rc_wrong} rc_reads={rc_reads} rr_wrong={rr_wrong} rr_reads={rr_reads} "
          f"unrelated_changed={changed}")


if __name__ == "__main__":
    main()
