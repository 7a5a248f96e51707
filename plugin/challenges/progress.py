"""Challenge progress, kept at write time.

An experiment logged (or mission evidence accepted) bumps one contribution row per challenge and learner and
the challenge's counters with conflict-safe upserts; completion is detected once, by a guarded UPDATE of
`completed_at`. Then every contributor gets the challenge's badge (once, by key) and a CHALLENGE_COMPLETED
event for the rules. A learner who contributes to a challenge that is already complete (or whose mission
evidence is accepted) completes it on the spot.
"""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import delete, func, select, update

from plugin.badges.service import BadgeGrant, award_badge
from plugin.challenges.models import COUNT, Challenge, ChallengeContribution
from plugin.core.actor import Role
from plugin.core.db import insert_ignore, writing
from plugin.experiments.models import Experiment
from plugin.extensions import db
from plugin.facts.db import DbFacts
from plugin.leaderboards.aggregates import open_challenges
from plugin.outbox import grades
from plugin.outbox import service as outbox
from plugin.outbox.registry import handler
from plugin.rules import events as E
from plugin.rules import service as rules
from plugin.settings.service import limits
from plugin.teams.models import TeamMember
from plugin.tenancy.models import Membership, User, counted_membership
from plugin.tenancy.service import lock_standing, standing
from plugin.webhooks import events as webhooks

_NO_SYNC = {"synchronize_session": False}
_MEMBERSHIP = Membership.__table__
RECOGNISE = "challenge.completed"  # outbox kind: a completion's badge and rule for a contributor who was busy


# --- who counts ---------------------------------------------------------------------------------------
def _learners(course_id: int, team_id: int | None):
    """Active, non-test learners of the course (of the team, for a team challenge): a select of user ids."""
    query = select(Membership.user_id).where(Membership.course_id == course_id,
                                             Membership.role == Role.LEARNER.value, counted_membership())
    if team_id is not None:
        query = query.where(Membership.user_id.in_(select(TeamMember.user_id).where(TeamMember.team_id == team_id)))
    return query


def counts(challenge: Challenge, user_id: int) -> bool:
    """Whether this person's activity counts for the challenge."""
    return db.session.execute(_learners(challenge.course_id, challenge.team_id)
                              .where(Membership.user_id == user_id)).first() is not None


def learner_count(course_id: int, team_id: int | None) -> int:
    """The participation denominator: active learners of the course or team, now."""
    return db.session.scalar(select(func.count()).select_from(_learners(course_id, team_id).subquery())) or 0


def reached(challenge: Challenge, progress: int, contributors: int, learners: int | None = None) -> bool:
    if challenge.goal_kind == COUNT:
        return progress >= challenge.goal_value
    learners = learner_count(challenge.course_id, challenge.team_id) if learners is None else learners
    return learners > 0 and contributors * 100 >= challenge.goal_value * learners


# --- writers --------------------------------------------------------------------------------------------
def on_experiment_logged(experiment: Experiment, now: datetime) -> None:
    """Count a just-logged experiment toward every open challenge of its course it matches."""
    if experiment.duplicate_of_id is not None:
        return
    member = standing(experiment.course_id, experiment.user_id)
    if member is None or not member.counted_learner:
        return
    # The award's postings just read the open challenges at this moment (apply_points): filter them here.
    matching = [c.id for c in open_challenges(experiment.course_id, experiment.user_id, experiment.created_at)
                if not c.is_mission and c.task_category_id in (None, experiment.task_category_id)
                and c.ai_tool_id in (None, experiment.ai_tool_id)]
    for challenge_id in matching:
        contribute(db.session.get(Challenge, challenge_id), experiment.user_id, experiment.created_at, now,
                   experiments=1)


