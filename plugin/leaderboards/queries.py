"""Boards read from the maintained aggregates (board_score, board_rank, team_standing, team_stat), never from the
ledger.

Tie rule: standard competition ranking ("1224"): equal points share a rank and the next rank skips. Within
a tie, rows are listed by user id (earliest account first), so the order never flickers.

A rank is 1 + the number of people above, read from the rank buckets (people per points value) and their
blocks (keys.BLOCK): its cost is bounded by the block width plus the number of blocks, never by how many
people are above. A board is one statement whatever its size (see board()).

Who is on a board: the people `aggregates.eligible` admits (active learners; staff only when a course
includes them; never people who left or the LMS's test student). People who opted out keep their place and
rank; everyone but themselves sees "Anonymous participant" and no id, on pages, in the API and in exports.
Hiding one's name holds across the organisation (every course's board and the organisation's), and across
the identities of a person linked across LMSs. On organisation boards a linked person is one row, held by
their lowest account id (identity.people.board_holder).
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

from sqlalchemy import text

from plugin.core.db import Hot, read
from plugin.extensions import db
from plugin.i18n import gettext as _
from plugin.leaderboards import keys
from plugin.leaderboards.models import ON
from plugin.leaderboards.periods import ALL
from plugin.ledger.models import TOTAL

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
        return {"course": keys.course_scope, "organisation": keys.organisation_scope,
                "challenge": keys.challenge_scope}[self.kind](self.id)


class Row(NamedTuple):  # a tuple: boards build hundreds per page
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
    return keys.board_key(scope.key, period, dimension if scope.kind != "challenge" else TOTAL)


def _hidden_sql(scope: Scope) -> str:
    """Whether the row's person (s.user_id) must be shown unnamed to others: anyone who hid their name in any
    course of the organisation; on the organisation's board also anyone whose courses show learners no
    individual boards (team-only or off), since their own course never names them either. One correlated
    lookup per shown row (at most limit + 2 * around + 1 rows), on indexed columns."""
    organisation = {"course": "(SELECT organisation_id FROM course WHERE id = :scope_id)",
                    "organisation": ":scope_id",
                    "challenge": "(SELECT c.organisation_id FROM challenge x JOIN course c ON c.id = x.course_id "
                                 "WHERE x.id = :scope_id)"}[scope.kind]
    # Scalar lookups (LIMIT 1) rather than EXISTS: PostgreSQL may turn a correlated EXISTS into a hashed
    # subplan over every membership of the database, once per page; a scalar lookup stays per shown row.
    # A person linked across LMSs (identity_link) is one person here too: hiding their name in either LMS hides
    # it everywhere, and any of their courses that shows individual boards lets the organisation's board name them.
    # Each lookup comes twice: for the row's own account, and through its links (no rows when it has none).
    whose = {"own": "{0} WHERE {1}.user_id = s.user_id",
             "linked": "identity_link li JOIN identity_link lk ON lk.person_id = li.person_id "
                       "JOIN {0} ON {1}.user_id = lk.user_id WHERE li.user_id = s.user_id"}
    opted_out = ("(SELECT 1 FROM {} JOIN course oc ON oc.id = o.course_id WHERE {} "
                 f"AND oc.organisation_id = {organisation} LIMIT 1) IS NOT NULL")
    hidden = " OR ".join(opted_out.format(*form.format("board_opt_out o", "o").split(" WHERE ", 1))
                         for form in whose.values())
    if scope.kind == "organisation":
        mode_on = ("(SELECT 1 FROM {} JOIN course mc ON mc.id = m.course_id LEFT JOIN board_setting bs "
                   f"ON bs.course_id = m.course_id WHERE {{}} AND mc.organisation_id = {organisation} "
                   f"AND COALESCE(bs.mode, '{ON}') = '{ON}' LIMIT 1) IS NULL")
        hidden += " OR (" + " AND ".join(mode_on.format(*form.format("membership m", "m").split(" WHERE ", 1))
                                         for form in whose.values()) + ")"
    return f"CASE WHEN {hidden} THEN 1 ELSE 0 END"


# A board is one statement, built once per scope kind, whatever the board's size:
# - the top `limit` rows in board order (part _TOP);
# - the viewer's neighbourhood: up to `around` people each side of them (part _NEAR), with the size of each
#   shown value's bucket, so ranks follow from the viewer's;
# - names and anonymity, looked up once for the rows of both parts;
# - the board's size (the sum of its blocks) and the number of people above the viewer (the blocks above the
#   viewer's block plus the buckets above them inside it), part _SIZE.
# Rows come in no particular order: board() sorts the few it gets.
_TOP, _NEAR, _SIZE = 0, 1, 2
_BOARD: dict[tuple[str, int, int], Hot] = {}
_MINE, _MY_BLOCK = "(SELECT points FROM mine)", "(SELECT block FROM mine)"


def _board_sql(scope: Scope, limit: int, around: int):
    """Built once per (scope kind, limit, around). The limits are written into the statement rather than bound:
    with LIMIT as a parameter, PostgreSQL's generic plan (see config.py) guesses a tenth of the board and
    can no longer count on stopping early; boards use a handful of limits. Sent as a Hot statement (straight
    to the driver: every page asks for one)."""
    key = (scope.kind, int(limit), int(around))
    if key not in _BOARD:
        branch = ("SELECT * FROM (SELECT user_id, points FROM board_score WHERE board = :board AND {} "
                  "ORDER BY {} LIMIT {}) AS {}")
        near = " UNION ALL ".join(branch.format(*parts) for parts in (
            (f"points = {_MINE} AND user_id < :viewer", "user_id DESC", around, "same_above"),
            (f"points > {_MINE}", "points, user_id DESC", around, "above"),
            (f"points = {_MINE} AND user_id >= :viewer", "user_id", around + 1, "same_below"),
            (f"points < {_MINE}", "points DESC, user_id", around, "below")))
        _BOARD[key] = Hot(text(
            # The viewer's points and their block (floored, as keys.block_of).
            f"WITH mine AS (SELECT points, CASE WHEN points >= 0 THEN points / {keys.BLOCK} "
            f"ELSE -((-points + {keys.BLOCK - 1}) / {keys.BLOCK}) END AS block "
            "FROM board_score WHERE board = :board AND user_id = :viewer) "
            # Names by a lookup per row, not a join: a join may be planned as a hash over every account.
            "SELECT s.part, s.user_id, s.points, (SELECT name FROM user_account WHERE id = s.user_id), "
            f"{_hidden_sql(scope)}, s.members FROM ("
            f"SELECT * FROM (SELECT {_TOP} AS part, user_id, points, 0 AS members FROM board_score "
            f"WHERE board = :board ORDER BY points DESC, user_id LIMIT {int(limit)}) AS top_rows "
            f"UNION ALL SELECT {_NEAR}, n.user_id, n.points, r.members FROM ({near}) AS n "
            "JOIN board_rank r ON r.board = :board AND r.points = n.points) AS s "
            # The board's size and the people above the viewer from one pass over the blocks, plus the buckets
            # of the viewer's own block on whichever side of them is shorter (at most half a block): in the lower
            # half, the blocks from theirs up less the buckets from the block's start to their points; in the
            # upper half, the blocks above theirs plus the buckets above them to the block's end. NULL without a
            # viewer on this board.
            f"UNION ALL SELECT {_SIZE}, NULL, COALESCE(SUM(members), 0), NULL, CASE WHEN {_MINE} IS NULL THEN NULL "
            f"WHEN {_MINE} - {_MY_BLOCK} * {keys.BLOCK} < {keys.BLOCK // 2} THEN "
            f"COALESCE(SUM(CASE WHEN points >= {_MY_BLOCK} THEN members END), 0) "
            f"- (SELECT COALESCE(SUM(members), 0) FROM board_rank WHERE board = :board "
            f"AND points >= {_MY_BLOCK} * {keys.BLOCK} AND points <= {_MINE}) "
            f"ELSE COALESCE(SUM(CASE WHEN points > {_MY_BLOCK} THEN members END), 0) "
            f"+ (SELECT COALESCE(SUM(members), 0) FROM board_rank WHERE board = :board AND points > {_MINE} "
            f"AND points < ({_MY_BLOCK} + 1) * {keys.BLOCK}) END, 0 FROM board_rank WHERE board = :blocks"))
    return _BOARD[key]


def _row(rank: int, user_id: int, name: str | None, points: int, hidden: int, viewer_user_id: int | None) -> Row:
    if user_id == viewer_user_id:
        return Row(rank, user_id, name or _("Participant %(id)s", id=user_id), points, is_viewer=True)
    if hidden:
        return Row(rank, None, _("Anonymous participant"), points, anonymous=True)  # ANONYMOUS, in the reader's language
    return Row(rank, user_id, name or _("Participant %(id)s", id=user_id), points)


def _around(found: list, viewer_user_id: int, above: int, around: int, shown: set[int]) -> list[Row]:
    """The viewer and up to `around` people each side, in board order, minus those already shown. Ranks follow
    from the viewer's (1 + the people above) and the bucket sizes of the values shown: a higher value's rank
    is the next one's less its own bucket; a lower value's is the previous one's plus the previous bucket."""
    found.sort(key=lambda r: (-r[2], r[1]))
    me = next(i for i, r in enumerate(found) if r[1] == viewer_user_id)
    found = found[max(0, me - around):me + around + 1]
    me = min(me, around)
    ranks = [0] * len(found)
    ranks[me] = above + 1
    for i in range(me - 1, -1, -1):
        ranks[i] = ranks[i + 1] if found[i][2] == found[i + 1][2] else ranks[i + 1] - int(found[i][5])
    for i in range(me + 1, len(found)):
        ranks[i] = ranks[i - 1] if found[i][2] == found[i - 1][2] else ranks[i - 1] + int(found[i - 1][5])
    return [_row(rank, r[1], r[3], int(r[2]), r[4], viewer_user_id)
            for rank, r in zip(ranks, found) if r[1] not in shown]


