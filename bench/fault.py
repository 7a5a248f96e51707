"""Fault test (issue 8 item 6): PostgreSQL crashes in the middle of a load run (bench/load.py's people launching,
logging experiments, reacting and viewing boards against gunicorn) and comes back; then the receipts the clients
kept are compared with the database.

    .venv/bin/python bench/fault.py [--quick] [--users 200] [--seconds 60] [--crash-at 30] [--down 10]
                                    [--workers 4]

PostgreSQL is a throwaway cluster of its own (tests/support/pg.py, Debian's server binaries) with
synchronous_commit=on, PostgreSQL's default: a commit is acknowledged once its WAL is written. It is stopped with
`pg_ctl -m immediate` (a crash: connections cut, no shutdown checkpoint) `--crash-at` seconds into the run (later if no
experiment was saved yet: a slow start on a busy machine) and started again `--down` seconds later. gunicorn is never restarted.

Checked, each failure named in the output:
- outage: every answer that is not the expected one is a clean 503 (the "Tinker is briefly unavailable" page,
  or the JSON envelope with code database_unavailable, probed once mid-outage), never another status, a
  traceback or a dropped connection;
- recovery: successes resume after the restart by themselves (seconds from the restart to the first success
  and to /readyz answering 200 are reported);
- receipts: every experiment answered with success (303) is stored exactly once; every one answered 503 is sent
  again, as the page asks, and is then stored exactly once too; nothing is stored that nobody sent;
- ledger: it holds exactly what the rules award for what is stored (plugin.replay finds no difference), and the
  points totals and the boards' aggregates equal a rebuild from the ledger.

The last line is `RESULT ok=<1|0> requests=<n> outage_503=<n> errors=<n> receipts=<n> resent=<n> missing=<n>
doubled=<n> strays=<n> ledger=<ok|differs> recovery_s=<s> ready_s=<s>` (ok=1: every check held; exit status 0).
--quick: 20 people for 20 s, crash at 6 s for 4 s.
"""
from __future__ import annotations

import argparse
import os
import random
import secrets
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.load import Person, Platform, Stats, _prepare, logging_quiet  # noqa: E402 (after the path above)

OUTAGE_TITLES = ("Tinker is briefly unavailable", "Tinker kısa bir süre için kullanılamıyor")


def parse(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="20 people for 20 s, crash at 6 s for 4 s")
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--crash-at", type=float, default=30, help="seconds into the run")
    parser.add_argument("--down", type=float, default=10, help="seconds PostgreSQL stays down")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers")
    parser.add_argument("--courses", type=int, default=4)
    args = parser.parse_args(argv)
    if args.quick:
        args.users, args.seconds, args.crash_at, args.down = 20, 20, 6, 4
    if args.crash_at + args.down >= args.seconds:
        parser.error("the database must come back before the run ends (--crash-at + --down < --seconds)")
    return args