def contribute(challenge: Challenge, user_id: int, at: datetime, now: datetime, experiments: int = 0) -> None:
    """Add a learner's share: `experiments` matching experiments, or (a mission) their accepted evidence."""
    mission = challenge.is_mission
    new_id = insert_ignore(db.session, ChallengeContribution.__table__, {
        "challenge_id": challenge.id, "course_id": challenge.course_id, "user_id": user_id,
        "experiments": experiments, "first_at": at, "completed_at": now if mission else None,
    }, ["challenge_id", "user_id"])
    if new_id is None and (mission or not experiments):
        return  # already credited: a mission counts each learner once
    step = (1 if new_id else 0) if mission else experiments
    # The challenge's row before the person's existing contribution row: a completion holding the challenge's row
    # marks every contribution complete, so updating one's own contribution first and then waiting for the challenge's
    # row is a deadlock with it.
    progress, contributors, completed_at = db.session.execute(
        update(Challenge).where(Challenge.id == challenge.id)
        .values(progress_count=Challenge.progress_count + step,
                contributor_count=Challenge.contributor_count + (1 if new_id else 0))
        .returning(Challenge.progress_count, Challenge.contributor_count, Challenge.completed_at)
        .execution_options(**_NO_SYNC)).one()
    if new_id is None:
        db.session.execute(update(ChallengeContribution).where(
            ChallengeContribution.challenge_id == challenge.id, ChallengeContribution.user_id == user_id)
            .values(experiments=ChallengeContribution.experiments + experiments).execution_options(**_NO_SYNC))
    db.session.refresh(challenge, ["progress_count", "contributor_count", "completed_at"])
    newcomers: list[tuple[int, int]] = [(new_id, user_id)] if (new_id and mission) else []
    if completed_at is None:
        if reached(challenge, progress, contributors):
            complete(challenge, now, newcomers)
        elif newcomers:
            _recognise(challenge, newcomers, now, badge=False)
    elif new_id:
        if not mission:
            newcomers = _mark_completed(challenge, now, only_user=user_id)
        _recognise(challenge, newcomers, now, badge=True)


def complete(challenge: Challenge, now: datetime, newcomers: list[tuple[int, int]] | None = None) -> bool:
    """Mark the challenge complete (once, whoever calls it and however often); badge every contributor and
    tell the rules about everyone who completes it now. False when it was already complete or cancelled."""
    moved = db.session.execute(update(Challenge).where(
        Challenge.id == challenge.id, Challenge.completed_at.is_(None), Challenge.cancelled_at.is_(None))
        .values(completed_at=now).execution_options(**_NO_SYNC))
    db.session.refresh(challenge, ["completed_at"])
    if moved.rowcount != 1:
        return False
    # An erased contributor's entries still count towards the goal, but nothing more is saved for their account:
    # no badge, no points, no name in the webhook (as _recognise_now, for those paid later, checks too).
    completing = list(newcomers or []) + _mark_completed(challenge, now)
    contributors = db.session.scalars(select(ChallengeContribution.user_id).join(
        User, User.id == ChallengeContribution.user_id).where(
        ChallengeContribution.challenge_id == challenge.id, User.erased_at.is_(None))
        .order_by(ChallengeContribution.user_id)).all()
    kept = set(contributors)
    completing = [(c, u) for c, u in completing if u in kept]
    busy = _busy(challenge.course_id, contributors)
    _award(challenge, [u for u in contributors if u not in busy], now)
    _recognise(challenge, [(c, u) for c, u in completing if u not in busy], now, badge=False)
    _recognise_later(challenge, busy, dict((u, c) for c, u in completing), now)
    webhooks.challenge_completed(challenge, list(contributors), now)
    return True


def _busy(course_id: int, user_ids) -> set[int]:
    """Take the contributors' membership rows, as awards to them take them (PostgreSQL; SQLite serialises writers
    already), so what is paid to them counts for their teams as they now are and their own awards wait for it. Those
    whose row another transaction holds are returned instead of waited for: that may be their own award, waiting for
    this challenge's row this transaction holds (a deadlock). They are paid after this commits (_recognise_later)."""
    if not user_ids or db.session.get_bind().dialect.name != "postgresql":
        return set()
    rows = select(_MEMBERSHIP.c.id, _MEMBERSHIP.c.user_id).where(_MEMBERSHIP.c.course_id == course_id,
                                                                  _MEMBERSHIP.c.user_id.in_(list(user_ids)))
    taken = db.session.execute(rows.order_by(_MEMBERSHIP.c.id).with_for_update(key_share=True, skip_locked=True)).all()
    if taken:  # rewritten as they are: an award of theirs that waited for it reads again (standing_of_locked)
        db.session.execute(update(_MEMBERSHIP).where(_MEMBERSHIP.c.id.in_([r.id for r in taken]))
                           .values(status=_MEMBERSHIP.c.status))
    return set(db.session.scalars(select(rows.subquery().c.user_id))) - {r.user_id for r in taken}