def board(scope: Scope, period: str = ALL, dimension: str = TOTAL, viewer_user_id: int | None = None, *,
          limit: int = 20, around: int = 2, relative: bool = False) -> Board:
    """The top `limit` (none in relative mode) and, when the viewer is below them, the viewer with `around`
    neighbours each side. One statement whatever the board's size."""
    key = _key(scope, period, dimension)
    rows: list[Row] = []
    top_ids: list[int] = []
    near: list = []
    above: int | None = None
    participants = 0
    rank = previous = None
    found = _board_sql(scope, 0 if relative else limit, around).all(db.session, {
        "board": key, "blocks": keys.blocks_key(key), "viewer": viewer_user_id, "scope_id": scope.id})
    found.sort(key=lambda r: (r[0], -(r[2] or 0), r[1] or 0))  # parts in turn, each in board order
    for row in found:
        part, user_id, points, name, hidden = row[:5]
        if part == _TOP:  # board order; ties share the rank of the first of them ("1224")
            if points != previous:
                rank, previous = len(rows) + 1, points
            top_ids.append(user_id)
            rows.append(Row(rank, user_id, name, points, user_id == viewer_user_id)
                        if name is not None and (not hidden or user_id == viewer_user_id)
                        else _row(rank, user_id, name, points, hidden, viewer_user_id))
        elif part == _NEAR:
            near.append(row)
        else:  # _SIZE
            participants = int(points)
            above = None if hidden is None else int(hidden)
    viewer = next((r for r in rows if r.is_viewer), None)
    neighbours: list[Row] = []
    if viewer is None and above is not None:
        neighbours = _around(near, viewer_user_id, above, around, set(top_ids))
        viewer = next((r for r in neighbours if r.is_viewer), None)
    return Board(scope, period, dimension, rows, neighbours, viewer, participants)


