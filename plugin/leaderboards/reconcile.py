"""Boards and team figures following who counts: a membership, role or team change, an identity link, a
challenge created, moved or cancelled. Each recomputes the rows concerned from the ledger and the per-person
figures (the ledger is the truth); the award path never comes here."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import (
    String,
    and_,
    bindparam,
    case,
    cast,
    delete,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.orm import aliased

from plugin.challenges.models import Challenge
from plugin.extensions import db
from plugin.identity.people import board_holder, identities
from plugin.leaderboards import standings
from plugin.leaderboards.aggregates import (
    FIRST_MARKERS,
    bump_person,
    eligible,
    eligible_clause,
    eligible_members,
    point_boards,
    team_ids_of,
)
from plugin.leaderboards.board_rows import bump_boards, drop_from_boards, write_board
from plugin.leaderboards.keys import blocks_key, board_key, challenge_scope, course_scope, organisation_scope, split_key
from plugin.leaderboards.models import BoardRank, BoardScore, MemberStat, TeamStat
from plugin.leaderboards.periods import ALL, keys_for
from plugin.ledger.models import TOTAL, LedgerEntry
from plugin.settings.service import time_zone
from plugin.teams.models import Team, TeamMember
from plugin.tenancy.models import Course, Membership

_CHALLENGE = Challenge.__table__


def _ledger_with_earned_at():
    original = aliased(LedgerEntry)
    earned_at = func.coalesce(original.created_at, LedgerEntry.created_at)
    return original, earned_at


def _person_ledger():
    original, earned_at = _ledger_with_earned_at()
    return select(LedgerEntry.dimension, LedgerEntry.amount, earned_at).outerjoin(
        original, original.id == LedgerEntry.reverses_id).where(
        LedgerEntry.course_id == bindparam("course_id"), LedgerEntry.user_id == bindparam("user_id"))


# Built once: every launch of a learner without points asks it (building the aliased join cost more than running it).
_PERSON_LEDGER = _person_ledger()


def _person_boards(course: Course, user_id: int) -> dict[str, int]:
    """The board deltas one person's whole ledger in a course adds up to (course, organisation, challenges)."""
    rows = db.session.execute(_PERSON_LEDGER, {"course_id": course.id, "user_id": user_id}).all()
    if not rows:  # nobody's boards move: no time zone, teams or challenges to look up
        return {}
    tz = time_zone(course.organisation_id)
    team_ids = team_ids_of(course.id, user_id)
    windows = _challenge_windows(course.id)
    deltas: dict[str, int] = {}
    for dimension, amount, at in rows:
        challenges = [cid for cid, team, start, end in windows
                      if start <= at < end and (team is None or team in team_ids)]
        point_boards(course.organisation_id, course.id, challenges, dimension, at, tz, amount, deltas)
    return deltas


def _challenge_windows(course_id: int) -> list[tuple[int, int | None, datetime, datetime]]:
    return list(db.session.execute(select(Challenge.id, Challenge.team_id, Challenge.starts_at, Challenge.ends_at)
                                   .where(Challenge.course_id == course_id, Challenge.cancelled_at.is_(None))))


def _course_board_rows_statement():
    # The course's boards by key prefix (ids and digits only: nothing to escape in the LIKE pattern); its
    # challenges' boards named in the same statement rather than read first.
    scope, rest = challenge_scope(0)[:-1], board_key("", ALL, TOTAL)  # "x" and ":all:total"
    challenge_board = literal(scope) + cast(_CHALLENGE.c.id, String) + literal(rest)
    return select(BoardScore.board).where(BoardScore.user_id == bindparam("user_id"), or_(
        BoardScore.board.like(bindparam("prefix")), BoardScore.board.in_(select(challenge_board).where(
            _CHALLENGE.c.course_id == bindparam("course_id"), _CHALLENGE.c.cancelled_at.is_(None)))))


# Built once: every launch asks it (reconcile_member).
_COURSE_BOARD_ROWS = _course_board_rows_statement()


def _course_board_rows(course_id: int, user_id: int) -> list[str]:
    return list(db.session.scalars(_COURSE_BOARD_ROWS, {"user_id": user_id, "course_id": course_id,
                                                        "prefix": course_scope(course_id) + ":%"}))


