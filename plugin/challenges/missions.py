"""Sandbox missions: learners submit evidence; a reviewer accepts it or returns it with a comment.

There is no rejection. A returned submission stays in the history and the learner submits a new attempt.
Reviewers are the course's managers and the mission's named AI champion, never for their own evidence.
A review is one guarded UPDATE on status = submitted, so a double click or a second instance cannot review
the same submission twice.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from plugin.audit.service import record
from plugin.challenges import progress
from plugin.challenges.datasets import Dataset
from plugin.challenges.models import ACCEPTED, RETURNED, SUBMITTED, Challenge, MissionEvidence
from plugin.challenges.schemas import ACCEPT, RETURN
from plugin.challenges.service import get_challenge
from plugin.core.actor import Actor, Role
from plugin.core.db import insert_ignore
from plugin.errors import Conflict, Forbidden, InvalidInput, NotFound
from plugin.extensions import db
from plugin.i18n import gettext as _
from plugin.tenancy.models import User
from plugin.tenancy.service import lock_own_account, lock_standing


def _mission(actor: Actor, challenge_id: int) -> Challenge:
    challenge = get_challenge(actor, challenge_id)
    if not challenge.is_mission:
        raise NotFound(_("This challenge is not a sandbox mission."))
    return challenge


def history(actor: Actor, challenge_id: int, user_id: int | None = None) -> list[MissionEvidence]:
    """A learner's submissions and reviews for a mission, oldest first (the actor's own by default)."""
    challenge = _mission(actor, challenge_id)
    user_id = actor.user_id if user_id is None else user_id
    if user_id != actor.user_id and not can_review(actor, challenge):
        raise Forbidden(_("Only reviewers see other people's evidence."))
    return list(db.session.scalars(select(MissionEvidence).where(
        MissionEvidence.challenge_id == challenge.id, MissionEvidence.user_id == user_id)
        .order_by(MissionEvidence.attempt)))


def submit_evidence(actor: Actor, challenge_id: int, data: dict, now: datetime) -> MissionEvidence:
    """`data` is EvidenceIn-loaded. The first submission needs the mission open; a resubmission after a
    return is taken afterwards too, so a late review never locks anyone out."""
    challenge = _mission(actor, challenge_id)
    if actor.role is not Role.LEARNER:
        raise Forbidden(_("Evidence is submitted by learners."))
    lock_own_account(actor)
    if challenge.cancelled_at is not None:
        raise Conflict(_("This mission was cancelled."))
    if not progress.counts(challenge, actor.user_id):
        raise Forbidden(_("This mission is for another team.") if challenge.team_id else _("Your membership is inactive."))
    previous = db.session.scalar(select(MissionEvidence).where(
        MissionEvidence.challenge_id == challenge.id, MissionEvidence.user_id == actor.user_id)
        .order_by(MissionEvidence.attempt.desc()).limit(1))
    if previous is None and not challenge.starts_at <= now < challenge.ends_at:
        raise Conflict(_("This mission is not open for evidence now."))
    if previous is not None and previous.status == SUBMITTED:
        raise Conflict(_("Your evidence is waiting for review."))
    if previous is not None and previous.status == ACCEPTED:
        raise Conflict(_("Your evidence was already accepted."))
    new_id = insert_ignore(db.session, MissionEvidence.__table__, {
        "challenge_id": challenge.id, "course_id": challenge.course_id, "user_id": actor.user_id,
        "attempt": (previous.attempt + 1) if previous else 1, "text": data["text"].strip(),
        "link": data.get("link") or None, "status": SUBMITTED, "submitted_at": now,
    }, ["challenge_id", "user_id", "attempt"])
    if new_id is None:  # the same attempt racing in from a double click or another instance
        raise Conflict(_("Your evidence is waiting for review."))
    return db.session.get(MissionEvidence, new_id)


def can_review(actor: Actor, challenge: Challenge) -> bool:
    return challenge.course_id == actor.course_id and (
        actor.can_manage or (challenge.champion_id == actor.user_id and actor.role is Role.LEARNER))


def review_evidence(actor: Actor, evidence_id: int, data: dict, now: datetime) -> MissionEvidence:
    """`data` is ReviewIn-loaded: accept, or return for revision with a comment."""
    evidence = db.session.get(MissionEvidence, evidence_id)
    if evidence is None or evidence.course_id != actor.course_id:
        raise NotFound(_("No such evidence in this course."))
    challenge = db.session.get(Challenge, evidence.challenge_id)
    if not can_review(actor, challenge):
        raise Forbidden(_("Only the course's managers and this mission's AI champion review its evidence."))
    if evidence.user_id == actor.user_id:
        raise Forbidden(_("You cannot review your own evidence."))
    comment = (data.get("comment") or "").strip()
    if data["decision"] == RETURN and len(comment) < 3:
        message = _("Say what to revise: a returned submission needs a comment (at least a few words).")
        raise InvalidInput(message, errors={"comment": [message]})
    if challenge.cancelled_at is not None:
        raise Conflict(_("This mission was cancelled."))
    status = ACCEPTED if data["decision"] == ACCEPT else RETURNED
    # The learner's membership row, as their awards take it (tenancy.standing_of_locked): two of their missions
    # accepted at once take turns, so the later one's rules count the other completion (SQLite serialises writers).
    lock_standing(evidence.course_id, evidence.user_id)
    if db.session.scalar(select(User.erased_at).where(User.id == evidence.user_id)) is not None:
        # erased while it waited (the erasure withdraws what waits, but a review may have been on its way): nothing
        # more is saved for the account, a comment on it included
        raise Conflict(_("This person's account was erased: their evidence is no longer reviewed."))
    moved = db.session.execute(update(MissionEvidence).where(
        MissionEvidence.id == evidence.id, MissionEvidence.status == SUBMITTED).values(
        status=status, reviewer_id=actor.user_id, reviewed_at=now, review_comment=comment or None)
        .execution_options(synchronize_session=False))
    if moved.rowcount != 1:
        raise Conflict(_("This evidence was already reviewed."))
    db.session.refresh(evidence)
    record(actor, "evidence.reviewed", "mission_evidence", evidence.id, {"status": status}, now)
    if status == ACCEPTED and progress.counts(challenge, evidence.user_id):
        progress.contribute(challenge, evidence.user_id, now, now)
    return evidence


def review_queue(actor: Actor) -> list[tuple[MissionEvidence, Challenge]]:
    """Evidence waiting for this reviewer: the whole course for managers, their missions for champions."""
    query = select(MissionEvidence, Challenge).join(Challenge, Challenge.id == MissionEvidence.challenge_id).join(
        User, User.id == MissionEvidence.user_id).where(
        MissionEvidence.course_id == actor.course_id, MissionEvidence.status == SUBMITTED, User.erased_at.is_(None),
        Challenge.cancelled_at.is_(None), MissionEvidence.user_id != actor.user_id)
    if not actor.can_manage:
        if actor.role is not Role.LEARNER:
            return []
        query = query.where(Challenge.champion_id == actor.user_id)
    return [(e, c) for e, c in db.session.execute(query.order_by(MissionEvidence.submitted_at, MissionEvidence.id))]


def champions_missions(actor: Actor) -> bool:
    """Whether the actor is the AI champion of any mission of the course (to show them the review queue)."""
    return actor.role is Role.LEARNER and db.session.scalar(select(Challenge.id).where(
        Challenge.course_id == actor.course_id, Challenge.champion_id == actor.user_id).limit(1)) is not None


def dataset_for(actor: Actor, challenge_id: int) -> Dataset:
    challenge = _mission(actor, challenge_id)
    if not challenge.dataset_name:
        raise NotFound(_("This mission has no data set."))
    return Dataset(challenge.dataset_name, challenge.dataset_type or "text/plain", challenge.dataset or b"")
