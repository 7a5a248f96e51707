"""The writer side of boards and team pages: every fact's writer calls in here in its own transaction.

- ledger.post_entry -> apply_points: the person's course, organisation and challenge boards (each period,
  the entry's dimension and the total) and their teams' points.
- experiments, peer help, badges -> record_activity: per-person and per-team figures by period.
- team boards' rows (team_standing) move with the team figures: see standings.py.

Beside it: keys.py names boards, board_rows.py writes board and rank rows (the end of every points write), and
reconcile.py follows membership, team, identity and challenge changes (reconcile_member, reconcile_course,
team_members_changed, relink_boards, rebuild_challenge).

Who counts on boards ("eligible"): an active, non-test member of the course whose role is learner (staff
earn no points and are never on learner boards). Everyone's activity is kept in member_stat;
boards and team figures hold eligible people only, so ranks and team averages never include staff, people
who left, or the LMS's test student.

Writes touch a fixed handful of rows per fact (multi-row upserts, keys sorted so concurrent writers lock in
the same order); nothing here reads the ledger.
"""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, func, select

from plugin.challenges.models import Challenge
from plugin.core import memo
from plugin.core.actor import Role
from plugin.core.db import Hot, HotRows, _insert_for, dialect_name, insert_for_dialect
from plugin.extensions import db
from plugin.identity.people import board_holder
from plugin.leaderboards import standings
from plugin.leaderboards.board_rows import bump_boards
from plugin.leaderboards.keys import board_key, challenge_scope, course_scope, organisation_scope
from plugin.leaderboards.models import MemberStat, TeamStat
from plugin.leaderboards.periods import ALL, keys_for
from plugin.ledger.models import TOTAL
from plugin.settings.service import time_zone
from plugin.teams.models import Team, TeamMember
from plugin.tenancy.models import Membership, counted_membership
from plugin.tenancy.service import standing


# --- who counts --------------------------------------------------------------------------------------
def eligible_clause():
    return counted_membership() & (Membership.role == Role.LEARNER.value)


def eligible_members():
    return select(Membership.course_id, Membership.user_id).where(eligible_clause())


def eligible(course_id: int, user_id: int) -> bool:
    """Whether the person counts on the course's boards now (the same test as eligible_clause, for one)."""
    member = standing(course_id, user_id)
    return member is not None and member.counted_learner


# Built once: the award path runs these on every posting (compiling a fresh select each time cost more
# than running it).
_TEAM, _TEAM_MEMBER, _CHALLENGE = Team.__table__, TeamMember.__table__, Challenge.__table__
_TEAMS_OF = select(_TEAM_MEMBER.c.team_id).join(_TEAM, _TEAM.c.id == _TEAM_MEMBER.c.team_id).where(
    _TEAM.c.course_id == bindparam("course_id"), _TEAM_MEMBER.c.user_id == bindparam("user_id")).order_by(
    _TEAM_MEMBER.c.team_id)
_AT = bindparam("at", type_=_CHALLENGE.c.starts_at.type)
_OPEN_AT = select(_CHALLENGE.c.id, _CHALLENGE.c.team_id, _CHALLENGE.c.is_mission, _CHALLENGE.c.task_category_id,
                  _CHALLENGE.c.ai_tool_id).where(
    _CHALLENGE.c.course_id == bindparam("course_id"), _CHALLENGE.c.cancelled_at.is_(None),
    _CHALLENGE.c.starts_at <= _AT, _CHALLENGE.c.ends_at > _AT).order_by(_CHALLENGE.c.id)


# For a caller's own statement (binds "course_id", "user_id", "now"): the person's teams (how many, the lowest
# id) and whether any challenge of the course is open, for remember_teams_and_challenges.
_MY_TEAMS = select(_TEAM_MEMBER.c.team_id).join(_TEAM, _TEAM.c.id == _TEAM_MEMBER.c.team_id).where(
    _TEAM.c.course_id == bindparam("course_id"), _TEAM_MEMBER.c.user_id == bindparam("user_id")).subquery()
ANY_OPEN_CHALLENGE = select(_CHALLENGE.c.id).where(
    _CHALLENGE.c.course_id == bindparam("course_id"), _CHALLENGE.c.cancelled_at.is_(None),
    _CHALLENGE.c.starts_at <= bindparam("now", type_=_CHALLENGE.c.starts_at.type),
    _CHALLENGE.c.ends_at > bindparam("now", type_=_CHALLENGE.c.starts_at.type)).exists()
# The person's teams as one row (how many, the lowest id) for a caller's FROM.
MY_TEAMS_ROW = select(func.count().label("teams"), func.min(_MY_TEAMS.c.team_id).label("first_team")).subquery(
    "my_teams")


