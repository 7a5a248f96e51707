"""B8 and B9 of ../shared/BENCH.md: concurrent writers awarding through the services (log_experiment with the
default rules: experiment, rules, ledger, totals, board aggregates, badges; one transaction each, committed).

B8  4 writer processes, each its own learner, against the 1-writer rate in the same run (rounds alternate);
    reports the ratio, max and p99 latency, and every error that reached a caller. Beside it, for scale: the
    same ratio for B7's minimal floor (the experiment, its ledger entry and the total, bench/_award_floor.py),
    and on a PostgreSQL server on this machine the CPU an award costs the writer and its server process
    (bench/_server_cpu.py), with the ratio that cost allows here, about (cores / the share of a core one writer
    keeps busy).
B9  4 writers awarding the same learner, then 4 learners of the same team: errors reaching a caller
    (deadlock, serialization failure, "database is locked") are counted, and afterwards the books must agree:
    one experiment per successful award, maintained totals == the ledger, maintained board and team
    aggregates == a rebuild from the ledger.

    .venv/bin/python bench/writers.py [--quick] [--database-url URL|postgresql] [--writers 4]

Writers are processes (each its own app, engine and session; a thread per writer would measure the GIL), as
gunicorn's sync workers are; each award runs in a write transaction as a POST does (BEGIN IMMEDIATE on
SQLite). Without --database-url: a SQLite file in a temp dir; `postgresql`: a throwaway cluster
(tests/support/pg.py); a URL: that (empty or Tinker) database.
Targets: B8 SQLite >= 1.0x with 0 errors, PostgreSQL >= 2.5x; B9 0 errors.
Last line: `RESULT b8_ratio=<x> one_writer_per_s=<n> writers_per_s=<n> max_ms=<n> b8_errors=<n> b9_errors=<n>
b9_awards=<n> b9_experiments=<n> b9_books=<ok|differ> b8_floor_ratio=<x> [b8_cpu_ceiling=<x>]`.
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench._timing import percentile  # noqa: E402 (after the path above, as a script)


def parse(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 rounds of 3 s")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10, help="per round and scenario")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.seconds = 2, 3
    return args


def _app(url: str, tmp: str):
    from plugin import create_app

    return create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "TINKER_BASE_URL": "http://localhost",
                       "DEV_LMS_KEY_PATH": f"{tmp}/k.pem"})


def _error_kind(err: Exception) -> str:
    text = str(getattr(err, "orig", err)).splitlines()[0] if str(err) else ""
    return f"{type(getattr(err, 'orig', err)).__name__}: {text[:80]}"


def writer(url: str, tmp: str, commands, results) -> None:
    """A writer process: awaits ("run", actor, tool, category, start_at, seconds, kind), awards until the deadline
    (kind "award": through the services; "floor": B7's minimal floor, "same writes": every row the award writes,
    both bench/_award_floor.py), answers (awards, latencies,
    errors by kind, CPU seconds of this process and of its server process or None, see bench/_server_cpu.py);
    None ends it."""
    from bench._award_floor import floor_writer, same_writes_writer
    from bench._server_cpu import ServerCpu
    from plugin.core.actor import Actor, Role
    from plugin.core.clock import utcnow
    from plugin.core.db import writing
    from plugin.experiments.schemas import ExperimentIn
    from plugin.experiments.service import log_experiment
    from plugin.extensions import db

    app = _app(url, tmp)
    schema = ExperimentIn()
    with app.app_context():
        results.put("ready")
        while (command := commands.get()) is not None:
            _, (user_id, course_id, organisation_id, platform_id), tool, category, start_at, seconds, kind = command
            actor = Actor(user_id, course_id, organisation_id, platform_id, Role.LEARNER)
            floor = {"floor": floor_writer, "same writes": same_writes_writer}.get(kind)
            if floor is not None:
                floor = floor(organisation_id, course_id, user_id, int(tool), category)
            latencies: list[float] = []
            errors: dict[str, int] = {}
            time.sleep(max(0.0, start_at - time.time()))
            deadline = start_at + seconds
            # The pool's one connection: a single-threaded writer gets it back for every award.
            client_cpu, server = time.process_time(), ServerCpu(db.session)
            db.session.remove()
            while time.time() < deadline:
                data = None if floor is not None else schema.load({
                    "submission_key": secrets.token_hex(8), "title": f"Experiment {secrets.token_hex(3)}",
                    "ai_tool": tool, "task_category": category, "outcome": "worked", "sensitive_data": "no",
                    "tried": " ".join(secrets.token_hex(3) for _ in range(8)), "visibility": "course"})
                started = time.perf_counter()
                try:
                    with writing():
                        if floor is not None:
                            floor(len(latencies))
                        else:
                            log_experiment(actor, data, utcnow())
                        db.session.commit()
                except Exception as err:  # noqa: BLE001 - an error reaching the caller is what B8/B9 count
                    db.session.rollback()
                    errors[_error_kind(err)] = errors.get(_error_kind(err), 0) + 1
                    continue
                finally:
                    db.session.remove()
                latencies.append(time.perf_counter() - started)
            client_cpu = time.process_time() - client_cpu
            server_cpu = server.spent(db.session)
            db.session.remove()
            results.put((len(latencies), latencies, errors, client_cpu, server_cpu))
        db.engine.dispose()


class Pool:
    def __init__(self, size: int, url: str, tmp: str) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.results = ctx.Queue()
        self.commands = [ctx.Queue() for _ in range(size)]
        self.procs = [ctx.Process(target=writer, args=(url, tmp, q, self.results), daemon=True)
                      for q in self.commands]
        for p in self.procs:
            p.start()
        for _ in self.procs:
            if self.results.get(timeout=180) != "ready":
                raise RuntimeError("a writer failed to start")

    def run(self, actors: list[tuple], tool: str, category: int, seconds: float,
            kind: str = "award") -> tuple[float, list, dict]:
        """One writer per actor (the same actor may appear more than once), all starting together; `kind`
        "floor" or "same writes": one of B7's floors instead of awards through the services. Afterwards `cpu`
        holds the writers' CPU seconds in the round: (their own, their server processes' or None where one was
        not readable)."""
        start_at = time.time() + 0.3
        for queue, actor in zip(self.commands, actors):
            queue.put(("run", actor, tool, category, start_at, seconds, kind))
        awards, latencies, errors = 0, [], {}
        client_cpu, server_cpu = 0.0, 0.0
        for _ in actors:
            count, values, errs, client, server = self.results.get(timeout=seconds + 300)
            client_cpu += client
            server_cpu = None if server is None or server_cpu is None else server_cpu + server
            awards += count
            latencies += values
            for kind, n in errs.items():
                errors[kind] = errors.get(kind, 0) + n
        elapsed = max(seconds, time.time() - start_at)
        self.cpu = (client_cpu, server_cpu)
        return awards / elapsed, latencies, errors

    def close(self) -> None:
        for queue in self.commands:
            queue.put(None)
        for p in self.procs:
            p.join(30)


class World:
    """The organisation with its default rules, limits lifted (B8/B9 measure writing, not the daily cap); B7's
    floor writes for people of an organisation of its own (its rows are not the project's: no per-dimension
    totals or aggregates, so B9's books, which check the bench's organisation, leave them out)."""

    def __init__(self, url: str, tmp: str) -> None:
        import flask_migrate

        from plugin.catalog.service import items
        from plugin.core.actor import Role
        from plugin.core.clock import utcnow
        from plugin.core.db import writing
        from plugin.extensions import db
        from plugin.onboarding.service import ensure_defaults
        from plugin.settings.service import limits, update_limits
        from plugin.tenancy import service as tenancy

        self.app = _app(url, tmp)
        self.n = 0
        with self.app.app_context(), writing():
            flask_migrate.upgrade()
            now = utcnow()
            orgs = []
            for name in ("Writers bench", "Writers bench floor"):
                platform = tenancy.register_platform(tenancy.PlatformSpec(
                    issuer=f"https://writers-{secrets.token_hex(3)}.example", client_id="c",
                    auth_login_url="https://b/a", auth_token_url="https://b/t", key_set_url="https://b/j",
                    deployment_ids=("d",), organisation=name), now)
                ensure_defaults(platform.organisation_id, now)
                orgs.append((platform.id, platform.organisation_id, tenancy.find_deployment(platform.id, "d").id,
                             str(items(platform.organisation_id, "tools")[0].id),
                             items(platform.organisation_id, "categories")[0].id))
            (self.platform_id, self.organisation_id, self.deployment_id, self.tool, self.category), self.floor = orgs
            admin = self.person("admin", Role.ADMIN)
            update_limits(_actor(admin, Role.ADMIN), {**limits(self.organisation_id).__dict__,
                                                      "daily_points_cap": 10**9, "repeat_free_count": 10**6}, now)
            db.session.commit()
            db.engine.dispose()

    def person(self, sub: str, role=None, floor: bool = False) -> tuple[int, int, int, int]:
        from plugin.core.actor import Role
        from plugin.core.clock import utcnow
        from plugin.tenancy import service as tenancy

        platform_id, _org, deployment_id, _tool, _category = self.floor if floor else (
            self.platform_id, None, self.deployment_id, None, None)
        course, user, _ = tenancy.provision(tenancy.LaunchIdentity(
            platform_id, deployment_id, "writers-course", "Writers", "W", sub, role or Role.LEARNER, ()),
            utcnow())
        return user.id, course.id, course.organisation_id, platform_id

    def learners(self, count: int, team: str | None = None, floor: bool = False) -> list[tuple]:
        from plugin.core.clock import utcnow
        from plugin.core.db import writing
        from plugin.extensions import db
        from plugin.leaderboards.reconcile import team_members_changed
        from plugin.teams.service import add_member, ensure_team

        with self.app.app_context(), writing():
            people = []
            for _ in range(count):
                self.n += 1
                people.append(self.person(f"writer-{self.n}", floor=floor))
            if team:
                row = ensure_team(people[0][1], team, utcnow())
                for person in people:
                    add_member(row, person[0])
                team_members_changed(row.id)
            db.session.commit()
            db.engine.dispose()
        return people

    def books(self, people: list[tuple]) -> tuple[int, bool]:
        """(experiments the people hold, whether totals and aggregates agree with the ledger)."""
        from sqlalchemy import func, select

        from plugin.core.db import writing
        from plugin.experiments.models import Experiment
        from plugin.extensions import db
        from plugin.leaderboards import rebuild
        from plugin.ledger.service import verify_totals

        with self.app.app_context(), writing():
            experiments = db.session.scalar(select(func.count()).select_from(Experiment).where(
                Experiment.user_id.in_({p[0] for p in people})))
            # The bench's own course only: a database given by URL may hold other runs' rows (B7's floor writes
            # the ledger and the "total" row alone, not the project's per-dimension totals).
            totals = [d for course_id in sorted({p[1] for p in people}) for d in verify_totals(course_id)]
            aggregates = rebuild.verify(self.organisation_id)
            agree = not totals and not aggregates
            for what in [*totals][:5]:
                print(f"B9 books: total differs from the ledger: {what}", file=sys.stderr)
            for table, (only_kept, only_rebuilt) in aggregates.items():
                print(f"B9 books: {table} differs: maintained only {sorted(only_kept)[:5]} (of {len(only_kept)}), "
                      f"rebuilt only {sorted(only_rebuilt)[:5]} (of {len(only_rebuilt)})", file=sys.stderr)
            db.session.rollback()
            db.engine.dispose()
        return experiments, agree


def _actor(person: tuple, role):
    from plugin.core.actor import Actor

    return Actor(*person, role)


def main(argv=None) -> int:
    args = parse(argv)
    from bench._database import TempDatabase, analyze

    spec = args.database_url
    database = TempDatabase("postgresql") if spec == "postgresql" else None
    tmp = tempfile.mkdtemp(prefix="tinker-bench-writers-")
    if database is not None:
        database.__enter__()
        url = database.url
    else:
        url = spec or f"sqlite:///{tmp}/writers.db"
    backend = "sqlite" if url.startswith("sqlite") else "postgresql"
    try:
        world = World(url, tmp)
        pool = Pool(args.writers, url, tmp)
        try:
            max_latency = 0.0
            rates: dict[str, list[float]] = {scenario: [] for scenario in SCENARIOS}
            one, many = rates["one"], rates["many"]
            b8_latencies: list[float] = []
            b8_errors: dict[str, int] = {}
            cpu: dict[str, list[tuple]] = {scenario: [] for scenario in SCENARIOS}  # (client s, server s|None, n, wall s)
            print(f"B8/B9 on {backend}: {args.writers} writer processes, {args.rounds} rounds x {args.seconds:g}s "
                  f"per scenario; {os.cpu_count()} cores shared", flush=True)
            # PostgreSQL: a warm-up, untimed, then the statistics a running deployment has (bench/_database.py).
            if backend == "postgresql":
                pool.run(world.learners(args.writers), world.tool, world.category, min(args.seconds, 2.0))
                analyze(url)
                print("warm-up awards, then ANALYZE (a running deployment's statistics)", flush=True)
            # B8's rounds first, as before the floor was measured here too; then the floor's (its writes between
            # B8's rounds moved SQLite's B8, the WAL checkpoints falling elsewhere).
            for r, pair in enumerate([SCENARIOS[:2]] * args.rounds + [SCENARIOS[2:]] * args.rounds):
                for scenario in (pair if r % 2 == 0 else pair[::-1]):
                    kind = "floor" if scenario.startswith("floor") else "award"
                    people = world.learners(args.writers if scenario.endswith("many") else 1, floor=kind == "floor")
                    tool, category = (world.floor[3:] if kind == "floor" else (world.tool, world.category))
                    rate, latencies, errors = pool.run(people, tool, category, args.seconds, kind=kind)
                    rates[scenario].append(rate)
                    cpu[scenario].append((*pool.cpu, len(latencies), len(latencies) / rate if rate else 0.0))
                    if scenario == "many":
                        b8_latencies += latencies
                        max_latency = max(max_latency, max(latencies, default=0.0))
                    for kind, n in errors.items():
                        label = f"{scenario} writer(s): {kind}"
                        b8_errors[label] = b8_errors.get(label, 0) + n
            same = world.learners(1)
            team = world.learners(args.writers, team=f"B9 team {secrets.token_hex(2)}")
            b9_awards, b9_errors, b9_max = 0, {}, 0.0
            for label, actors in (("same learner", same * args.writers), ("same team", team)):
                rate, latencies, errors = pool.run(actors, world.tool, world.category, args.seconds)
                b9_awards += len(latencies)
                b9_max = max(b9_max, max(latencies, default=0.0))
                print(f"B9 {label:13s} {rate:8,.0f} awards/s  {len(latencies):,d} awards  "
                      f"max {max(latencies, default=0) * 1e3:.0f} ms  errors {sum(errors.values())}")
                for kind, n in errors.items():
                    b9_errors[f"{label}: {kind}"] = b9_errors.get(f"{label}: {kind}", 0) + n
        finally:
            pool.close()
        b9_experiments, agree = world.books(same + team)
    finally:
        if database is not None:
            database.__exit__(None, None, None)
        shutil.rmtree(tmp, ignore_errors=True)

    ratio = statistics.median(many) / statistics.median(one)
    print(f"1 writer               {statistics.median(one):8,.0f} awards/s (min {min(one):,.0f}, max {max(one):,.0f})")
    print(f"{args.writers} writers              {statistics.median(many):8,.0f} awards/s (min {min(many):,.0f}, "
          f"max {max(many):,.0f})  p99 {percentile(b8_latencies, 99) * 1e3:.0f} ms  max {max_latency * 1e3:.0f} ms")
    floor_ratio = statistics.median(rates["floor many"]) / statistics.median(rates["floor one"])
    print(f"floor, 1 writer        {statistics.median(rates['floor one']):8,.0f} inserts/s; {args.writers} writers "
          f"{statistics.median(rates['floor many']):,.0f}/s: {floor_ratio:.2f}x (B7's minimal floor, "
          "bench/_award_floor.py: how far plain writes scale here)")
    ceiling = _cpu_report(cpu, args.writers)
    for kind, n in sorted({**b8_errors, **b9_errors}.items()):
        print(f"error {kind}: {n}")
    print(f"B9 books: {b9_experiments} experiments for {b9_awards} successful awards; totals and aggregates "
          f"{'agree with' if agree else 'DIFFER from'} the ledger")
    target = 1.0 if backend == "sqlite" else 2.5
    b8e, b9e = sum(b8_errors.values()), sum(b9_errors.values())
    ok = ratio >= target and b8e == 0 and b9e == 0 and agree and b9_experiments == b9_awards
    print(f"SUMMARY writers ({backend}): B8 {ratio:.2f}x (target >= {target}), {b8e} errors; B9 {b9e} errors, "
          f"books {'ok' if agree else 'differ'} -> {'PASS' if ok else 'MISS'}")
    print(f"RESULT b8_ratio={ratio:.2f} one_writer_per_s={statistics.median(one):.0f} "
          f"writers_per_s={statistics.median(many):.0f} max_ms={max_latency * 1e3:.0f} b8_errors={b8e} "
          f"b9_errors={b9e} b9_awards={b9_awards} b9_experiments={b9_experiments} "
          f"b9_books={'ok' if agree else 'differ'} b8_floor_ratio={floor_ratio:.2f}"
          + (f" b8_cpu_ceiling={ceiling:.2f}" if ceiling is not None else ""))
    return 0 if ok else 1


def _busy(rows: list[tuple]) -> float:
    """How many cores the writers and their server processes kept busy, on average over their rounds."""
    wall = sum(w for *_x, w in rows)
    return sum(c + s for c, s, _n, _w in rows) / wall if wall else 0.0


# Awards by 1 writer and by --writers writers, then B7's minimal floor the same way: a round runs a pair in its
# order or the reverse.
SCENARIOS = ("one", "many", "floor one", "floor many")


def _cpu_report(cpu: dict[str, list[tuple]], writers: int) -> float | None:
    """Print what an award costs in CPU, the writer's and its server process's, and return the B8 ratio this
    machine allows at that cost: its cores divided by the share of a core one writer keeps busy (or the number
    of writers, if fewer). One writer is a ping-pong between two processes that wait for each other, so when their
    CPU time adds up to its wall time, more writers can only add what the other cores have to give. An estimate,
    not a bound: CPU per award moves between rounds on shared cores. None when the server's CPU was not readable
    (not on this machine)."""
    rows = {k: v for k, v in cpu.items() if v and all(server is not None for _c, server, _n, _w in v)}
    if "one" not in rows:
        return None
    cores = os.cpu_count() or 1
    for scenario, label in (("one", "1 writer"), ("many", f"{writers} writers"), ("floor one", "floor, 1"),
                            ("floor many", f"floor, {writers}")):
        if scenario not in rows:
            continue
        awards = sum(n for *_x, n, _w in rows[scenario]) or 1
        client = sum(c for c, *_x in rows[scenario]) / awards
        server = sum(s for _c, s, *_x in rows[scenario]) / awards
        print(f"CPU per award, {label:10s} client {client * 1e6:6,.0f} us + server {server * 1e6:6,.0f} us "
              f"= {(client + server) * 1e6:6,.0f} us; {_busy(rows[scenario]):.2f} cores busy")
    busy = _busy(rows["one"])
    ceiling = min(float(writers), cores / busy) if busy else float(writers)
    print(f"1 writer keeps {busy:.2f} of a core busy ({cores} cores here): at that CPU per award {writers} writers "
          f"can reach about {ceiling:.2f}x its rate on this machine (cores / busy share)")
    return ceiling


if __name__ == "__main__":
    raise SystemExit(main())
