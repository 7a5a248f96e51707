"""The writer side of team boards: each team's row per period in team_standing (see models.TeamStanding).

The same writers that keep team_stat keep these rows, in the same transaction:
- ledger.post_entry -> aggregates.apply_points -> bump(): the team's points in each period of the entry;
- experiments and confirmed helps -> aggregates.record_activity -> bump(): a member joining or leaving the
  period's experimenters / helpers;
- a membership or team change -> reconcile.team_members_changed -> team_changed(): the team's rows again,
  from its recomputed figures (its counted members divide every measure);
- a rename -> renamed().

A course's period board is dense or absent (the readers rely on it): the first figure a period gets adds a
row at zero for every team of the course with counted members (copied from their "all" rows, the roster), and
a team that gains members gets a row in every period board its course has. Order keys are -(figure / members)
as a double, computed by the database on the way in and by Python in team_changed: both divide correctly
rounded doubles, so a rebuilt row equals a maintained one bit for bit.
"""
from __future__ import annotations

from sqlalchemy import Float, bindparam, cast, delete, exists, literal, select, update

from plugin.core.db import _insert_for, dialect_name
from plugin.extensions import db
from plugin.leaderboards.models import TeamStanding
from plugin.leaderboards.periods import ALL

_TS = TeamStanding.__table__
FIGURES = ("points", "experimenters", "helpers")  # the figures a measure divides by members
_COLUMNS = ["team_id", "period", "course_id", "name", "members", *FIGURES, *[f"{f}_key" for f in FIGURES]]


def key_of(value: int, members: int) -> float:
    """A measure's order key: the figure per member, negated (ascending is board order)."""
    return -(value / members) if value else 0.0


def _key_sql(column, delta):
    return -(cast(column + delta, Float) / _TS.c.members)


# One UPDATE for every kind of change (deltas of zero leave a figure alone); run with a list of parameter sets.
_BUMP = update(_TS).where(_TS.c.team_id == bindparam("t"), _TS.c.period == bindparam("p")).values(
    points=_TS.c.points + bindparam("dp"), experimenters=_TS.c.experimenters + bindparam("de"),
    helpers=_TS.c.helpers + bindparam("dh"), points_key=_key_sql(_TS.c.points, bindparam("dp")),
    experimenters_key=_key_sql(_TS.c.experimenters, bindparam("de")),
    helpers_key=_key_sql(_TS.c.helpers, bindparam("dh")))

_statements: dict[tuple[str, str], object] = {}


def _fill(name: str):
    """INSERT ... SELECT: every roster team of course :c at zero in period :p (rows already there stay).
    "ensure" does it only when team :t has no row in :p yet (the period board is new to this course)."""
    dialect = dialect_name(db.session)
    if (dialect, name) not in _statements:
        roster = _TS.alias("roster")
        zero = literal(0)
        rows = select(roster.c.team_id, bindparam("p", type_=_TS.c.period.type), roster.c.course_id, roster.c.name,
                      roster.c.members, zero, zero, zero, literal(0.0), literal(0.0), literal(0.0)).where(
            roster.c.course_id == bindparam("c"), roster.c.period == ALL).order_by(roster.c.team_id)
        if name == "ensure":
            rows = rows.where(~exists().where(_TS.c.team_id == bindparam("t"), _TS.c.period == bindparam("p")))
        stmt = _insert_for(db.session, _TS).from_select(_COLUMNS, rows).on_conflict_do_nothing(
            index_elements=["team_id", "period"])
        _statements[(dialect, name)] = stmt
    return _statements[(dialect, name)]


def bump(course_id: int, changes: dict[tuple[int, str], tuple[int, int, int]]) -> None:
    """Add (points, experimenters, helpers) deltas to teams' rows: (team id, period) -> deltas. Rows are
    changed in key order, so concurrent writers lock them in the same order."""
    keys = sorted(k for k, v in changes.items() if any(v))
    if not keys:
        return
    db.session.execute(_fill("ensure"), [{"c": course_id, "t": t, "p": p} for t, p in keys])
    db.session.execute(_BUMP, [dict(zip(("dp", "de", "dh"), changes[(t, p)]), t=t, p=p) for t, p in keys])


def team_changed(team_id: int, course_id: int | None, name: str | None, members: int,
                 figures: dict[str, tuple[int, int, int]]) -> None:
    """Rewrite a team's rows: in every period board of its course, and in each period where its own figures
    (period -> (points, experimenters, helpers)) are not all zero. A team gone, or without counted members,
    has no rows (it is not ranked)."""
    db.session.execute(delete(TeamStanding).where(TeamStanding.team_id == team_id))
    if course_id is None or not members:
        return
    boards = set(db.session.scalars(select(TeamStanding.period).where(TeamStanding.course_id == course_id)
                                    .distinct()))
    periods = boards | {p for p, values in figures.items() if any(values)} | {ALL}
    rows = []
    for period in sorted(periods):
        values = figures.get(period, (0, 0, 0))
        rows.append(dict(zip(_COLUMNS, (team_id, period, course_id, name, members, *values,
                                        *[key_of(v, members) for v in values]))))
    db.session.execute(_TS.insert(), rows)
    new = sorted(periods - boards - {ALL})
    if new:  # periods no other team had a row in yet: every other team joins them at zero
        db.session.execute(_fill("fill"), [{"c": course_id, "p": p} for p in new])


def renamed(team_id: int, name: str) -> None:
    db.session.execute(update(TeamStanding).where(TeamStanding.team_id == team_id).values(name=name))