def _recognise_later(challenge: Challenge, user_ids: set[int], contribution_of: dict[int, int], now: datetime) -> None:
    """The badge and CHALLENGE_COMPLETED of contributors who were busy at the completion, from the outbox once it
    commits (RECOGNISE), as of the completion's moment; both are idempotent by key, so a retry pays nothing twice."""
    for user_id in sorted(user_ids):
        outbox.enqueue(RECOGNISE, f"challenge:{challenge.id}:completed:user:{user_id}", {
            "challenge_id": challenge.id, "user_id": user_id, "contribution_id": contribution_of.get(user_id),
            "at": now.isoformat()}, now, course_id=challenge.course_id)


@handler(RECOGNISE)
def _recognise_now(payload: dict, _now: datetime) -> None:
    db.session.commit()
    with writing():
        challenge = db.session.get(Challenge, payload["challenge_id"])
        if challenge is not None:
            user_id, at = payload["user_id"], datetime.fromisoformat(payload["at"])
            lock_standing(challenge.course_id, user_id)
            if db.session.scalar(select(User.erased_at).where(User.id == user_id)) is not None:
                db.session.commit()
                return  # erased meanwhile: nothing more is saved for the account
            _award(challenge, [user_id], at)
            if payload["contribution_id"] is not None:
                _recognise(challenge, [(payload["contribution_id"], user_id)], at, badge=False)
        db.session.commit()


def _mark_completed(challenge: Challenge, now: datetime, only_user: int | None = None) -> list[tuple[int, int]]:
    """Set completed_at on contributions that lack it; returns (contribution id, user id) of those moved."""
    query = update(ChallengeContribution).where(ChallengeContribution.challenge_id == challenge.id,
                                                ChallengeContribution.completed_at.is_(None))
    if only_user is not None:
        query = query.where(ChallengeContribution.user_id == only_user)
    rows = db.session.execute(query.values(completed_at=now).returning(
        ChallengeContribution.id, ChallengeContribution.user_id).execution_options(**_NO_SYNC)).all()
    return sorted((row[0], row[1]) for row in rows)


def _award(challenge: Challenge, user_ids, now: datetime) -> None:
    if challenge.badge_id is None:
        return
    for user_id in user_ids:
        award_badge(BadgeGrant(badge_id=challenge.badge_id, organisation_id=challenge.organisation_id,
                               course_id=challenge.course_id, user_id=user_id,
                               key=f"challenge:{challenge.id}:user:{user_id}", source_type="challenge",
                               source_id=challenge.id), now)


def _recognise(challenge: Challenge, completing: list[tuple[int, int]], now: datetime, badge: bool) -> None:
    """The badge (when asked) and the rules' CHALLENGE_COMPLETED event for each person completing it now."""
    if badge:
        _award(challenge, [user_id for _, user_id in completing], now)
    org_limits = limits(challenge.organisation_id) if completing else None
    for contribution_id, user_id in completing:
        event = E.Event(name=E.CHALLENGE_COMPLETED, organisation_id=challenge.organisation_id,
                        course_id=challenge.course_id, user_id=user_id, source_type="challenge_contribution",
                        source_id=contribution_id, occurred_at=now,
                        attrs={"challenge_id": challenge.id, "mission": challenge.is_mission})
        rules.process(event, DbFacts(challenge.course_id, user_id), org_limits, now)
        grades.points_changed(challenge.course_id, user_id, now)


