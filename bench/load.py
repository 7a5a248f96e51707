"""Load test (issue 8 item 5): simulated people launching from an LMS, logging experiments, reacting to
colleagues' experiments and viewing dashboards and leaderboards, against gunicorn + PostgreSQL on loopback.

    .venv/bin/python bench/load.py [--quick] [--users 200] [--seconds 60] [--db postgresql|sqlite|URL]
                                   [--workers 4] [--warmup 10]

Each simulated person is a thread with its own cookie jar. It first launches (the full LTI 1.3 flow: login
initiation, a real RS256 id_token signed by this script's own platform, whose key set is served over HTTP),
then loops: dashboard 25%, leaderboard 30%, experiment feed 10%, log an experiment (form + POST) 20%,
react to a colleague's experiment 10%, launch again 5%. No think time: this measures capacity, not a
realistic arrival rate. Every request counts; an error is a transport failure or any status other than the
action's expected one (200 for pages, 303 for form posts, a redirect for each step of a launch).

Prints requests/s, p50/p95/p99 per action and overall, errors by kind, and the machine's load; the last line
is `RESULT rps=<n> p50_ms=<n> p95_ms=<n> p99_ms=<n> errors=<n>` (target: errors=0).
--quick: 20 people for 15 s. On PostgreSQL the timed run follows a warm-up, as many other people doing the same
(--warmup seconds, their errors counted, their times not), and an ANALYZE, as autovacuum keeps a running
deployment's statistics.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import random
import re
import secrets
import statistics
import sys
import threading
import time
import uuid
from collections import defaultdict
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench._timing import percentile  # noqa: E402 (after the path above, as a script)

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
LEARNER = ["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"]
ACTIONS = (("dashboard", 25), ("leaderboard", 30), ("feed", 10), ("log", 20), ("react", 10), ("launch", 5))


def parse(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="20 people for 15 s")
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--db", default="postgresql", help="postgresql (throwaway cluster, default), sqlite or a URL")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers")
    parser.add_argument("--courses", type=int, default=4)
    parser.add_argument("--warmup", type=float, default=None,
                        help="PostgreSQL: seconds of the same load, not counted, then ANALYZE (10; --quick 3; 0: none)")
    args = parser.parse_args(argv)
    if args.quick:
        args.users, args.seconds = 20, 15
    if args.warmup is None:
        args.warmup = 3.0 if args.quick else 10.0
    return args


class Platform:
    """This script's LMS: its own RSA key, its key set served over HTTP, id_tokens signed per launch."""

    def __init__(self) -> None:
        from cryptography.hazmat.primitives.asymmetric import rsa
        from jwt.algorithms import RSAAlgorithm
        from werkzeug.serving import make_server
        from werkzeug.wrappers import Response

        self.issuer = f"https://load-{secrets.token_hex(3)}.lms.example"
        self.client_id, self.deployment_id, self.kid = "load-client", "load-deployment", "load-key"
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        jwk.update({"kid": self.kid, "alg": "RS256", "use": "sig"})
        import json
        body = json.dumps({"keys": [jwk]})
        self.server = make_server("127.0.0.1", 0, lambda env, start: Response(body, mimetype="application/json")(
            env, start), threaded=True)
        self.jwks_url = f"http://127.0.0.1:{self.server.server_port}/jwks"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def id_token(self, *, nonce: str, sub: str, name: str, course: str, target: str) -> str:
        import jwt

        now = int(time.time())
        return jwt.encode({
            "iss": self.issuer, "aud": self.client_id, "sub": sub, "nonce": nonce, "iat": now, "exp": now + 300,
            "name": name, LTI + "message_type": "LtiResourceLinkRequest", LTI + "version": "1.3.0",
            LTI + "deployment_id": self.deployment_id, LTI + "target_link_uri": target,
            LTI + "resource_link": {"id": f"rl-{course}"}, LTI + "roles": LEARNER,
            LTI + "context": {"id": course, "title": f"Course {course}", "label": course.upper()},
            LTI + "launch_presentation": {"locale": "en"},
        }, self.key, algorithm="RS256", headers={"kid": self.kid})

    def close(self) -> None:
        self.server.shutdown()


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, int] = defaultdict(int)
        self.examples: dict[str, str] = {}

    def record(self, action: str, seconds: float, error: str | None = None) -> None:
        with self.lock:
            self.latencies[action].append(seconds)
            if error:
                self.errors[f"{action}: {error}"] += 1


