"""The rebuild's team figures (team_stat, team_standing) for every team of a scope at once.

The writers recompute one team at a time (reconcile.team_members_changed: its members' board rows and member
figures, then standings.team_changed); a rebuild doing that per team read every member's board rows again,
team by team, and cost about as much as summing the whole ledger. Here the same figures come from three
grouped statements: counted members per team, points per team from the rebuild's own ledger sums
(rebuild_fine: per course, person, dimension, week and month), and activity from the member_stat rows just
written. The rows written are the ones team_members_changed and team_changed would leave, team after team
(tests compare a rebuild with what the writers maintained).
"""
from __future__ import annotations

from collections import defaultdict

from sqlalchemy import and_, case, func, select, text

from plugin.core.db import bulk_insert
from plugin.extensions import db
from plugin.leaderboards import aggregates as agg
from plugin.leaderboards import reconcile, standings
from plugin.leaderboards.models import MemberStat, TeamStanding, TeamStat
from plugin.leaderboards.periods import ALL
from plugin.ledger.models import TOTAL
from plugin.teams.models import Team, TeamMember
from plugin.tenancy.models import Membership

_FIGURE_OF = reconcile._STANDING_FIGURES  # team_stat metric -> its place in a standing's (points, experimenters, helpers)


def team_points() -> list[tuple]:
    """(team id, dimension, week, month, points) from the rebuild's working table rebuild_fine (call while it
    exists): the counted members' entries in their teams' courses."""
    return db.session.execute(text(
        "SELECT tm.team_id, f.dimension, f.week, f.month, SUM(f.amount) FROM rebuild_fine f "
        "JOIN team_member tm ON tm.user_id = f.user_id JOIN team t ON t.id = tm.team_id AND t.course_id = f.course_id "
        "GROUP BY tm.team_id, f.dimension, f.week, f.month")).all()


def rebuild_teams(where_course, points: list[tuple]) -> int:
    """Write team_stat and team_standing for the teams of the courses `where_course` (a clause on a course id
    column) selects, after _wipe and with member_stat rebuilt. Returns how many teams."""
    teams = {t.id: t for t in db.session.execute(select(Team.id, Team.course_id, Team.name).where(
        where_course(Team.course_id)).order_by(Team.id))}
    counted = and_(Membership.user_id == TeamMember.user_id, Membership.course_id == Team.course_id,
                   agg.eligible_clause())
    members = dict(db.session.execute(
        select(TeamMember.team_id, func.count()).join(Team, Team.id == TeamMember.team_id).join(Membership, counted)
        .where(where_course(Team.course_id)).group_by(TeamMember.team_id)).all())

    rows: dict[tuple, int] = {(t, ALL, "members"): members.get(t, 0) for t in teams}
    for team_id, dimension, week, month, amount in points:
        for period in (ALL, week, month):
            for metric in (f"points:{dimension}", f"points:{TOTAL}"):
                rows[(team_id, period, metric)] = rows.get((team_id, period, metric), 0) + int(amount)
    doers = func.sum(case((MemberStat.value > 0, 1), else_=0))
    activity = (select(TeamMember.team_id, MemberStat.period, MemberStat.metric, func.sum(MemberStat.value), doers)
                .join(Team, Team.id == TeamMember.team_id).join(Membership, counted)
                .join(MemberStat, and_(MemberStat.course_id == Team.course_id, MemberStat.user_id == TeamMember.user_id))
                .where(where_course(Team.course_id))
                .group_by(TeamMember.team_id, MemberStat.period, MemberStat.metric))
    for team_id, period, metric, total, count in db.session.execute(activity):
        rows[(team_id, period, metric)] = int(total)
        if metric in agg.FIRST_MARKERS:
            rows[(team_id, period, agg.FIRST_MARKERS[metric])] = int(count or 0)

    values = [{"team_id": t, "period": p, "metric": m, "value": v} for (t, p, m), v in sorted(rows.items()) if v]
    if values:
        bulk_insert(db.session, TeamStat.__table__, values)
    _standings(teams, members, rows)
    return len(teams)


def _standings(teams: dict, members: dict[int, int], rows: dict[tuple, int]) -> None:
    """Every team with counted members gets a row in each period board of its course: "all", and each period
    in which some team of the course has a figure that is not zero (standings.team_changed, applied to every
    team in turn, leaves exactly this)."""
    figures: dict[int, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0, 0]))
    for (team_id, period, metric), value in rows.items():
        if metric in _FIGURE_OF and members.get(team_id):
            figures[team_id][period][_FIGURE_OF[metric]] = value
    boards: dict[int, set[str]] = defaultdict(lambda: {ALL})
    for team_id, periods in figures.items():
        boards[teams[team_id].course_id] |= {p for p, values in periods.items() if any(values)}
    out = []
    for team_id, team in teams.items():
        count = members.get(team_id, 0)
        if not count:
            continue
        for period in sorted(boards[team.course_id]):
            values = figures[team_id].get(period, [0, 0, 0]) if team_id in figures else [0, 0, 0]
            out.append(dict(zip(standings._COLUMNS, (team_id, period, team.course_id, team.name, count, *values,
                                                     *[standings.key_of(v, count) for v in values]))))
    if out:
        bulk_insert(db.session, TeamStanding.__table__, out)
