"""B3 of ../shared/BENCH.md: the full LTI 1.3 launch end to end through gunicorn, against a floor with the same
HTTP hops on the same server.

    .venv/bin/python bench/launch.py [--quick] [--db sqlite|postgresql|URL] [--workers 2] [--clients 4]

Project launch: POST /lti/login (platform lookup, state and nonce row, state cookie, 302 to the platform), then
this script, acting as the platform (tests/support/platform.py: its own RSA key, its key set served over HTTP),
signs an id_token RS256 with the nonce it was given and POSTs it to /lti/launch (state and nonce consumed,
registration lookup, the platform key from the cached JWKS, provisioning, launch session, 303 to the app).
Floor: the same two hops against bench/_app.py's /bench/floor/login (302 with state, nonce and a state cookie)
and /bench/floor/launch (one RS256 verify with a key parsed once per worker, one insert, 303): same gunicorn
(sync workers), same app hooks, same database.

`--clients` threads launch back to back (each launch: new connections, as sync workers close them), the project
and the floor alternating in timed rounds so machine noise hits both alike. Every learner launches once before
timing (first launches provision users; the timed ones are returning learners, the common case). Latency is
the two hops' round trips; signing the id_token is the platform's work and is not counted, but it does run on
the same 2 cores as the server, for both sides alike. An error is a transport failure or any status other
than 302 then 303.

Prints launches/s (median of rounds, min-max), p50/p99 of each, their ratios, errors, and the number of launch
sessions the project launches left in the database; the last line is
`RESULT launch_ratio=<x> launches_per_s=<n> floor_per_s=<n> p99_ratio=<x> errors=<n> launches=<n> sessions=<n>`.
Targets: launch_ratio >= 0.6, p99_ratio <= 2, errors = 0. --quick: 3 rounds of 3 s.
"""
from __future__ import annotations

import argparse
import http.client
import itertools
import os
import secrets
import statistics
import sys
import threading
import time
from http.cookies import SimpleCookie
from urllib.parse import parse_qs, urlencode, urlsplit

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench._timing import percentile  # noqa: E402 (after the path above, as a script)