class Person(threading.Thread):
    def __init__(self, index: int, base: str, platform: Platform, courses: list[str], stats: Stats,
                 deadline: float, rng: random.Random) -> None:
        super().__init__(daemon=True)
        import requests

        self.sub, self.name = f"load-{index:04d}", f"Load Person {index:04d}"
        self.course = courses[index % len(courses)]
        self.base, self.platform, self.stats, self.deadline = base, platform, stats, deadline
        self.http = requests.Session()
        self.rng = random.Random(rng.random())
        self.token: str | None = None
        self.form: dict[str, str] | None = None
        self.seen: list[int] = []
        self.mine: set[int] = set()  # own experiments: nobody reacts to their own (the app answers 422)
        self.n = 0
        self.status: int | None = None  # of the last answer

    def _timed(self, action: str, call, expect: int | tuple[int, ...]):
        started = time.perf_counter()
        try:
            response = call()
        except Exception as err:  # noqa: BLE001 - a transport failure is an error to count, not to raise
            self.stats.record(action, time.perf_counter() - started, type(err).__name__)
            return None
        self.status = response.status_code
        ok, error = self.judge(response, expect)
        self.stats.record(action, time.perf_counter() - started, error)
        return response if ok else None

    def judge(self, response, expect: int | tuple[int, ...]) -> tuple[bool, str | None]:
        """Whether the answer is the one the action expects, and the error to count (bench/fault.py counts a
        clean 503 during its outage as no error)."""
        ok = response.status_code in (expect if isinstance(expect, tuple) else (expect,))
        return ok, None if ok else f"HTTP {response.status_code}"

    def launch(self) -> None:
        target = f"{self.base}/lti/launch"
        login = self._timed("launch", lambda: self.http.post(f"{self.base}/lti/login", allow_redirects=False, data={
            "iss": self.platform.issuer, "login_hint": self.sub, "target_link_uri": target,
            "client_id": self.platform.client_id, "lti_deployment_id": self.platform.deployment_id,
            "lti_message_hint": uuid.uuid4().hex}), 302)
        if login is None:
            return
        query = parse_qs(urlsplit(login.headers["Location"]).query)
        token = self.platform.id_token(nonce=query["nonce"][0], sub=self.sub, name=self.name, course=self.course,
                                       target=target)
        launched = self._timed("launch", lambda: self.http.post(target, allow_redirects=False, data={
            "id_token": token, "state": query["state"][0]}), (302, 303))
        if launched is not None:
            found = re.search(r"lt=([^&]+)", launched.headers.get("Location", ""))
            self.token = found.group(1) if found else None

    def page(self, action: str, path: str, **params):
        return self._timed(action, lambda: self.http.get(f"{self.base}{path}", params={"lt": self.token, **params}),
                           200)

    def log(self) -> None:
        form = self.page("log", "/app/experiments/new")
        if form is None:
            return
        if self.form is None:
            pick = lambda name: re.search(rf'<select[^>]*name="{name}"[^>]*>.*?<option value="(\d+)"',  # noqa: E731
                                          form.text, re.S).group(1)
            self.form = {"ai_tool": pick("ai_tool"), "task_category": pick("task_category")}
        self.n += 1
        data = {"lt": self.token, "submission_key": f"{self.sub}-{self.n}-{secrets.token_hex(4)}",
                "title": f"Tried a prompt for task {self.n}", "tried": "Asked the assistant to draft it first.",
                "outcome": self.rng.choice(("worked", "partly", "failed")), "learned": "Check the facts it gives.",
                "minutes_saved": str(self.rng.choice((0, 5, 10, 15, 30))), "sensitive_data": "no",
                "visibility": "course", **self.form}
        self.status = None
        logged = self._timed("log", lambda: self.http.post(f"{self.base}/app/experiments", allow_redirects=False,
                                                           data=data), 303)
        self.submitted(data, self.status)
        found = re.search(r"/app/experiments/(\d+)", logged.headers.get("Location", "")) if logged is not None else None
        if found:
            self.mine.add(int(found.group(1)))

    def submitted(self, data: dict[str, str], status: int | None) -> None:
        """An experiment was sent: its form and the answer's status (None: no answer). bench/fault.py keeps
        receipts here."""

    def feed(self) -> None:
        page = self.page("feed", "/app/experiments")
        if page is not None:
            self.seen = [int(i) for i in re.findall(r'/app/experiments/(\d+)\?', page.text)
                         if int(i) not in self.mine][:30]

    def react(self) -> None:
        if not self.seen:
            self.feed()
            return
        experiment = self.rng.choice(self.seen)
        self._timed("react", lambda: self.http.post(
            f"{self.base}/app/experiments/{experiment}/react", allow_redirects=False,
            data={"lt": self.token, "kind": self.rng.choice(("helpful", "saved_mistake"))}), 303)

    def run(self) -> None:
        self.launch()
        actions, weights = zip(*ACTIONS)
        while time.monotonic() < self.deadline:
            if self.token is None:
                self.launch()
                continue
            action = self.rng.choices(actions, weights)[0]
            if action == "dashboard":
                self.page("dashboard", "/app/")
            elif action == "leaderboard":
                self.page("leaderboard", "/app/leaderboard", period=self.rng.choice(("week", "month", "all")))
            elif action == "feed":
                self.feed()
            elif action == "log":
                self.log()
            elif action == "react":
                self.react()
            else:
                self.launch()