_ALL_ROWS: dict[str, object] = {}


def _all_rows_sql(scope: Scope):
    """One page of the board after a given (points, user id), in board order, with names and anonymity."""
    if scope.kind not in _ALL_ROWS:
        _ALL_ROWS[scope.kind] = text(
            "SELECT s.user_id, s.points, (SELECT name FROM user_account WHERE id = s.user_id), "
            f"{_hidden_sql(scope)} FROM (SELECT user_id, points FROM board_score WHERE board = :board "
            "AND (:first = 1 OR points < :points OR (points = :points AND user_id > :user_id)) "
            "ORDER BY points DESC, user_id LIMIT :page) AS s ORDER BY s.points DESC, s.user_id")
    return _ALL_ROWS[scope.kind]


EXPORT_PAGE = 1000  # rows read per query by all_rows


def all_rows(scope: Scope, period: str = ALL, dimension: str = TOTAL, viewer_user_id: int | None = None) -> Iterator[Row]:
    """Every row of the board in board order, ranked as board() ranks them, read EXPORT_PAGE rows at a time (for
    the export: a board may hold far more people than one page shows, and the file must hold them all)."""
    page = EXPORT_PAGE
    params = {"board": _key(scope, period, dimension), "scope_id": scope.id, "first": 1, "points": 0, "user_id": 0,
              "page": page}
    count, rank, previous = 0, None, None
    while True:
        found = db.session.execute(_all_rows_sql(scope), params).all()
        for user_id, points, name, hidden in found:
            count += 1
            if points != previous:
                rank, previous = count, points
            yield _row(rank, user_id, name, int(points), hidden, viewer_user_id)
        if len(found) < page:
            return
        params.update(first=0, points=found[-1][1], user_id=found[-1][0])