def _counts_elsewhere(course: Course, user_id: int) -> bool:
    """Whether the person has points in another course of the organisation where they count."""
    other_courses = select(Course.id).where(Course.organisation_id == course.organisation_id, Course.id != course.id)
    counted = eligible_members().where(Membership.user_id == user_id,
                                        Membership.course_id.in_(other_courses)).subquery()
    return db.session.execute(select(LedgerEntry.id).join(counted, and_(
        counted.c.course_id == LedgerEntry.course_id, counted.c.user_id == LedgerEntry.user_id)).limit(1)).first() is not None


def reconcile_member(course_id: int, user_id: int) -> bool:
    """Put the person on or take them off the course's boards to match whether they count now.

    Cheap when nothing changed (two indexed reads); called after every launch and roster sync.
    """
    want = eligible(course_id, user_id)
    have_rows = _course_board_rows(course_id, user_id)
    course = db.session.get(Course, course_id)
    if want and not have_rows:
        deltas = _person_boards(course, user_id)
        if not deltas:
            return False
        # Boards their points net to zero on keep a row at 0, as the writers and a rebuild keep one.
        bump_person(course.organisation_id, user_id, deltas, keep_zero=True)
    elif not want and have_rows:
        drop_from_boards(user_id, have_rows)
        if len(identities(user_id)) > 1 or _counts_elsewhere(course, user_id):
            # Their organisation rows, recomputed from the courses (and linked identities) that still count: a
            # period only this course fed leaves the board, as a rebuild leaves it (subtracting this course's
            # points left such a period on the board at 0).
            relink_boards(course.organisation_id, [user_id])
        else:  # nothing left for them on the organisation's boards either
            drop_from_boards(user_id, db.session.scalars(select(BoardScore.board).where(
                BoardScore.user_id == user_id,
                BoardScore.board.startswith(organisation_scope(course.organisation_id) + ":", autoescape=True))))
    else:
        return False
    for team_id in team_ids_of(course_id, user_id):
        team_members_changed(team_id)
    return True


def reconcile_course(course_id: int) -> int:
    """reconcile_member for everyone whose standing differs from the boards; then every team's figures."""
    on_boards = set(db.session.scalars(select(BoardScore.user_id).where(
        BoardScore.board == board_key(course_scope(course_id), ALL, TOTAL))))
    wanted = set(db.session.scalars(select(Membership.user_id).where(
        Membership.course_id == course_id, eligible_clause())))
    with_points = set(db.session.scalars(select(LedgerEntry.user_id).where(
        LedgerEntry.course_id == course_id).distinct())) if wanted - on_boards else set()
    changed = 0
    for user_id in sorted((on_boards - wanted) | ((wanted - on_boards) & with_points)):
        changed += reconcile_member(course_id, user_id)
    for team_id in db.session.scalars(select(Team.id).where(Team.course_id == course_id)):
        team_members_changed(team_id)
    # A team challenge's board counts the team's members as they are now (as a rebuild would).
    for challenge_id in db.session.scalars(select(Challenge.id).where(
            Challenge.course_id == course_id, Challenge.team_id.is_not(None), Challenge.cancelled_at.is_(None))):
        rebuild_challenge(challenge_id)
    return changed


def team_members_changed(team_id: int) -> None:
    """Recompute a team's figures from its counted members' rows (after people joined, left or changed)."""
    team = db.session.get(Team, team_id)
    db.session.execute(delete(TeamStat).where(TeamStat.team_id == team_id))
    if team is None:
        standings.team_changed(team_id, None, None, 0, {})
        return
    members = select(TeamMember.user_id).join(Membership, and_(
        Membership.user_id == TeamMember.user_id, Membership.course_id == team.course_id)).where(
        TeamMember.team_id == team_id, eligible_clause())
    member_ids = list(db.session.scalars(members))
    rows: dict[tuple, int] = {(team_id, ALL, "members"): len(member_ids)}
    if member_ids:
        prefix = course_scope(team.course_id) + ":"
        for board, points in db.session.execute(select(BoardScore.board, func.sum(BoardScore.points)).where(
                BoardScore.user_id.in_(member_ids), BoardScore.board.startswith(prefix, autoescape=True),
        ).group_by(BoardScore.board)):
            _scope, period, dimension = split_key(board)
            rows[(team_id, period, f"points:{dimension}")] = int(points)
        doers = func.sum(case((MemberStat.value > 0, 1), else_=0))
        for period, metric, total, count in db.session.execute(
                select(MemberStat.period, MemberStat.metric, func.sum(MemberStat.value), doers).where(
                    MemberStat.course_id == team.course_id, MemberStat.user_id.in_(member_ids))
                .group_by(MemberStat.period, MemberStat.metric)):
            rows[(team_id, period, metric)] = int(total)
            if metric in FIRST_MARKERS:
                rows[(team_id, period, FIRST_MARKERS[metric])] = int(count or 0)
    values = [{"team_id": t, "period": p, "metric": m, "value": v} for (t, p, m), v in sorted(rows.items()) if v]
    if values:
        db.session.execute(TeamStat.__table__.insert(), values)
    figures: dict[str, tuple[int, int, int]] = defaultdict(lambda: (0, 0, 0))
    for (_t, period, metric), value in rows.items():
        if metric in _STANDING_FIGURES:
            values_now = list(figures[period])
            values_now[_STANDING_FIGURES[metric]] = value
            figures[period] = tuple(values_now)
    standings.team_changed(team_id, team.course_id, team.name, len(member_ids), dict(figures))