# --- after an edit ----------------------------------------------------------------------------------------
def recount(challenge: Challenge, now: datetime) -> None:
    """Bring the counters in line after the window, team, filters or goal changed (not yet complete).

    Experiments are counted afresh from the table (one grouped query); a mission's accepted learners stand.
    The challenge's row is taken first (PostgreSQL), as contribute() and complete() take it, before any contribution
    row: one order everywhere, and its state as it is now (completed or cancelled by a transaction that committed
    while this one waited), not as this session last read it.
    """
    db.session.refresh(challenge, ["completed_at", "cancelled_at", "progress_count", "contributor_count"],
                       with_for_update=True)
    if challenge.completed_at is not None or challenge.cancelled_at is not None:
        return
    if not challenge.is_mission:
        query = select(Experiment.user_id, func.count(), func.min(Experiment.created_at)).where(
            Experiment.course_id == challenge.course_id, Experiment.duplicate_of_id.is_(None),
            Experiment.created_at >= challenge.starts_at, Experiment.created_at < challenge.ends_at,
            Experiment.user_id.in_(_learners(challenge.course_id, challenge.team_id))).group_by(Experiment.user_id)
        if challenge.task_category_id is not None:
            query = query.where(Experiment.task_category_id == challenge.task_category_id)
        if challenge.ai_tool_id is not None:
            query = query.where(Experiment.ai_tool_id == challenge.ai_tool_id)
        wanted = {user_id: (n, _aware(first)) for user_id, n, first in db.session.execute(query)}
        db.session.execute(delete(ChallengeContribution).where(
            ChallengeContribution.challenge_id == challenge.id,
            ChallengeContribution.user_id.not_in(list(wanted) or [0])).execution_options(**_NO_SYNC))
        for user_id, (n, first) in sorted(wanted.items()):
            if insert_ignore(db.session, ChallengeContribution.__table__, {
                    "challenge_id": challenge.id, "course_id": challenge.course_id, "user_id": user_id,
                    "experiments": n, "first_at": first}, ["challenge_id", "user_id"]) is None:
                db.session.execute(update(ChallengeContribution).where(
                    ChallengeContribution.challenge_id == challenge.id, ChallengeContribution.user_id == user_id)
                    .values(experiments=n, first_at=first).execution_options(**_NO_SYNC))
        challenge.progress_count = sum(n for n, _ in wanted.values())
        challenge.contributor_count = len(wanted)
        db.session.flush()
    if reached(challenge, challenge.progress_count, challenge.contributor_count):
        complete(challenge, now)


def recount_open(course_id: int, now: datetime) -> None:
    """After who counts in the course changed (a roster sync): recount its open challenges, as their boards are
    rebuilt (an ended challenge's result stands)."""
    for challenge in db.session.scalars(select(Challenge).where(
            Challenge.course_id == course_id, Challenge.cancelled_at.is_(None), Challenge.completed_at.is_(None),
            Challenge.ends_at > now).order_by(Challenge.id)).all():
        recount(challenge, now)


# --- for replays ------------------------------------------------------------------------------------------
def completion_events(organisation_id: int, person: tuple[int, int] | None = None) -> list[tuple[E.Event, dict]]:
    """Every challenge completion of the organisation (`person`, (course, user): theirs) as the rules saw it live
    (the same event, and the row MemoryFacts.challenge_rows holds), for plugin/replay/simulate.py to replay alongside
    other facts."""
    mine = () if person is None else (ChallengeContribution.course_id == person[0],
                                      ChallengeContribution.user_id == person[1])
    rows = db.session.execute(select(ChallengeContribution, Challenge.is_mission).join(
        Challenge, Challenge.id == ChallengeContribution.challenge_id).where(
        Challenge.organisation_id == organisation_id, ChallengeContribution.completed_at.is_not(None), *mine))
    return [(E.Event(E.CHALLENGE_COMPLETED, organisation_id, row.course_id, row.user_id, "challenge_contribution",
                     row.id, row.completed_at, {"challenge_id": row.challenge_id, "mission": mission}),
             {"kind": "challenge", "at": row.completed_at}) for row, mission in rows]


def _aware(value) -> datetime:
    if isinstance(value, str):  # SQLite hands aggregates back untyped
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value