# --- teams ---------------------------------------------------------------------------------------------
POINTS_PER_MEMBER, EXPERIMENTERS, HELPERS = "points_per_member", "experimenters", "helpers"
TEAM_MEASURES = (POINTS_PER_MEMBER, EXPERIMENTERS, HELPERS)


def _percent(part: int, whole: int) -> int:
    """part/whole as a whole percentage rounded half up, in integers (23 of 40 is 58%: in floats 57.49999...)."""
    return (part * 200 + whole) // (whole * 2) if whole else 0


class TeamRow(NamedTuple):  # a tuple, its shares worked out when read: a board builds one per team shown
    rank: int
    team_id: int
    name: str
    members: int
    points: int
    experimenters: int  # members with at least one experiment in the period
    helpers: int        # members with at least one confirmed help in the period
    is_mine: bool = False

    @property
    def points_per_member(self) -> float:
        return round(self.points / self.members, 1)

    @property
    def experimenters_share(self) -> float:  # 0..1
        return self.experimenters / self.members

    @property
    def helpers_share(self) -> float:  # 0..1
        return self.helpers / self.members

    @property
    def experimenters_percent(self) -> int:  # rounded half up, like the challenges
        return _percent(self.experimenters, self.members)

    @property
    def helpers_percent(self) -> int:
        return _percent(self.helpers, self.members)

    def measure(self, name: str) -> float:
        return getattr(self, _MEASURE_FIELDS[name])


_MEASURE_FIELDS = {POINTS_PER_MEMBER: "points_per_member", EXPERIMENTERS: "experimenters_share",
                   HELPERS: "helpers_share"}


MIN_TEAM_SIZE = 3  # on learners' team boards: a smaller team's figures would single people out


@dataclass(frozen=True)
class TeamBoard:
    rows: list[TeamRow]  # the top of the board, in board order
    mine: list[TeamRow]  # the viewer's teams ranked below those, at their true ranks, in board order
    total: int           # teams ranked on this board (at least min_members counted members)


_KEYS = {POINTS_PER_MEMBER: "points_key", EXPERIMENTERS: "experimenters_key", HELPERS: "helpers_key"}
_FIGURES = "s.team_id, s.name, s.members, s.points, s.experimenters, s.helpers"
_RANKED = "s.course_id = :course AND s.period = {} AND s.members >= :min_members"
_TEAM_BOARDS: dict[tuple[str, int], object] = {}  # per (measure, limit): see _board_sql
NO_LIMIT = 2 ** 31 - 1