def remember_teams_and_challenges(course_id: int, user_id: int, now: datetime, teams: int, first_team: int | None,
                                  any_open: bool) -> None:
    """MY_TEAMS_ROW and ANY_OPEN_CHALLENGE as read by a caller's statement: team_ids_of and open_challenges at `now` ask no more
    in this transaction when the answer is whole (no team or one; no open challenge)."""
    if teams <= 1:
        memo.store(db.session, ("team_ids_of", course_id, user_id), [] if not teams else [first_team],
                   (_TEAM.name, _TEAM_MEMBER.name))
    if not any_open:
        memo.store(db.session, ("open_challenges", course_id, now), [], (_CHALLENGE.name,))


def team_ids_of(course_id: int, user_id: int) -> list[int]:
    """The person's teams in the course, read once per transaction (forgotten when teams change)."""
    return memo.remember(db.session, ("team_ids_of", course_id, user_id), (_TEAM.name, _TEAM_MEMBER.name),
                         lambda: list(db.session.scalars(_TEAMS_OF, {"course_id": course_id, "user_id": user_id})))


def open_challenges(course_id: int, user_id: int, at: datetime) -> list:
    """The course's challenges open at `at` that count this person (course-wide ones and their teams' ones):
    rows of id, team_id, is_mission, task_category_id, ai_tool_id. Read once per transaction and moment: an
    experiment's postings and its challenge progress all ask about the same moment."""
    rows = memo.remember(db.session, ("open_challenges", course_id, at), (_CHALLENGE.name,),
                         lambda: db.session.execute(_OPEN_AT, {"course_id": course_id, "at": at}).all())
    if not rows:
        return []
    teams = set(team_ids_of(course_id, user_id))
    return [row for row in rows if row.team_id is None or row.team_id in teams]


def _tz(organisation_id: int) -> ZoneInfo:
    return time_zone(organisation_id)


# --- low-level upserts ---------------------------------------------------------------------------------
# Statements are built once per dialect and run with a list of parameter sets (one round trip, compiled
# once: a multi-row VALUES built per call would be compiled again on every award).
_statements: dict[tuple[str, str], object] = {}


def _statement(name: str, build):
    dialect = dialect_name(db.session)
    key = (dialect, name)
    if key not in _statements:
        _statements[key] = build(_insert_for(db.session, _TABLES[name]))
    return _statements[key]


_TABLES = {"member_stat": MemberStat.__table__, "team_stat": TeamStat.__table__}
_KEYS = {"member_stat": ["course_id", "user_id", "period", "metric"], "team_stat": ["team_id", "period", "metric"]}


def _add_values(table, key_columns: list[str], rows: dict[tuple, int], returning: bool = False):
    """Add each row's value to the stored one (creating rows as needed), keys sorted so concurrent writers
    lock in the same order. With `returning`, gives back (keys..., stored value) of each row."""
    rows = {k: v for k, v in rows.items() if v}
    if not rows:
        return []
    name = table.name
    assert _KEYS[name] == key_columns

    def build(ins):
        stmt = ins.on_conflict_do_update(index_elements=key_columns, set_={"value": table.c.value + ins.excluded.value})
        return stmt.returning(*[table.c[c] for c in key_columns], table.c.value) if returning else stmt

    if not returning and dialect_name(db.session) == "sqlite":
        _quiet_rows(name, build).execute(db.session, [(*key, delta) for key, delta in sorted(rows.items())])
        return []
    params = [dict(zip(key_columns, key), value=delta) for key, delta in sorted(rows.items())]
    if not returning:
        _quiet(name, build).execute(db.session, many=params)
        return []
    return db.session.execute(_statement(name, build), params).all()


_hot: dict[str, Hot] = {}
_hot_rows: dict[str, HotRows] = {}


def _quiet(name: str, build) -> Hot:
    """A statement of _add_values that reads nothing back, as a Hot statement (one executemany: PostgreSQL)."""
    hot = _hot.get(name)
    if hot is None:
        hot = _hot[name] = Hot(lambda dialect: build(insert_for_dialect(dialect, _TABLES[name])),
                               writes=(_TABLES[name].name,))
    return hot


def _quiet_rows(name: str, build) -> HotRows:
    """SQLite: a statement of _add_values that reads nothing back, all its rows in one statement (core.db.HotRows)."""
    hot = _hot_rows.get(name)
    if hot is None:
        hot = _hot_rows[name] = HotRows(_TABLES[name], (*_KEYS[name], "value"), build, writes=(_TABLES[name].name,))
    return hot