def parse(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 rounds of 3 s")
    parser.add_argument("--db", default="sqlite", help="sqlite (default), postgresql (throwaway cluster) or a URL")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers")
    parser.add_argument("--clients", type=int, default=4, help="client threads launching back to back")
    parser.add_argument("--learners", type=int, default=200, help="distinct learners (2 courses)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=10, help="per round and side")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.seconds, args.learners = 3, 3, 40
    return args


class Launcher:
    """One client: the two hops of a launch on fresh connections, with the state cookie carried between them."""

    def __init__(self, port: int, platform, side: str) -> None:
        self.port, self.platform, self.side = port, platform, side
        self.login_path, self.launch_path = (("/lti/login", "/lti/launch") if side == "project"
                                             else ("/bench/floor/login", "/bench/floor/launch"))

    def _post(self, path: str, form: dict, cookie: str | None) -> tuple[int, dict[str, str], list[str], float]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if cookie:
            headers["Cookie"] = cookie
        start = time.perf_counter()
        try:
            conn.request("POST", path, urlencode(form), headers)
            response = conn.getresponse()
            response.read()
        finally:
            conn.close()
        elapsed = time.perf_counter() - start
        return response.status, dict(response.getheaders()), response.headers.get_all("Set-Cookie") or [], elapsed

    def launch(self, sub: str, course: str) -> tuple[float, str | None]:
        """(seconds spent in the two requests, error or None)."""
        p = self.platform
        status, headers, cookies, first = self._post(self.login_path, {
            "iss": p.issuer, "login_hint": sub, "target_link_uri": "http://localhost/lti/launch",
            "client_id": p.client_id, "lti_deployment_id": p.deployment_id, "lti_message_hint": secrets.token_hex(8)},
            None)
        if status != 302:
            return first, f"login HTTP {status}"
        query = parse_qs(urlsplit(headers["Location"]).query)
        jar = SimpleCookie()
        for line in cookies:
            jar.load(line)
        cookie = "; ".join(f"{k}={m.value}" for k, m in jar.items())
        token = p.sign(p.claims(query["nonce"][0], sub=sub, context_id=course, name=f"Learner {sub}"))
        status, headers, _cookies, second = self._post(self.launch_path, {"id_token": token,
                                                                          "state": query["state"][0]}, cookie)
        if status != 303:
            return first + second, f"launch HTTP {status}"
        if self.side == "project" and "lt=" not in headers.get("Location", ""):
            return first + second, "launch without a launch token"
        return first + second, None


class Side:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.rates: list[float] = []
        self.latencies: list[float] = []
        self.errors: dict[str, int] = {}
        self.ok = 0

    def record(self, seconds: float, error: str | None) -> None:
        with self.lock:
            self.latencies.append(seconds)
            if error:
                self.errors[error] = self.errors.get(error, 0) + 1
            else:
                self.ok += 1


def run_round(launcher: Launcher, side: Side, pick, clients: int, seconds: float) -> None:
    """`clients` threads launching back to back for `seconds`; the round's rate counts completed launches."""
    deadline = time.monotonic() + seconds
    done = [0] * clients

    def client(i: int) -> None:
        while time.monotonic() < deadline:
            sub, course = pick()
            try:
                elapsed, error = launcher.launch(sub, course)
            except (OSError, http.client.HTTPException) as err:
                elapsed, error = 0.0, type(err).__name__
            side.record(elapsed, error)
            done[i] += 1

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    side.rates.append(sum(done) / (time.perf_counter() - start))



def b3_platform(prefix: str):
    """The LMS both B3 benches launch from: a fake platform (its own JWKS server) with a fresh issuer."""
    from tests.support.platform import FakePlatform

    return FakePlatform(issuer=f"https://{prefix}-{secrets.token_hex(3)}.lms.example", client_id="b3-client",
                        deployment_id="b3-deployment")


def main(argv=None) -> int:
    args = parse(argv)
    from bench._database import TempDatabase
    from bench._http import Server
    from bench.load import logging_quiet

    logging_quiet()
    with TempDatabase(args.db) as database:
        secret = secrets.token_hex(32)
        platform = b3_platform("b3")
        server = Server(database.url, secret, database.tmp, workers=args.workers, env={
            "TINKER_BENCH_FLOOR_JWKS": platform.server.url, "TINKER_BENCH_FLOOR_AUD": platform.client_id})
        try:
            _prepare(database.url, secret, server.base, platform)
            server.wait("/readyz")
            learners = [(f"b3-{i:05d}", f"b3-course-{i % 2}") for i in range(args.learners)]
            project, floor = Launcher(server.port, platform, "project"), Launcher(server.port, platform, "floor")
            warm = {"project": Side(), "floor": Side()}
            for sub, course in learners:  # first launches provision; timing measures returning learners
                warm["project"].record(*project.launch(sub, course))
            for sub, course in learners[:20]:
                warm["floor"].record(*floor.launch(sub, course))
            sides = {"floor": Side(), "project": Side()}
            cycle, lock = itertools.cycle(learners), threading.Lock()

            def pick() -> tuple[str, str]:
                with lock:
                    return next(cycle)

            load = [_load()]
            print(f"B3 launch on {database.kind}: gunicorn {args.workers} sync workers on {server.base}, "
                  f"{args.clients} clients, {args.rounds} rounds x {args.seconds:.0f}s per side, "
                  f"{args.learners} learners; {os.cpu_count()} cores shared with this client", flush=True)
            for r in range(args.rounds):
                order = ("floor", "project") if r % 2 == 0 else ("project", "floor")
                for name in order:
                    run_round(project if name == "project" else floor, sides[name], pick, args.clients,
                              args.seconds)
            sessions = _sessions(database.url, secret, server.base)
            load.append(_load())
        finally:
            server.stop()
            platform.close()
    return _report(sides, warm, warm["project"].ok + sides["project"].ok, sessions, server, load)


def _prepare(url: str, secret: str, base: str, platform) -> None:
    """Schema, the bench platform registered with its default rules, and the floor's table."""
    import flask_migrate
    from sqlalchemy import text

    from bench._app import FLOOR_TABLE, build
    from plugin.core.clock import utcnow
    from plugin.extensions import db
    from plugin.onboarding.service import ensure_defaults
    from plugin.tenancy import service as tenancy

    app = build(url, secret, base)
    with app.app_context():
        flask_migrate.upgrade()
        registered = tenancy.register_platform(tenancy.PlatformSpec(
            issuer=platform.issuer, client_id=platform.client_id, auth_login_url=f"{platform.issuer}/auth",
            auth_token_url=f"{platform.issuer}/token", key_set_url=platform.server.url,
            deployment_ids=(platform.deployment_id,), organisation="Launch bench"), utcnow())
        ensure_defaults(registered.organisation_id, utcnow())
        db.session.execute(text(FLOOR_TABLE))
        db.session.commit()
        db.engine.dispose()


def _sessions(url: str, secret: str, base: str) -> int:
    from sqlalchemy import func, select

    from bench._app import build
    from plugin.extensions import db
    from plugin.lti.models import LaunchSession

    app = build(url, secret, base)
    with app.app_context():
        count = db.session.scalar(select(func.count()).select_from(LaunchSession))
        db.session.remove()
        db.engine.dispose()
    return count


def _load() -> str:
    """The machine's 1-minute load average: the ratio is only as steady as the load on the 2 cores."""
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return "?"


def _report(sides: dict[str, Side], warm: dict[str, Side], launches: int, sessions: int, server,
            load: list[str]) -> int:
    floor, project = sides["floor"], sides["project"]
    for name, side in (("floor", floor), ("project", project)):
        if not side.latencies:
            print(f"{name}: no launch completed")
            print("RESULT launch_ratio=0 launches_per_s=0 floor_per_s=0 p99_ratio=0 errors=1 launches=0 sessions=0")
            return 1
        values = side.latencies
        print(f"{name:8s} {statistics.median(side.rates):8,.0f} launches/s (min {min(side.rates):,.0f}, "
              f"max {max(side.rates):,.0f})  p50 {statistics.median(values) * 1e3:6.1f} ms  "
              f"p99 {percentile(values, 99) * 1e3:6.1f} ms  max {max(values) * 1e3:6.1f} ms  ({len(values):,d} launches)")
    labelled = {f"{label} {kind}": n for label, side in (("floor", floor), ("project", project),
                                                          ("warm-up floor", warm["floor"]),
                                                          ("warm-up project", warm["project"]))
                for kind, n in side.errors.items()}
    errors = sum(labelled.values())
    for kind, n in sorted(labelled.items()):
        print(f"error {kind}: {n}")
    if errors:
        print(f"server log tail:\n{server.tail()}")
    ratio = statistics.median(project.rates) / statistics.median(floor.rates)
    p99_ratio = percentile(project.latencies, 99) / percentile(floor.latencies, 99)
    print(f"launch sessions in the database: {sessions:,d} (successful project launches: {launches:,d})")
    print(f"machine load average (1 min): {load[0]} at the start, {load[-1]} at the end")
    ok = ratio >= 0.6 and p99_ratio <= 2 and errors == 0
    print(f"SUMMARY launch: B3 {ratio:.2f}x the floor (target >= 0.6), p99 {p99_ratio:.2f}x (target <= 2), "
          f"{errors} errors -> {'PASS' if ok else 'MISS'}")
    print(f"RESULT launch_ratio={ratio:.2f} launches_per_s={statistics.median(project.rates):.0f} "
          f"floor_per_s={statistics.median(floor.rates):.0f} p99_ratio={p99_ratio:.2f} errors={errors} "
          f"launches={launches} sessions={sessions}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