def _team_board_sql(measure: str, limit: int):
    """One statement per measure, read off that measure's index (see models.TeamStanding): how many teams are
    ranked (part 2, counted on the roster: the "all" rows), the viewer's ranked teams with how many ranked teams
    stand above each (part 1), and the top `limit` rows (part 0; last: SQLite ran the whole statement several
    times slower with this part, an ORDER BY ... LIMIT subquery, first)."""
    if (measure, limit) not in _TEAM_BOARDS:
        key = _KEYS[measure]
        _TEAM_BOARDS[measure, limit] = text(
            f"SELECT 2 AS part, NULL AS team_id, NULL AS name, COUNT(*) AS members, 0 AS points, 0 AS experimenters, "
            f"0 AS helpers, 0.0 AS order_key, 0 AS above FROM team_standing s WHERE {_RANKED.format(repr(ALL))} "
            f"UNION ALL SELECT 1, {_FIGURES}, s.{key}, (SELECT COUNT(*) FROM team_standing o WHERE "
            f"o.course_id = :course AND o.period = :period AND o.{key} < s.{key} AND o.members >= :min_members) "
            # CROSS JOIN: SQLite starts from the viewer's memberships (PostgreSQL plans it as any inner join)
            f"FROM team_member m CROSS JOIN team_standing s "
            f"WHERE m.user_id = :viewer AND s.team_id = m.team_id AND {_RANKED.format(':period')} "
            f"UNION ALL SELECT * FROM (SELECT 0, {_FIGURES}, s.{key}, 0 FROM team_standing s "
            f"WHERE {_RANKED.format(':period')} ORDER BY s.{key}, s.name, s.team_id LIMIT {int(limit)}) AS top_rows")
    return _TEAM_BOARDS[measure, limit]


# A period nobody's figures moved in has no rows: every ranked team stands at zero (the roster, by name).
_ROSTER = text("SELECT s.team_id, s.name, s.members, (SELECT COUNT(*) FROM team_member m WHERE m.team_id = s.team_id "
               f"AND m.user_id = :viewer) FROM team_standing s WHERE {_RANKED.format(repr(ALL))} "
               "ORDER BY s.name, s.team_id")


def team_board(course_id: int, period: str = ALL, measure: str = POINTS_PER_MEMBER, *, limit: int | None = None,
               viewer_user_id: int | None = None, min_members: int = 1) -> TeamBoard:
    """The course's teams with at least `min_members` counted members, fair to teams of any size: ranked by
    points per counted member, or the share of members who experimented / helped in the period (ties share a
    rank, "1224"; listed by name). The top `limit` (every team when None) and the viewer's teams below them.
    One statement off the team_standing index whatever the number of teams (a second, over the roster, for a
    period in which nobody's figures moved)."""
    found = read(db.session, _team_board_sql(measure, NO_LIMIT if limit is None else int(limit)), {
        "course": course_id, "period": period, "min_members": min_members, "viewer": viewer_user_id}).all()
    mine = {row[1]: row for row in found if row[0] == 1}
    total = next(int(row[3]) for row in found if row[0] == 2)
    top: list[TeamRow] = []
    previous = None
    for _part, team_id, name, members, points, experimenters, helpers, order_key, _above in found:
        if _part:
            continue
        rank = top[-1].rank if top and order_key == previous else len(top) + 1
        top.append(TeamRow(rank, team_id, name, members, points, experimenters, helpers, team_id in mine))
        previous = order_key
    if total and not top:
        roster = [TeamRow(1, team_id, name, members, 0, 0, 0, bool(is_mine)) for team_id, name, members, is_mine in
                  read(db.session, _ROSTER, {"course": course_id, "min_members": min_members,
                                               "viewer": viewer_user_id})]
        top = roster if limit is None else roster[:limit]
        return TeamBoard(top, [r for r in roster[len(top):] if r.is_mine], total)
    shown = {r.team_id for r in top}
    below = sorted((row[7], row[2], row[1], TeamRow(int(row[8]) + 1, *row[1:7], True))
                   for team_id, row in mine.items() if team_id not in shown)
    return TeamBoard(top, [r for *_order, r in below], total)


_TEAM_FIGURES: dict[int, object] = {}  # one statement per number of periods (a page asks for a fixed set)


def team_figures(team_id: int, periods: list[str]) -> dict[str, dict[str, int]]:
    """period -> metric -> value for one team (members, points:<dimension>, experiments, minutes,
    experimenters, helpers, helps, badges, cat:<id>, out:<outcome>)."""
    statement = _TEAM_FIGURES.get(len(periods))
    if statement is None:
        statement = _TEAM_FIGURES[len(periods)] = text(
            "SELECT period, metric, value FROM team_stat WHERE team_id = :team AND period IN ("
            + ", ".join(f":p{i}" for i in range(len(periods))) + ")")
    out: dict[str, dict[str, int]] = {p: {} for p in periods}
    for period, metric, value in read(db.session, statement, {
            "team": team_id, **{f"p{i}": p for i, p in enumerate(periods)}}).all():
        out[period][metric] = int(value)
    return out
