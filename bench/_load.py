"""Bulk data for the leaderboard bench (L of ../shared/BENCH.md: 100k learners, 200 teams, 5M ledger rows in
one course plus a second course with 20% of the rows).

The organisation, platform, courses, staff and teams come from the real services; learners, memberships,
team members, experiments and ledger rows are bulk-loaded (sqlite3 executemany / PostgreSQL COPY), never
through the award path; the aggregates are then filled by `plugin.leaderboards.rebuild.rebuild()`.

Realistic shape: activity is heavy-tailed (Pareto, capped), amounts are multiples of 5 from 5 to 50,
dimensions experimenting/helping/sharing 60/25/15, timestamps spread over the last ~6 months so week and
month boards are real, team sizes differ (log-normal weights), 85% of learners are in a team and some in two.
"""
from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Iterable, Iterator

DIMENSIONS = ("experimenting", "helping", "sharing")
DIMENSION_WEIGHTS = (60, 25, 15)
AMOUNTS = tuple(range(5, 51, 5))
OUTCOMES = ("worked", "partly", "failed")
SPAN = timedelta(days=182)
TIME_ZONE = "Europe/Istanbul"  # UTC+3: weeks turn at Sunday 21:00 UTC
BATCH = 50_000


def learner_name(index: int) -> str:
    return f"Learner {index:06d}"


@dataclass
class World:
    organisation_id: int
    platform_id: int
    course_id: int
    course2_id: int
    now: datetime
    users: list[int] = field(default_factory=list)          # index -> user id (course 1: [0, n))
    names: dict[int, str] = field(default_factory=dict)       # user id -> name
    course2_users: list[int] = field(default_factory=list)
    teams: list[int] = field(default_factory=list)
    team_names: dict[int, str] = field(default_factory=dict)
    weights1: list[float] = field(default_factory=list)       # cumulative activity weights, course 1
    weights2: list[float] = field(default_factory=list)
    tools: list[int] = field(default_factory=list)
    categories: list[int] = field(default_factory=list)
    rows: dict[int, int] = field(default_factory=dict)        # course id -> ledger rows loaded
    experiments: int = 0
    seq: itertools.count = field(default_factory=itertools.count)