# team_stat metric -> its place in a standing's (points, experimenters, helpers)
_STANDING_FIGURES = {f"points:{TOTAL}": 0, "experimenters": 1, "helpers": 2}


def rebuild_challenge(challenge_id: int) -> None:
    """Recompute a challenge's board from the ledger (after it was created, moved, retargeted or cancelled)."""
    board = board_key(challenge_scope(challenge_id), ALL, TOTAL)
    db.session.execute(delete(BoardScore).where(BoardScore.board == board))
    db.session.execute(delete(BoardRank).where(BoardRank.board.in_([board, blocks_key(board)])))
    challenge = db.session.get(Challenge, challenge_id)
    if challenge is None or challenge.cancelled_at is not None:
        return
    original, earned_at = _ledger_with_earned_at()
    eligible_people = eligible_members().where(Membership.course_id == challenge.course_id).subquery()
    query = select(LedgerEntry.user_id, func.sum(LedgerEntry.amount)).outerjoin(
        original, original.id == LedgerEntry.reverses_id).join(
        eligible_people, and_(eligible_people.c.user_id == LedgerEntry.user_id,
                              eligible_people.c.course_id == LedgerEntry.course_id)).where(
        LedgerEntry.course_id == challenge.course_id, earned_at >= challenge.starts_at,
        earned_at < challenge.ends_at).group_by(LedgerEntry.user_id)
    if challenge.team_id is not None:
        query = query.where(LedgerEntry.user_id.in_(select(TeamMember.user_id).where(
            TeamMember.team_id == challenge.team_id)))
    scores = {user_id: int(points) for user_id, points in db.session.execute(query)}
    write_board(board, scores)



def relink_boards(organisation_id: int, user_ids: Iterable[int]) -> None:
    """Recompute, from the ledger, the organisation boards of the people these identities belong to now
    (after a link, an unlink or an erasure): the rows they held go, each person's holder gets the sum of the
    counted points of all its identities."""
    prefix = organisation_scope(organisation_id) + ":"
    everyone = sorted({u for user_id in user_ids for u in identities(user_id)} | set(user_ids))
    for user_id in everyone:
        drop_from_boards(user_id, db.session.scalars(select(BoardScore.board).where(
            BoardScore.user_id == user_id, BoardScore.board.startswith(prefix, autoescape=True))))
    tz = time_zone(organisation_id)
    original, earned_at = _ledger_with_earned_at()
    counted_courses = select(Membership.course_id).join(Course, Course.id == Membership.course_id).where(
        Membership.user_id == bindparam("user_id"), Course.organisation_id == organisation_id, eligible_clause())
    per_holder: dict[int, dict[str, int]] = defaultdict(dict)
    for user_id in everyone:
        deltas = per_holder[board_holder(user_id)]
        rows = db.session.execute(select(LedgerEntry.dimension, LedgerEntry.amount, earned_at).outerjoin(
            original, original.id == LedgerEntry.reverses_id).where(
            LedgerEntry.user_id == user_id, LedgerEntry.course_id.in_(counted_courses)), {"user_id": user_id})
        for dimension, amount, at in rows:
            for period in keys_for(at, tz):
                for dim in {dimension, TOTAL}:
                    key = board_key(organisation_scope(organisation_id), period, dim)
                    deltas[key] = deltas.get(key, 0) + amount
    for holder, deltas in sorted(per_holder.items()):
        bump_boards(holder, deltas, keep_zero=True)