class Book:
    """What the clients saw: receipts of experiments, 503s, and when things worked again."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.receipts: list[str] = []                              # answered 303
        self.refused: dict[str, tuple[Person, dict]] = {}          # answered 503: sent again after the run
        self.unanswered: list[str] = []                            # no answer at all (an error in itself)
        self.outage_503 = 0
        self.unclean: list[str] = []                               # 503 bodies without the outage page
        self.restarted_at: float | None = None
        self.first_success: float | None = None                    # after the restart
        self.last_503: float | None = None

    def answered(self, response) -> bool:
        """Count an answer; True when it is a clean outage answer."""
        now = time.monotonic()
        with self.lock:
            if response.status_code != 503:
                if self.restarted_at is not None and self.first_success is None and response.status_code < 400:
                    self.first_success = now
                return False
            self.outage_503 += 1
            self.last_503 = now
            if not clean_outage(response):
                self.unclean.append(response.text[:400])
                return False
            return True


def clean_outage(response) -> bool:
    if response.status_code != 503 or "Traceback" in response.text:
        return False
    if response.headers.get("Content-Type", "").startswith("application/json"):
        return (response.json().get("error") or {}).get("code") == "database_unavailable"
    return any(title in response.text for title in OUTAGE_TITLES)


class Client(Person):
    """A load person who keeps receipts, and backs off 0.2 s after a 503 as a person reading the page would."""

    book: Book

    def judge(self, response, expect):
        ok, error = super().judge(response, expect)
        if self.book.answered(response):
            time.sleep(0.2)
            return False, None
        return ok, error

    def submitted(self, data: dict[str, str], status: int | None) -> None:
        key = data["submission_key"]
        with self.book.lock:
            if status == 303:
                self.book.receipts.append(key)
            elif status == 503:
                self.book.refused[key] = (self, data)
            elif status is None:
                self.book.unanswered.append(key)


def main(argv=None) -> int:
    args = parse(argv)
    logging_quiet()
    import requests

    from bench._http import Server
    from tests.support.pg import ThrowawayPostgres, create_database

    tmp = tempfile.mkdtemp(prefix="tinker-bench-fault-")
    cluster = ThrowawayPostgres(durable=True)
    platform = Platform()
    server = None
    log_tail = ""
    failures: list[str] = []
    try:
        url = create_database(cluster.start(), "tinker_fault")
        secret = secrets.token_hex(32)
        server = Server(url, secret, tmp, workers=args.workers)
        _prepare(url, secret, server.base, platform)
        server.wait("/readyz")
        before = _ledger_differences(url, secret, server.base)
        book, stats = Book(), Stats()
        rng = random.Random(13)
        deadline = time.monotonic() + args.seconds
        courses = [f"fault-course-{i}" for i in range(args.courses)]
        people = []
        for i in range(args.users):
            person = Client(i, server.base, platform, courses, stats, deadline, rng)
            person.book = book
            people.append(person)
        print(f"fault test on PostgreSQL: {args.users} people in {args.courses} courses for {args.seconds:.0f}s "
              f"against gunicorn ({args.workers} sync workers); PostgreSQL crashes at {args.crash_at:.0f}s (or "
              f"once a first experiment is saved) and is down {args.down:.0f}s; {os.cpu_count()} cores shared with "
              "this client", flush=True)
        started = time.monotonic()
        for person in people:
            person.start()
        time.sleep(args.crash_at)
        while not book.receipts and time.monotonic() < deadline - args.down - 5:  # a slow start (a busy machine)
            time.sleep(0.2)
        before_crash = len(book.receipts)
        launched = sum(1 for p in people if p.token)
        cluster.crash()
        crashed = time.monotonic()
        time.sleep(args.down / 2)
        probes = _probe_outage(requests, server.base, next((p.token for p in people if p.token), None))
        time.sleep(max(0.0, crashed + args.down - time.monotonic()))
        cluster.start_again()
        with book.lock:
            book.restarted_at = time.monotonic()
            at_restart = len(book.receipts)
        ready_s = _wait_ready(requests, server.base, book.restarted_at)
        for person in people:
            person.join(args.seconds + 120)
        elapsed = time.monotonic() - started

        resent = _send_again(book, server.base, failures)
        stored, with_points = _stored(url)
        after = _ledger_differences(url, secret, server.base)
        books = _books_agree(url, secret, server.base)
    finally:
        if server is not None:
            server.stop()
            log_tail = server.tail()  # before its directory goes
        platform.close()
        cluster.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    everything = sum(len(v) for v in stats.latencies.values())
    errors = sum(stats.errors.values())
    sent = set(book.receipts) | set(book.refused) | set(book.unanswered)
    missing = [k for k in set(book.receipts) | set(book.refused) if stored.get(k, 0) == 0]
    doubled = [k for k, n in stored.items() if n > 1]
    strays = [k for k in stored if k not in sent]
    recovery = book.first_success - book.restarted_at if book.first_success else None
    print(f"{everything:,} requests in {elapsed:.0f}s, {errors} errors; {book.outage_503} answered 503 "
          f"({len(book.unclean)} without the outage page); /readyz during the outage: {probes['readyz']}, "
          f"a page asked for JSON: {probes['json']}")
    print(f"experiments: {before_crash} receipts before the crash, {at_restart} at the restart, "
          f"{len(book.receipts)} at the end; {len(book.refused)} answered 503 and sent again ({resent} saved); "
          f"{len(book.unanswered)} never answered")
    print(f"database: {len(stored)} experiments from this run, {len(missing)} missing, {len(doubled)} stored twice, "
          f"{len(strays)} nobody sent; {with_points} of them with points in the ledger")
    print(f"ledger: replay differences {len(before)} before, {len(after)} after; totals and boards "
          f"{'equal a rebuild' if books else 'DIFFER from a rebuild'}")
    print(f"crashed {crashed - started:.1f}s into the run ({launched} of {args.users} people launched by then), restarted {book.restarted_at - started:.1f}s; recovery: "
          f"first success {_secs(recovery)} s and /readyz 200 {_secs(ready_s)} s after the restart (/readyz waits "
          "in the same queue as the people's requests)")
    for kind, n in sorted(stats.errors.items()):
        failures.append(f"error {kind}: {n}")
    if book.unclean:
        failures.append(f"503 without the outage page: {book.unclean[0]!r}")
    if before_crash == 0:
        failures.append("no experiment was saved before the crash")
    if book.outage_503 == 0:
        failures.append("no client saw the outage")
    if probes["json"] != "503 database_unavailable":
        failures.append(f"JSON during the outage: {probes['json']}")
    if recovery is None or len(book.receipts) <= at_restart:
        failures.append("no experiment was saved after the restart: the app did not recover by itself")
    if book.unanswered:
        failures.append(f"{len(book.unanswered)} experiments got no answer")
    failures += [f"missing: {k}" for k in missing[:5]] + [f"stored twice: {k}" for k in doubled[:5]]
    failures += [f"stored but never sent: {k}" for k in strays[:5]]
    ledger_ok = after == before and books
    if not ledger_ok:
        failures.append("the ledger differs from what the rules award, or totals/boards from the ledger")
    for failure in failures:
        print(f"FAILED {failure}")
    if failures:
        print(f"server log tail:\n{log_tail}")
    ok = not failures
    print(f"RESULT ok={int(ok)} requests={everything} outage_503={book.outage_503} errors={errors} "
          f"receipts={len(book.receipts)} resent={resent} missing={len(missing)} doubled={len(doubled)} "
          f"strays={len(strays)} ledger={'ok' if ledger_ok else 'differs'} recovery_s={_secs(recovery)} "
          f"ready_s={_secs(ready_s)}")
    return 0 if ok else 1


def _secs(value: float | None) -> str:
    return "none" if value is None else f"{value:.1f}"


def _probe_outage(requests, base: str, token: str | None) -> dict[str, str]:
    """/readyz, and a page asked for as JSON (as the API and XHR do), in the middle of the outage."""
    out = {}
    ready = requests.get(f"{base}/readyz", timeout=30)
    out["readyz"] = str(ready.status_code)
    page = requests.get(f"{base}/app/experiments", params={"lt": token}, headers={"Accept": "application/json"},
                        timeout=30)
    try:
        out["json"] = f"{page.status_code} {page.json()['error']['code']}"
    except (ValueError, KeyError, TypeError):
        out["json"] = f"{page.status_code} {page.headers.get('Content-Type')} {page.text[:120]!r}"
    return out


def _wait_ready(requests, base: str, since: float, timeout: float = 60) -> float | None:
    while time.monotonic() < since + timeout:
        try:
            if requests.get(f"{base}/readyz", timeout=10).status_code == 200:
                return time.monotonic() - since
        except requests.RequestException:
            pass
        time.sleep(0.1)
    return None


def _send_again(book: Book, base: str, failures: list[str]) -> int:
    """What the outage page asks: send the refused experiments again (same submission key)."""
    saved = 0
    for key, (person, data) in sorted(book.refused.items()):
        r = person.http.post(f"{base}/app/experiments", data=data, allow_redirects=False, timeout=60)
        if r.status_code == 303:
            saved += 1
        else:
            failures.append(f"sent again: {key} answered {r.status_code}")
    return saved


def _stored(url: str) -> tuple[Counter, int]:
    """Experiments per submission key, and how many experiments have at least one ledger entry."""
    import sqlalchemy as sa

    from plugin.experiments.service import sent_key

    engine = sa.create_engine(url)
    with engine.connect() as conn:
        stored = Counter()
        for key, count in conn.execute(sa.text(
                "SELECT submission_key, count(*) FROM experiment GROUP BY submission_key")):
            stored[sent_key(key)] += count  # the web form's entries are kept under the key sent and a digest
        with_points = conn.scalar(sa.text(
            "SELECT count(*) FROM experiment e WHERE EXISTS (SELECT 1 FROM ledger_entry l "
            "WHERE l.source_type = 'experiment' AND l.source_id = e.id)"))
    engine.dispose()
    return stored, with_points


def _ledger_differences(url: str, secret: str, base: str) -> list:
    """Where the ledger differs from what the rules award for the stored facts (plugin.replay)."""
    from sqlalchemy import select

    from bench._app import build
    from plugin.core.clock import utcnow
    from plugin.extensions import db
    from plugin.replay.service import replay
    from plugin.tenancy.models import Organisation

    with build(url, secret, base).app_context():
        changes = [change for organisation_id in db.session.scalars(select(Organisation.id))
                   for change in replay(organisation_id, utcnow()).points]
        db.session.rollback()
        db.engine.dispose()
    return changes


def _books_agree(url: str, secret: str, base: str) -> bool:
    from bench._app import build
    from plugin.extensions import db
    from plugin.leaderboards import rebuild
    from plugin.ledger.service import verify_totals

    with build(url, secret, base).app_context():
        agree = verify_totals() == [] and rebuild.verify() == {}
        db.session.rollback()
        db.engine.dispose()
    return agree


if __name__ == "__main__":
    raise SystemExit(main())
