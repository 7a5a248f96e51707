"""B3's launch in process: CPU time and SQL statements per hop of a returning learner's launch, the project's
/lti/login + /lti/launch next to bench/_app.py's floor pair, through Flask's test client (no HTTP, no gunicorn).

    .venv/bin/python bench/launch_profile.py [--quick] [--db sqlite|postgresql|URL] [--launches 300] [--profile]

Where bench/launch.py measures throughput on a shared, noisy machine, this measures what a launch costs the
server's CPU (`time.process_time`, which other processes' load disturbs far less than wall-clock rates) and how
many statements it sends (an SQLAlchemy `before_cursor_execute` listener, BEGIN/COMMIT included where the
code issues them as statements). It first prints the statements of one returning launch, hop by hop. The
platform's id_token signing is done between the hops and not counted. --profile adds a cProfile of the
project's launches (cumulative, top 40).

Last line: `RESULT cpu_ratio=<floor ms / project ms> project_ms=<x> floor_ms=<x> login_statements=<n>
launch_statements=<n>`.
"""
from __future__ import annotations

import argparse
import collections
import cProfile
import io
import os
import pstats
import secrets
import statistics
import sys
import time
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

HOPS = {"project": ("/lti/login", "/lti/launch"), "floor": ("/bench/floor/login", "/bench/floor/launch")}


def parse(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="100 launches per side")
    parser.add_argument("--db", default="sqlite", help="sqlite (default), postgresql (throwaway cluster) or a URL")
    parser.add_argument("--launches", type=int, default=300, help="timed launches per side")
    parser.add_argument("--learners", type=int, default=40)
    parser.add_argument("--profile", action="store_true", help="cProfile the project's launches too")
    args = parser.parse_args(argv)
    if args.quick:
        args.launches = 100
    return args


class Counter:
    """Statements per hop, and the text of those of the hop being recorded."""

    def __init__(self) -> None:
        self.hop: str | None = None
        self.counts: collections.Counter[str] = collections.Counter()
        self.recording = False
        self.texts: dict[str, list[str]] = collections.defaultdict(list)

    def __call__(self, _conn, _cursor, statement, _params, _context, _many) -> None:
        if self.hop is not None:
            self.counts[self.hop] += 1
            if self.recording:
                self.texts[self.hop].append(" ".join(statement.split())[:140])


def main(argv=None) -> int:
    args = parse(argv)
    from sqlalchemy import event

    from bench._app import build
    from bench._database import TempDatabase
    from bench.launch import _prepare, b3_platform
    from bench.load import logging_quiet
    from plugin.extensions import db
    from plugin.lti import roster_jobs

    logging_quiet()
    with TempDatabase(args.db) as database:
        secret = secrets.token_hex(32)
        platform = b3_platform("b3p")
        os.environ["TINKER_BENCH_FLOOR_JWKS"], os.environ["TINKER_BENCH_FLOOR_AUD"] = platform.server.url, "b3-client"
        try:
            _prepare(database.url, secret, "http://127.0.0.1", platform)
            app = build(database.url, secret, "http://127.0.0.1")
            with app.app_context():
                engine = db.engine
            counter = Counter()
            event.listen(engine, "before_cursor_execute", counter)
            client = app.test_client()
            learners = [(f"b3-{i:05d}", f"b3-course-{i % 2}") for i in range(args.learners)]

            def launch(side: str, sub: str, course: str) -> tuple[float, float]:
                login_path, launch_path = HOPS[side]
                counter.hop = f"{side} login"
                start = time.process_time()
                response = client.post(login_path, data={
                    "iss": platform.issuer, "login_hint": sub, "target_link_uri": "http://localhost/lti/launch",
                    "client_id": platform.client_id, "lti_deployment_id": platform.deployment_id,
                    "lti_message_hint": secrets.token_hex(8)})
                login_cpu = time.process_time() - start
                counter.hop = None
                if response.status_code != 302:
                    raise SystemExit(f"{side} login: HTTP {response.status_code}")
                query = parse_qs(urlsplit(response.headers["Location"]).query)
                token = platform.sign(platform.claims(query["nonce"][0], sub=sub, context_id=course,
                                                      name=f"Learner {sub}"))
                counter.hop = f"{side} launch"
                start = time.process_time()
                response = client.post(launch_path, data={"id_token": token, "state": query["state"][0]})
                launch_cpu = time.process_time() - start
                counter.hop = None
                if response.status_code != 303:
                    raise SystemExit(f"{side} launch: HTTP {response.status_code}")
                return login_cpu, launch_cpu

            for sub, course in learners:  # first launches provision: what follows are returning learners
                launch("project", sub, course)
                launch("floor", sub, course)
            roster_jobs.wait_for_background()
            counter.counts.clear()
            counter.recording = True
            for side in HOPS:
                launch(side, *learners[0])
            counter.recording = False
            print(f"B3 in process on {database.kind}: statements of one returning launch")
            for hop, texts in counter.texts.items():
                print(f"  {hop}: {len(texts)}")
                for text in texts:
                    print(f"      {text}")
            counter.counts.clear()
            cpu: dict[str, list[float]] = collections.defaultdict(list)
            for i in range(args.launches):
                for side in HOPS:
                    login_cpu, launch_cpu = launch(side, *learners[i % len(learners)])
                    cpu[f"{side} login"].append(login_cpu)
                    cpu[f"{side} launch"].append(launch_cpu)
                    cpu[side].append(login_cpu + launch_cpu)
            print(f"CPU per hop (median of {args.launches}, ms) and statements per hop:")
            for hop in ("project login", "project launch", "floor login", "floor launch"):
                print(f"  {hop:15s} {statistics.median(cpu[hop]) * 1e3:6.2f} ms  "
                      f"{counter.counts[hop] / args.launches:5.1f} statements")
            project, floor = statistics.median(cpu["project"]), statistics.median(cpu["floor"])
            print(f"  launch (both hops): project {project * 1e3:.2f} ms, floor {floor * 1e3:.2f} ms "
                  f"-> {floor / project:.2f}x")
            if args.profile:
                profiler = cProfile.Profile()
                profiler.enable()
                for i in range(args.launches):
                    launch("project", *learners[i % len(learners)])
                profiler.disable()
                out = io.StringIO()
                pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(40)
                print(out.getvalue())
            roster_jobs.wait_for_background()
            with app.app_context():
                db.session.remove()
                db.engine.dispose()
        finally:
            platform.close()
    print(f"RESULT cpu_ratio={floor / project:.2f} project_ms={project * 1e3:.2f} floor_ms={floor * 1e3:.2f} "
          f"login_statements={counter.counts['project login'] / args.launches:.0f} "
          f"launch_statements={counter.counts['project launch'] / args.launches:.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
