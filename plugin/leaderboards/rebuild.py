"""Recompute every board and team aggregate (team standings included) from the truth: the ledger, experiments, confirmed helps and
badge awards. `flask ledger rebuild-aggregates` runs it; `verify()` rebuilds inside a savepoint, compares
with what the writers maintained and rolls back, so it can run on a live database.

The ledger is read once, ordered by person, so memory holds one person's boards at a time plus the rank
buckets; rows are written in batches.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import delete, or_, select, true

from plugin.badges.models import BadgeAward
from plugin.challenges.models import Challenge
from plugin.experiments.models import Experiment
from plugin.extensions import db
from plugin.identity.people import holders
from plugin.leaderboards import aggregates as agg
from plugin.leaderboards.models import BoardRank, BoardScore, MemberStat, TeamStanding, TeamStat
from plugin.leaderboards.periods import ALL, keys_for
from plugin.ledger.models import LedgerEntry
from plugin.peer_help.models import PeerHelp
from plugin.settings.service import time_zone
from plugin.teams.models import Team, TeamMember
from plugin.tenancy.models import Course

BATCH = 20_000
TABLES = (BoardScore, BoardRank, MemberStat, TeamStat, TeamStanding)


@dataclass
class Rebuilt:
    board_rows: int = 0
    member_rows: int = 0
    teams: int = 0
    challenges: int = 0


@dataclass
class _Scope:
    organisation_id: int | None
    courses: dict[int, int] = field(default_factory=dict)  # course id -> organisation id

    def where_course(self, column):
        return column.in_(list(self.courses)) if self.organisation_id is not None else true()


def _scope(organisation_id: int | None) -> _Scope:
    query = select(Course.id, Course.organisation_id)
    if organisation_id is not None:
        query = query.where(Course.organisation_id == organisation_id)
    return _Scope(organisation_id, dict(db.session.execute(query).all()))


def _wipe(scope: _Scope) -> None:
    if scope.organisation_id is None:
        for model in TABLES:
            db.session.execute(delete(model))
        return
    prefixes = [agg.organisation_scope(scope.organisation_id) + ":"] + [agg.course_scope(c) + ":" for c in scope.courses]
    challenge_boards = [agg.board_key(agg.challenge_scope(c), "all", "total") for c in db.session.scalars(
        select(Challenge.id).where(Challenge.course_id.in_(list(scope.courses))))]
    for model in (BoardScore, BoardRank):
        db.session.execute(delete(model).where(or_(model.board.in_(challenge_boards + [agg.blocks_key(b) for b in challenge_boards]),
                                                   *[model.board.startswith(p, autoescape=True) for p in prefixes])))
    db.session.execute(delete(MemberStat).where(MemberStat.course_id.in_(list(scope.courses))))
    db.session.execute(delete(TeamStanding).where(TeamStanding.course_id.in_(list(scope.courses))))
    db.session.execute(delete(TeamStat).where(TeamStat.team_id.in_(
        select(Team.id).where(Team.course_id.in_(list(scope.courses))))))


class _Writer:
    """Batches board rows; counts rank buckets as it goes."""

    def __init__(self) -> None:
        self.rows: list[dict] = []
        self.buckets: dict[tuple[str, int], int] = defaultdict(int)
        self.written = 0

    def person(self, user_id: int, deltas: dict[str, int]) -> None:
        for board, points in deltas.items():
            self.rows.append({"board": board, "user_id": user_id, "points": points})
            self.buckets[(board, points)] += 1
        if len(self.rows) >= BATCH:
            self.flush()

    def flush(self) -> None:
        if self.rows:
            db.session.execute(BoardScore.__table__.insert(), self.rows)
            self.written += len(self.rows)
            self.rows = []

    def close(self) -> None:
        self.flush()
        ranks = [{"board": b, "points": p, "members": n} for (b, p), n in agg.with_blocks(self.buckets).items()]
        for start in range(0, len(ranks), BATCH):
            db.session.execute(BoardRank.__table__.insert(), ranks[start:start + BATCH])


def _boards(scope: _Scope) -> int:
    eligible = set(db.session.execute(agg._eligible_members().where(scope.where_course(agg.Membership.course_id))).all())
    teams: dict[tuple[int, int], set[int]] = defaultdict(set)
    for course_id, user_id, team_id in db.session.execute(
            select(Team.course_id, TeamMember.user_id, TeamMember.team_id).join(Team, Team.id == TeamMember.team_id)
            .where(scope.where_course(Team.course_id))):
        teams[(course_id, user_id)].add(team_id)
    windows: dict[int, list] = defaultdict(list)
    for cid, course_id, team_id, start, end in db.session.execute(
            select(Challenge.id, Challenge.course_id, Challenge.team_id, Challenge.starts_at, Challenge.ends_at)
            .where(Challenge.cancelled_at.is_(None), scope.where_course(Challenge.course_id))):
        windows[course_id].append((cid, team_id, start, end))
    zones = {org: time_zone(org) for org in set(scope.courses.values())}

    original, earned_at = agg._ledger_with_earned_at()
    rows = db.session.execute(
        select(LedgerEntry.user_id, LedgerEntry.course_id, LedgerEntry.dimension, LedgerEntry.amount, earned_at)
        .outerjoin(original, original.id == LedgerEntry.reverses_id)
        .where(scope.where_course(LedgerEntry.course_id)).order_by(LedgerEntry.user_id),
        execution_options={"yield_per": 10_000})
    writer = _Writer()
    # A person linked across LMSs holds one row per organisation board (under their holder's id), summed
    # over their identities; those are written last, the rest as each identity's rows stream by.
    linked, linked_boards = holders(scope.organisation_id), defaultdict(lambda: defaultdict(int))

    def person(user_id: int, deltas: dict[str, int]) -> None:
        holder = linked.get(user_id)
        if holder is not None:
            for board in [b for b in deltas if b[:1] == "o"]:
                linked_boards[holder][board] += deltas.pop(board)
        writer.person(user_id, deltas)

    current, deltas = None, {}
    for user_id, course_id, dimension, amount, at in rows:
        if user_id != current:
            if current is not None:
                person(current, deltas)
            current, deltas = user_id, {}
        if (course_id, user_id) not in eligible:
            continue
        mine = teams.get((course_id, user_id), set())
        challenges = [cid for cid, team, start, end in windows.get(course_id, ())
                      if start <= at < end and (team is None or team in mine)]
        agg._point_boards(scope.courses[course_id], course_id, challenges, dimension, at,
                          zones[scope.courses[course_id]], amount, deltas)
    if current is not None:
        person(current, deltas)
    for holder, boards in sorted(linked_boards.items()):
        writer.person(holder, dict(boards))
    writer.close()
    return writer.written


def _member_stats(scope: _Scope) -> int:
    zones = {org: time_zone(org) for org in set(scope.courses.values())}
    totals: dict[tuple, int] = defaultdict(int)

    def add(course_id: int, user_id: int, at, metrics: dict[str, int]) -> None:
        for period in keys_for(at, zones[scope.courses[course_id]]):
            for metric, value in metrics.items():
                totals[(course_id, user_id, period, metric)] += value

    for e in db.session.execute(select(Experiment.course_id, Experiment.user_id, Experiment.created_at,
                                       Experiment.minutes_saved, Experiment.task_category_id, Experiment.outcome)
                                .where(scope.where_course(Experiment.course_id))):
        add(e.course_id, e.user_id, e.created_at, agg.experiment_metrics(e.minutes_saved, e.task_category_id, e.outcome))
    for h in db.session.execute(select(PeerHelp.course_id, PeerHelp.helper_id, PeerHelp.resolved_at).where(
            PeerHelp.status == "confirmed", scope.where_course(PeerHelp.course_id))):
        add(h.course_id, h.helper_id, h.resolved_at, {"helps": 1})
    for b in db.session.execute(select(BadgeAward.course_id, BadgeAward.user_id, BadgeAward.awarded_at).where(
            BadgeAward.revoked_at.is_(None), scope.where_course(BadgeAward.course_id))):
        add(b.course_id, b.user_id, b.awarded_at, {"badges": 1})
    rows = [{"course_id": c, "user_id": u, "period": p, "metric": m, "value": v}
            for (c, u, p, m), v in totals.items() if v]
    for start in range(0, len(rows), BATCH):
        db.session.execute(MemberStat.__table__.insert(), rows[start:start + BATCH])
    return len(rows)


def rebuild(organisation_id: int | None = None) -> Rebuilt:
    """Recompute boards, rank buckets, member and team figures (one organisation, or all)."""
    scope = _scope(organisation_id)
    _wipe(scope)
    result = Rebuilt(board_rows=_boards(scope), member_rows=_member_stats(scope))
    # Challenge boards came with the ledger pass; team figures are sums of the rows just written.
    for team_id in db.session.scalars(select(Team.id).where(scope.where_course(Team.course_id))):
        agg.team_members_changed(team_id)
        result.teams += 1
    result.challenges = db.session.scalar(select(db.func.count()).select_from(Challenge).where(
        Challenge.cancelled_at.is_(None), scope.where_course(Challenge.course_id))) or 0
    db.session.flush()
    return result


def snapshot(organisation_id: int | None = None) -> dict[str, set[tuple]]:
    """Every aggregate row (zero values dropped: a zero and a missing row mean the same)."""
    scope = _scope(organisation_id)
    courses = list(scope.courses)
    prefixes = [agg.course_scope(c) + ":" for c in courses]
    if organisation_id is not None:
        prefixes.append(agg.organisation_scope(organisation_id) + ":")
    out: dict[str, set[tuple]] = {}
    for model, value in ((BoardScore, "points"), (BoardRank, "members"), (MemberStat, "value"), (TeamStat, "value"),
                         (TeamStanding, "members")):
        query = select(*model.__table__.columns).where(model.__table__.c[value] != 0)
        if organisation_id is not None and model is TeamStanding:
            query = query.where(TeamStanding.course_id.in_(courses))
        elif organisation_id is not None and model in (BoardScore, BoardRank):
            challenge_boards = [agg.board_key(agg.challenge_scope(c), "all", "total") for c in db.session.scalars(
                select(Challenge.id).where(Challenge.course_id.in_(courses)))]
            query = query.where(or_(model.board.in_(challenge_boards + [agg.blocks_key(b) for b in challenge_boards]),
                                    *[model.board.startswith(p, autoescape=True) for p in prefixes]))
        elif organisation_id is not None and model is MemberStat:
            query = query.where(MemberStat.course_id.in_(courses))
        elif organisation_id is not None:
            query = query.where(TeamStat.team_id.in_(select(Team.id).where(Team.course_id.in_(courses))))
        out[model.__tablename__] = {tuple(row) for row in db.session.execute(query)}
    out[TeamStanding.__tablename__] = _without_zero_boards(out[TeamStanding.__tablename__])
    return out


def _without_zero_boards(rows: set[tuple]) -> set[tuple]:
    """Team standings minus period boards where every team stands at zero: such a board reads the same as
    none (the readers list every team at zero), and writers may leave one behind where a rebuild makes none
    (the figures that created it were reversed, or the team that had them lost its members)."""
    columns = [c.name for c in TeamStanding.__table__.columns]
    course, period = columns.index("course_id"), columns.index("period")
    figures = [columns.index(f) for f in ("points", "experimenters", "helpers")]
    moved = {(row[course], row[period]) for row in rows if any(row[i] for i in figures)}
    return {row for row in rows if row[period] == ALL or (row[course], row[period]) in moved}


def verify(organisation_id: int | None = None) -> dict[str, tuple[set, set]]:
    """Differences between maintained and rebuilt aggregates: table -> (only maintained, only rebuilt)."""
    maintained = snapshot(organisation_id)
    savepoint = db.session.begin_nested()
    try:
        rebuild(organisation_id)
        rebuilt = snapshot(organisation_id)
    finally:
        savepoint.rollback()
    return {table: (maintained[table] - rebuilt[table], rebuilt[table] - maintained[table])
            for table in maintained if maintained[table] != rebuilt[table]}