class Bulk:
    """Fast inserts straight through the driver: executemany on SQLite, COPY on PostgreSQL."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self.sqlite = engine.dialect.name == "sqlite"

    def when(self, moment: datetime):
        """A UTC instant as the UTCDateTime column stores it (naive UTC; SQLite: SQLAlchemy's text form)."""
        naive = moment.astimezone(timezone.utc).replace(tzinfo=None)
        return naive.isoformat(" ", "microseconds") if self.sqlite else naive

    def flag(self, value: bool):
        return int(value) if self.sqlite else value

    def insert(self, table: str, columns: tuple[str, ...], rows: Iterable[tuple]) -> int:
        count = 0
        raw = self.engine.raw_connection()
        try:
            cur = raw.cursor()
            if self.sqlite:
                sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
                cur.execute("BEGIN IMMEDIATE")
                for batch in _chunks(rows, BATCH):
                    cur.executemany(sql, batch)
                    count += len(batch)
                cur.execute("COMMIT")
            else:
                with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
                        count += 1
                raw.commit()
            cur.close()
        finally:
            raw.close()
        return count


def _chunks(rows: Iterable[tuple], size: int) -> Iterator[list[tuple]]:
    it = iter(rows)
    while batch := list(itertools.islice(it, size)):
        yield batch


def _cumulative(weights: list[float]) -> list[float]:
    return list(itertools.accumulate(weights))


def _activity(rng: random.Random, count: int) -> list[float]:
    # Heavy-tailed but capped: the most active learner earns ~100x the least active, not 10,000x.
    return [min(rng.paretovariate(1.5), 60.0) for _ in range(count)]


def setup_world(learners: int, teams: int, rng: random.Random, now: datetime) -> World:
    """Organisation, platform, two courses, learners, memberships and teams (inside an app context)."""
    from sqlalchemy import select

    from plugin.catalog.service import items
    from plugin.core.actor import Role
    from plugin.extensions import db
    from plugin.onboarding.service import ensure_defaults
    from plugin.settings.models import OrganisationSettings
    from plugin.teams.service import ensure_team
    from plugin.tenancy import service as tenancy
    from plugin.tenancy.models import User

    platform = tenancy.register_platform(tenancy.PlatformSpec(
        issuer="https://lms.bench.example", client_id="bench", auth_login_url="https://lms.bench.example/auth",
        auth_token_url="https://lms.bench.example/token", key_set_url="https://lms.bench.example/jwks",
        deployment_ids=("dep-1",), organisation="Bench University"), now)
    ensure_defaults(platform.organisation_id, now)
    db.session.get(OrganisationSettings, platform.organisation_id).time_zone = TIME_ZONE
    deployment = tenancy.find_deployment(platform.id, "dep-1")

    def course_with_staff(context_id: str, title: str) -> int:
        course, _user, _membership = tenancy.provision(tenancy.LaunchIdentity(
            platform.id, deployment.id, context_id, title, context_id.upper(), f"staff-{context_id}", Role.MANAGER,
            ("Instructor",), name=f"Instructor of {title}"), now)
        return course.id

    world = World(platform.organisation_id, platform.id, course_with_staff("big-course", "AI at work (all staff)"),
                  course_with_staff("small-course", "AI for managers"), now)
    world.tools = [t.id for t in items(world.organisation_id, "tools")]
    world.categories = [c.id for c in items(world.organisation_id, "categories")]
    team_rows = [ensure_team(world.course_id, f"Team {i:03d}", now) for i in range(teams)]
    world.teams = [t.id for t in team_rows]
    world.team_names = {t.id: t.name for t in team_rows}
    db.session.commit()
    db.session.remove()  # the bulk loader writes on its own connection: no session transaction may hold the lock

    bulk = Bulk(db.engine)
    extra = learners // 10
    total_users = learners + extra
    created = bulk.when(now - SPAN - timedelta(days=30))
    bulk.insert("user_account", ("platform_id", "sub", "name", "created_at"),
                ((world.platform_id, f"learner-{i:06d}", learner_name(i), created) for i in range(total_users)))
    ids = dict(db.session.execute(select(User.sub, User.id).where(User.platform_id == world.platform_id,
                                                                   User.sub.like("learner-%"))).all())
    db.session.remove()
    world.users = [ids[f"learner-{i:06d}"] for i in range(total_users)]
    world.names = {world.users[i]: learner_name(i) for i in range(total_users)}
    world.course2_users = world.users[learners - extra:]  # half shared with course 1, half only here
    course1_users = world.users[:learners]
    membership = ("course_id", "user_id", "role", "lti_roles", "created_at", "status", "test_user")
    bulk.insert("membership", membership, itertools.chain(
        ((world.course_id, u, "learner", "Learner", created, "active", bulk.flag(False)) for u in course1_users),
        ((world.course2_id, u, "learner", "Learner", created, "active", bulk.flag(False))
         for u in world.course2_users)))

    # Team sizes differ: log-normal weights; 85% of learners in one team, a tenth of those in a second.
    if world.teams:
        team_weights = _cumulative([rng.lognormvariate(0, 0.9) for _ in world.teams])
        pairs = set()
        for u in course1_users:
            if rng.random() < 0.85:
                first = rng.choices(world.teams, cum_weights=team_weights)[0]
                pairs.add((first, u))
                if rng.random() < 0.10:
                    pairs.add((rng.choices(world.teams, cum_weights=team_weights)[0], u))
        bulk.insert("team_member", ("team_id", "user_id"), sorted(pairs))
    world.weights1 = _cumulative(_activity(rng, len(course1_users)))
    world.weights2 = _cumulative(_activity(rng, len(world.course2_users)))
    return world


def load_rows(world: World, bulk: Bulk, rng: random.Random, course_rows: int, course2_rows: int) -> None:
    """Append ledger rows (and one experiment per 50 rows in course 1) until the courses hold these counts."""
    start = world.now - SPAN
    seconds = int(SPAN.total_seconds())

    def ledger(course_id: int, people: list[int], weights: list[float], count: int) -> Iterator[tuple]:
        for batch_start in range(0, count, BATCH):
            size = min(BATCH, count - batch_start)
            who = rng.choices(people, cum_weights=weights, k=size)
            dims = rng.choices(DIMENSIONS, weights=DIMENSION_WEIGHTS, k=size)
            for user_id, dimension in zip(who, dims):
                n = next(world.seq)
                yield (f"bench:{n}", world.organisation_id, course_id, user_id, rng.choice(AMOUNTS), dimension,
                       "bench", n, bulk.when(start + timedelta(seconds=rng.randrange(seconds),
                                                               microseconds=rng.randrange(1_000_000))))

    course1 = world.users[:len(world.weights1)]
    add1 = course_rows - world.rows.get(world.course_id, 0)
    add2 = course2_rows - world.rows.get(world.course2_id, 0)
    columns = ("idempotency_key", "organisation_id", "course_id", "user_id", "amount", "dimension", "source_type",
               "source_id", "created_at")
    if add1 > 0:
        bulk.insert("ledger_entry", columns, ledger(world.course_id, course1, world.weights1, add1))
        world.rows[world.course_id] = course_rows
    if add2 > 0:
        bulk.insert("ledger_entry", columns, ledger(world.course2_id, world.course2_users, world.weights2, add2))
        world.rows[world.course2_id] = course2_rows

    # Experiments feed the team page's activity figures (member_stat / team_stat) through the rebuild.
    experiments = max(0, course_rows // 50 - world.experiments)
    if experiments:
        def rows() -> Iterator[tuple]:
            who = rng.choices(course1, cum_weights=world.weights1, k=experiments)
            for i, user_id in enumerate(who, start=world.experiments):
                yield (world.organisation_id, world.course_id, user_id, f"bench-{i}", f"Bench experiment {i}",
                       rng.choice(world.tools), rng.choice(world.categories), "Asked an assistant to draft it.",
                       rng.choice(OUTCOMES), "", rng.choice((0, 5, 15, 30, 60, 120)), "no", "course",
                       bulk.flag(False), 0, bulk.when(start + timedelta(seconds=rng.randrange(seconds))))
        bulk.insert("experiment", (
            "organisation_id", "course_id", "user_id", "submission_key", "title", "ai_tool_id", "task_category_id",
            "tried", "outcome", "learned", "minutes_saved", "sensitive_data", "visibility", "anonymous",
            "reflection_chars", "created_at"), rows())
        world.experiments += experiments