# --- points (called by ledger.post_entry) ---------------------------------------------------------
def point_boards(organisation_id: int, course_id: int, challenges: list[int], dimension: str,
                  earned_at: datetime, tz: ZoneInfo, amount: int, deltas: dict[str, int]) -> None:
    periods = keys_for(earned_at, tz)
    for scope in (course_scope(course_id), organisation_scope(organisation_id)):
        for period in periods:
            for dim in {dimension, TOTAL}:
                deltas[board_key(scope, period, dim)] = deltas.get(board_key(scope, period, dim), 0) + amount
    for challenge_id in challenges:
        key = board_key(challenge_scope(challenge_id), ALL, TOTAL)
        deltas[key] = deltas.get(key, 0) + amount


def apply_points(organisation_id: int, course_id: int, user_id: int, dimension: str, amount: int,
                 earned_at: datetime) -> None:
    if not amount or not eligible(course_id, user_id):
        return
    tz = _tz(organisation_id)
    team_ids = team_ids_of(course_id, user_id)
    deltas: dict[str, int] = {}
    point_boards(organisation_id, course_id, [c.id for c in open_challenges(course_id, user_id, earned_at)],
                  dimension, earned_at, tz, amount, deltas)
    bump_person(organisation_id, user_id, deltas)
    if team_ids:
        periods = keys_for(earned_at, tz)
        rows = {(t, p, f"points:{d}"): amount for t in team_ids for p in periods for d in {dimension, TOTAL}}
        _add_values(TeamStat.__table__, ["team_id", "period", "metric"], rows)
        standings.bump(course_id, {(t, p): (amount, 0, 0) for t in team_ids for p in periods})


def _is_organisation_board(board: str) -> bool:
    return board[:1] == "o"


def bump_person(organisation_id: int, user_id: int, deltas: dict[str, int], keep_zero: bool = False) -> None:
    """bump_boards for one identity, its organisation boards going to the row of the person it belongs to
    (identities linked across LMSs count once there; course and challenge boards stay per identity)."""
    holder = board_holder(user_id)
    if holder != user_id:
        bump_boards(holder, {b: d for b, d in deltas.items() if _is_organisation_board(b)}, keep_zero)
        deltas = {b: d for b, d in deltas.items() if not _is_organisation_board(b)}
    bump_boards(user_id, deltas, keep_zero)



# --- activity (experiments, confirmed helps, badges) ---------------------------------------------
# metric -> the team metric counting members with at least one in the period
FIRST_MARKERS = {"experiments": "experimenters", "helps": "helpers"}


def record_activity(organisation_id: int, course_id: int, user_id: int, at: datetime, metrics: dict[str, int]) -> None:
    """Count a person's activity in every period `at` falls in, and in their teams when they count there."""
    periods = keys_for(at, _tz(organisation_id))
    rows = {(course_id, user_id, p, m): v for p in periods for m, v in metrics.items()}
    team_ids = team_ids_of(course_id, user_id) if eligible(course_id, user_id) else []
    # The stored values are read back only for the teams' "members who did" counts.
    stored = _add_values(MemberStat.__table__, ["course_id", "user_id", "period", "metric"], rows,
                         returning=bool(team_ids))
    if not team_ids:
        return
    team_rows: dict[tuple, int] = {}
    doers: dict[tuple[int, str], tuple[int, int, int]] = {}
    for _c, _u, period, metric, value in stored:
        marker = FIRST_MARKERS.get(metric)
        delta = metrics[metric]
        if marker and delta and (value > 0) != (value - delta > 0):  # crossed zero: joined or left the doers
            step = 1 if value > 0 else -1
            for t in team_ids:
                team_rows[(t, period, marker)] = step
                _p, e, h = doers.get((t, period), (0, 0, 0))
                doers[(t, period)] = (0, e + step, h) if marker == "experimenters" else (0, e, h + step)
    for t in team_ids:
        for p in periods:
            for m, v in metrics.items():
                team_rows[(t, p, m)] = v
    _add_values(TeamStat.__table__, ["team_id", "period", "metric"], team_rows)
    standings.bump(course_id, doers)


def quiet_activity(organisation_id: int, course_id: int, user_id: int, at: datetime,
                   metrics: dict[str, int]) -> list[tuple[str, str, int]] | None:
    """record_activity's rows as (period, metric, value), sorted, for a writer that adds them to member_stat in
    a statement of its own; None when record_activity must run instead (the person counts in a team: the team's
    figures follow from the stored values read back)."""
    if eligible(course_id, user_id) and team_ids_of(course_id, user_id):
        return None
    periods = keys_for(at, _tz(organisation_id))
    return sorted((p, m, v) for p in periods for m, v in metrics.items() if v)


def experiment_metrics(minutes_saved: int | None, category_id: int | None, outcome: str) -> dict[str, int]:
    metrics = {"experiments": 1, "minutes": int(minutes_saved or 0), f"out:{outcome}": 1}
    if category_id is not None:
        metrics[f"cat:{category_id}"] = 1
    return metrics