def main(argv=None) -> int:
    args = parse(argv)
    logging_quiet()
    from bench._database import TempDatabase, analyze
    from bench._http import Server

    with TempDatabase(args.db) as database:
        secret = secrets.token_hex(32)
        platform = Platform()
        server = Server(database.url, secret, database.tmp, workers=args.workers)
        try:
            _prepare(database.url, secret, server.base, platform)
            server.wait("/readyz")
            courses = [f"load-course-{i}" for i in range(args.courses)]
            rng = random.Random(11)
            stats = Stats()
            if database.kind == "postgresql" and args.warmup > 0:
                # As many other people for a few seconds (colleagues whose experiments the timed run's people see;
                # the same people would react to their own), their times not counted (their errors are), then the
                # statistics a running deployment has (bench/_database.py: analyze): the timed run is not spent on
                # plans made from empty tables.
                warm = Stats()
                _crowd(args.users, server.base, platform, courses, warm, args.warmup, rng)
                stats.errors.update({f"warm-up {kind}": n for kind, n in warm.errors.items()})
                analyze(database.url)
                print(f"warm-up: {args.users} other people for {args.warmup:g}s "
                      f"({sum(map(len, warm.latencies.values())):,d} requests, not timed), then ANALYZE", flush=True)
            deadline = time.monotonic() + args.seconds
            people = [Person(i, server.base, platform, courses, stats, deadline, rng) for i in range(args.users)]
            print(f"load on {database.kind}: {args.users} people in {args.courses} courses for {args.seconds:.0f}s "
                  f"against gunicorn ({args.workers} sync workers) on {server.base}; {os.cpu_count()} cores shared "
                  "with this client", flush=True)
            started = time.perf_counter()
            _run(people, args.seconds)
            elapsed = time.perf_counter() - started
            load = os.getloadavg()[0]
        finally:
            server.stop()
            platform.close()
        return _report(stats, elapsed, load, server)


def _run(people: list[Person], seconds: float) -> None:
    for person in people:
        person.start()
    for person in people:
        person.join(seconds + 120)


def _crowd(users: int, base: str, platform: Platform, courses: list[str], stats: Stats, seconds: float,
           rng: random.Random) -> None:
    """`users` people other than the timed run's (indexes after theirs) doing what they do, for `seconds`."""
    deadline = time.monotonic() + seconds
    _run([Person(i, base, platform, courses, stats, deadline, rng) for i in range(users, 2 * users)], seconds)


def logging_quiet() -> None:
    import logging

    for name in ("alembic", "werkzeug"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _prepare(url: str, secret: str, base: str, platform: Platform) -> None:
    """Schema, and the organisation with this script's platform registered and its default rules."""
    import flask_migrate

    from bench._app import build
    from plugin.core.clock import utcnow
    from plugin.extensions import db
    from plugin.onboarding.service import ensure_defaults
    from plugin.tenancy import service as tenancy

    app = build(url, secret, base)
    with app.app_context():
        with contextlib.redirect_stderr(io.StringIO()):  # alembic's INFO lines (its env.py configures logging)
            flask_migrate.upgrade()
        registered = tenancy.register_platform(tenancy.PlatformSpec(
            issuer=platform.issuer, client_id=platform.client_id, auth_login_url=f"{platform.issuer}/auth",
            auth_token_url=f"{platform.issuer}/token", key_set_url=platform.jwks_url,
            deployment_ids=(platform.deployment_id,), organisation="Load test"), utcnow())
        ensure_defaults(registered.organisation_id, utcnow())
        db.session.commit()
        db.engine.dispose()


def _report(stats: Stats, elapsed: float, load: float, server) -> int:
    everything = [v for values in stats.latencies.values() for v in values]
    errors = sum(stats.errors.values())
    print(f"{'action':12s} {'requests':>9s} {'p50 ms':>8s} {'p95 ms':>8s} {'p99 ms':>8s} {'max ms':>8s}")
    for action, _ in ACTIONS:
        values = stats.latencies.get(action, [])
        if values:
            print(f"{action:12s} {len(values):9,d} {statistics.median(values) * 1000:8.1f} "
                  f"{percentile(values, 95) * 1000:8.1f} {percentile(values, 99) * 1000:8.1f} "
                  f"{max(values) * 1000:8.1f}")
    if not everything:
        print("no request completed")
        print("RESULT rps=0 p50_ms=0 p95_ms=0 p99_ms=0 errors=1")
        return 1
    p50, p95, p99 = (percentile(everything, p) * 1000 for p in (50, 95, 99))
    print(f"{'all':12s} {len(everything):9,d} {p50:8.1f} {p95:8.1f} {p99:8.1f} {max(everything) * 1000:8.1f}")
    print(f"{len(everything) / elapsed:,.0f} requests/s over {elapsed:.0f}s; load average {load:.1f}")
    for kind, n in sorted(stats.errors.items()):
        print(f"error {kind}: {n}")
    if errors:
        print(f"server log tail:\n{server.tail()}")
    print(f"RESULT rps={len(everything) / elapsed:.0f} p50_ms={p50:.1f} p95_ms={p95:.1f} p99_ms={p99:.1f} "
          f"errors={errors}")
    return 0 if errors == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
