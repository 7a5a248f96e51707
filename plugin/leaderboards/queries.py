"""Boards read from the maintained aggregates (board_score, board_rank, team_stat), never from the ledger.

Tie rule: standard competition ranking ("1224"): equal points share a rank and the next rank skips. Within
a tie, rows are listed by user id (earliest account first), so the order never flickers.

A rank is 1 + the number of people above, read from the rank buckets (people per points value): its cost
grows with the number of distinct points values above a person, never with how many people are above.

Who is on a board: the people `aggregates.eligible` admits (active learners; staff only when a course
includes them; never people who left or the LMS's test student). People who opted out keep their place and
rank; everyone but themselves sees "Anonymous participant" and no id, on pages, in the API and in exports.
Hiding one's name holds across the organisation (every course's board and the organisation's).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select

from plugin.extensions import db
from plugin.leaderboards import aggregates as agg
from plugin.leaderboards.models import ON, BoardOptOut, BoardRank, BoardScore, BoardSetting, TeamStat
from plugin.leaderboards.periods import ALL
from plugin.ledger.models import TOTAL
from plugin.teams.models import Team
from plugin.tenancy.models import Course, Membership, User

ANONYMOUS = "Anonymous participant"


@dataclass(frozen=True)
class Scope:
    kind: str  # "course", "organisation" or "challenge"
    id: int

    @classmethod
    def course(cls, course_id: int) -> Scope:
        return cls("course", course_id)

    @classmethod
    def organisation(cls, organisation_id: int) -> Scope:
        return cls("organisation", organisation_id)

    @classmethod
    def challenge(cls, challenge_id: int) -> Scope:
        return cls("challenge", challenge_id)

    @property
    def key(self) -> str:
        return {"course": agg.course_scope, "organisation": agg.organisation_scope,
                "challenge": agg.challenge_scope}[self.kind](self.id)


@dataclass(frozen=True)
class Row:
    rank: int
    user_id: int | None  # None when the person is anonymous to this viewer
    name: str
    points: int
    is_viewer: bool = False
    anonymous: bool = False


@dataclass(frozen=True)
class Board:
    scope: Scope
    period: str
    dimension: str
    rows: list[Row]  # the top of the board (empty in relative mode)
    around: list[Row] = field(default_factory=list)  # the viewer and neighbours, when not already in rows
    viewer: Row | None = None  # None: the viewer is not on this board (no points yet, or staff)
    participants: int = 0

    @property
    def viewer_in_top(self) -> bool:
        return any(r.is_viewer for r in self.rows)


def _key(scope: Scope, period: str, dimension: str) -> str:
    return agg.board_key(scope.key, period, dimension if scope.kind != "challenge" else TOTAL)


def rank_of(board: str, points: int) -> int:
    above = db.session.scalar(select(func.coalesce(func.sum(BoardRank.members), 0)).where(
        BoardRank.board == board, BoardRank.points > points))
    return int(above) + 1


def _ranks_for(board: str, values: set[int]) -> dict[int, int]:
    """Ranks of several points values with two reads: the rank of the highest, then the buckets in between."""
    if not values:
        return {}
    high, low = max(values), min(values)
    rank = rank_of(board, high)
    ranks = {high: rank}
    buckets = db.session.execute(select(BoardRank.points, BoardRank.members).where(
        BoardRank.board == board, BoardRank.points <= high, BoardRank.points >= low,
    ).order_by(BoardRank.points.desc())).all()
    above = rank - 1
    for points, members in buckets:
        ranks[points] = above + 1
        above += members
    return ranks


def organisation_of(scope: Scope) -> int | None:
    if scope.kind == "organisation":
        return scope.id
    return db.session.scalar(select(Course.organisation_id).where(Course.id == course_of(scope)))


def _anonymous(scope: Scope, user_ids: set[int]) -> set[int]:
    """Who of these people the viewer must not see named: anyone who hid their name in any course of the
    organisation; on the organisation's board also anyone whose courses show learners no individual boards
    (team-only or off), since their own course never names them either."""
    if not user_ids:
        return set()
    organisation_id = organisation_of(scope)
    in_organisation = Course.organisation_id == organisation_id
    hidden = set(db.session.scalars(select(BoardOptOut.user_id).join(Course, Course.id == BoardOptOut.course_id)
                                    .where(BoardOptOut.user_id.in_(user_ids), in_organisation)))
    if scope.kind == "organisation":
        named = set(db.session.scalars(select(Membership.user_id).join(Course, Course.id == Membership.course_id)
                                       .outerjoin(BoardSetting, BoardSetting.course_id == Membership.course_id)
                                       .where(Membership.user_id.in_(user_ids), in_organisation,
                                              func.coalesce(BoardSetting.mode, ON) == ON)))
        hidden |= user_ids - named
    return hidden


def course_of(scope: Scope) -> int | None:
    if scope.kind == "course":
        return scope.id
    if scope.kind == "challenge":
        from plugin.challenges.models import Challenge
        return db.session.scalar(select(Challenge.course_id).where(Challenge.id == scope.id))
    return None


def _rows(scope: Scope, board: str, found: list[tuple[int, int]], viewer_user_id: int | None) -> list[Row]:
    ids = {u for u, _ in found}
    names = dict(db.session.execute(select(User.id, User.name).where(User.id.in_(ids))).all()) if ids else {}
    hidden = _anonymous(scope, ids - {viewer_user_id})
    ranks = _ranks_for(board, {p for _, p in found})
    out = []
    for user_id, points in found:
        if user_id in hidden:
            out.append(Row(ranks[points], None, ANONYMOUS, points, anonymous=True))
        else:
            out.append(Row(ranks[points], user_id, names.get(user_id) or f"Participant {user_id}", points,
                           is_viewer=user_id == viewer_user_id))
    return out


def _neighbours(board: str, user_id: int, points: int, count: int) -> list[tuple[int, int]]:
    """Up to `count` people just above and just below (user id, points), in board order, the person included."""
    above = list(db.session.execute(select(BoardScore.user_id, BoardScore.points).where(
        BoardScore.board == board, BoardScore.points == points, BoardScore.user_id < user_id,
    ).order_by(BoardScore.user_id.desc()).limit(count)).all())
    if len(above) < count:
        above += db.session.execute(select(BoardScore.user_id, BoardScore.points).where(
            BoardScore.board == board, BoardScore.points > points,
        ).order_by(BoardScore.points, BoardScore.user_id.desc()).limit(count - len(above))).all()
    below = list(db.session.execute(select(BoardScore.user_id, BoardScore.points).where(
        BoardScore.board == board, BoardScore.points == points, BoardScore.user_id > user_id,
    ).order_by(BoardScore.user_id).limit(count)).all())
    if len(below) < count:
        below += db.session.execute(select(BoardScore.user_id, BoardScore.points).where(
            BoardScore.board == board, BoardScore.points < points,
        ).order_by(BoardScore.points.desc(), BoardScore.user_id).limit(count - len(below))).all()
    return [tuple(r) for r in reversed(above)] + [(user_id, points)] + [tuple(r) for r in below]


def board(scope: Scope, period: str = ALL, dimension: str = TOTAL, viewer_user_id: int | None = None, *,
          limit: int = 20, around: int = 2, relative: bool = False) -> Board:
    """The top `limit` (none in relative mode) and, when the viewer is below them, the viewer with `around`
    neighbours each side."""
    key = _key(scope, period, dimension)
    top: list[tuple[int, int]] = []
    if not relative:
        top = [tuple(r) for r in db.session.execute(select(BoardScore.user_id, BoardScore.points).where(
            BoardScore.board == key).order_by(BoardScore.points.desc(), BoardScore.user_id).limit(limit))]
    rows = _rows(scope, key, top, viewer_user_id)
    viewer = next((r for r in rows if r.is_viewer), None)
    near: list[Row] = []
    if viewer is None and viewer_user_id is not None:
        mine = db.session.scalar(select(BoardScore.points).where(BoardScore.board == key,
                                                                 BoardScore.user_id == viewer_user_id))
        if mine is not None:
            shown = {u for u, _ in top}
            found = [(u, p) for u, p in _neighbours(key, viewer_user_id, mine, around) if u not in shown]
            near = _rows(scope, key, found, viewer_user_id)
            viewer = next(r for r in near if r.is_viewer)
    participants = db.session.scalar(select(func.coalesce(func.sum(BoardRank.members), 0)).where(
        BoardRank.board == key)) or 0
    return Board(scope, period, dimension, rows, near, viewer, int(participants))


# --- teams ---------------------------------------------------------------------------------------------
POINTS_PER_MEMBER, EXPERIMENTERS, HELPERS = "points_per_member", "experimenters", "helpers"
TEAM_MEASURES = (POINTS_PER_MEMBER, EXPERIMENTERS, HELPERS)


@dataclass(frozen=True)
class TeamRow:
    rank: int
    team_id: int
    name: str
    members: int
    points: int
    points_per_member: float
    experimenters_share: float  # 0..1: members with at least one experiment in the period
    helpers_share: float        # 0..1: members with at least one confirmed help in the period
    is_mine: bool = False

    def measure(self, name: str) -> float:
        return {POINTS_PER_MEMBER: self.points_per_member, EXPERIMENTERS: self.experimenters_share,
                HELPERS: self.helpers_share}[name]


MIN_TEAM_SIZE = 3  # on learners' team boards: a smaller team's figures would single people out


def team_board(course_id: int, period: str = ALL, measure: str = POINTS_PER_MEMBER, dimension: str = TOTAL,
               my_team_ids: set[int] | frozenset[int] = frozenset(), min_members: int = 1) -> list[TeamRow]:
    """Every team of the course with at least `min_members` counted members, fair to teams of any size:
    points per counted member, or the share of members who experimented / helped in the period."""
    teams = dict(db.session.execute(select(Team.id, Team.name).where(Team.course_id == course_id)).all())
    if not teams:
        return []
    wanted = {"members", f"points:{dimension}", EXPERIMENTERS, HELPERS}
    figures: dict[int, dict[str, int]] = {t: {} for t in teams}
    for team_id, period_key, metric, value in db.session.execute(
            select(TeamStat.team_id, TeamStat.period, TeamStat.metric, TeamStat.value).where(
                TeamStat.team_id.in_(list(teams)), TeamStat.period.in_({ALL, period}), TeamStat.metric.in_(wanted))):
        if metric == "members" and period_key == ALL or metric != "members" and period_key == period:
            figures[team_id][metric] = int(value)
    rows = []
    for team_id, f in figures.items():
        members = f.get("members", 0)
        if not members or members < min_members:
            continue
        points = f.get(f"points:{dimension}", 0)
        rows.append(TeamRow(0, team_id, teams[team_id], members, points, round(points / members, 1),
                            f.get(EXPERIMENTERS, 0) / members, f.get(HELPERS, 0) / members, team_id in my_team_ids))
    rows.sort(key=lambda r: (-r.measure(measure), r.name, r.team_id))
    ranked: list[TeamRow] = []
    for position, row in enumerate(rows, start=1):
        same = ranked and ranked[-1].measure(measure) == row.measure(measure)
        ranked.append(TeamRow(**{**row.__dict__, "rank": ranked[-1].rank if same else position}))
    return ranked


def team_figures(team_id: int, periods: list[str]) -> dict[str, dict[str, int]]:
    """period -> metric -> value for one team (members, points:<dimension>, experiments, minutes,
    experimenters, helpers, helps, badges, cat:<id>, out:<outcome>)."""
    out: dict[str, dict[str, int]] = {p: {} for p in periods}
    for period, metric, value in db.session.execute(select(TeamStat.period, TeamStat.metric, TeamStat.value).where(
            TeamStat.team_id == team_id, TeamStat.period.in_(periods))):
        out[period][metric] = int(value)
    return out
