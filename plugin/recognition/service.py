"""Recognition by managers: kudos (with optional points from a monthly budget), manual badges, revocation.

Managers never give to themselves. Budgets are spent by one guarded UPDATE, so two racing kudos cannot
overspend; revocation posts reversing entries and never edits what was awarded.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import IntegrityError

from plugin.audit.service import record
from plugin.badges.models import BadgeAward, BadgeClass
from plugin.badges.service import BadgeGrant, award_badge
from plugin.catalog.service import find_active
from plugin.core.actor import Actor, Role
from plugin.core.db import insert_ignore
from plugin.errors import Conflict, Forbidden, InvalidInput, NotFound
from plugin.experiments.models import Experiment
from plugin.extensions import db
from plugin.facts.db import DbFacts
from plugin.i18n import gettext as _
from plugin.leaderboards import aggregates
from plugin.leaderboards.periods import local_day, month_key
from plugin.ledger.models import LedgerEntry
from plugin.ledger.service import Posting, post_entry, reverse_entry
from plugin.levels.models import Dimension
from plugin.onboarding.names import seeded
from plugin.outbox import grades
from plugin.recognition.models import Kudos, KudosBudget
from plugin.rules import events as E
from plugin.rules import service as rules
from plugin.settings.service import limits, time_zone
from plugin.tenancy.models import User
from plugin.tenancy.service import lock_standing, role_in, standing
from plugin.webhooks import events as webhooks
from plugin.xapi import service as xapi


@dataclass(frozen=True)
class Budget:
    month: str
    limit: int
    spent: int

    @property
    def left(self) -> int:
        return max(0, self.limit - self.spent)


def _month(organisation_id: int, moment: datetime) -> str:
    """The calendar month, in the organisation's time zone, that a moment's kudos are budgeted in."""
    return month_key(local_day(moment, time_zone(organisation_id)))


def _require_manager_for(actor: Actor, receiver_id: int) -> Role:
    if not actor.can_manage:
        raise Forbidden(_("Only managers give recognition."))
    if not receiver_id:  # nobody chosen in the list
        raise InvalidInput(_("Choose someone in this course."), errors={"receiver": [_("Choose one.")]})
    if receiver_id == actor.user_id:
        raise Forbidden(_("Recognition is for others: you cannot give it to yourself."))
    role = role_in(actor.course_id, receiver_id)
    # An erased account stays for its ids and points but names nobody: recognising it would store new text about
    # the person (and spend budget on an account nobody uses).
    if role is None or _erased(receiver_id):
        raise InvalidInput(_("Choose someone in this course."), errors={"receiver": [_("Not in this course.")]})
    return role


def _erased(user_id: int) -> bool:
    return db.session.scalar(select(User.erased_at).where(User.id == user_id)) is not None


def budget(actor: Actor, now: datetime) -> Budget:
    spent = db.session.scalar(select(KudosBudget.spent).where(
        KudosBudget.course_id == actor.course_id, KudosBudget.giver_id == actor.user_id,
        KudosBudget.month == _month(actor.organisation_id, now))) or 0
    return Budget(_month(actor.organisation_id, now), limits(actor.organisation_id).kudos_monthly_budget, spent)


def _spend(actor: Actor, points: int, month: str, now: datetime) -> None:
    key = {"course_id": actor.course_id, "giver_id": actor.user_id, "month": month}
    insert_ignore(db.session, KudosBudget.__table__, {**key, "spent": 0}, list(key), returning=False)
    cap = limits(actor.organisation_id).kudos_monthly_budget
    # cap - points is worked out here: spent + points in SQL overflows PostgreSQL's integer for points near its top.
    spent = db.session.execute(update(KudosBudget).where(
        *(getattr(KudosBudget, k) == v for k, v in key.items()), KudosBudget.spent <= cap - points)
        .values(spent=KudosBudget.spent + points))
    if spent.rowcount != 1:
        left = budget(actor, now).left
        raise Conflict(_("That is beyond your kudos budget for this month: %(left)s points left.", left=left),
                       errors={"points": [_("At most %(left)s this month.", left=left)]})


# The most one kudos may carry (the form and the JSON API refuse more, whatever the budget left).
MAX_KUDOS_POINTS = 1000


# The kudos this giver already sent in this course with this form (uq_kudos_submission): a retry gets it back.
_SENT_BEFORE = select(Kudos).where(Kudos.course_id == bindparam("course"), Kudos.giver_id == bindparam("giver"),
                                   Kudos.submission_key == bindparam("key"))


def give_kudos(actor: Actor, *, receiver_id: int, message: str, now: datetime, submission_key: str,
               points: int = 0, value_tag_id: int | None = None, dimension: str = "experimenting") -> Kudos:
    # The receiver's membership row first, as their other awards and an erasure of them take it (PostgreSQL): an
    # erasure running meanwhile finishes first and the receiver is refused as erased, or waits and erases this too;
    # kudos racing their experiments see each other's points (thresholds, caps).
    lock_standing(actor.course_id, receiver_id)
    receiver_role = _require_manager_for(actor, receiver_id)
    if not 1 <= len(submission_key or "") <= 64:  # what a kudos keeps; an empty key would match every empty one
        raise InvalidInput(_("This form had expired: send it again."))
    existing = db.session.scalar(_SENT_BEFORE, {"course": actor.course_id, "giver": actor.user_id,
                                                "key": submission_key})
    if existing is not None:
        return existing
    message = (message or "").strip()
    if not 3 <= len(message) <= 2000:
        raise InvalidInput(_("Write a short message: what did they do well?"), errors={"message": [_("%(min)s to %(max)s characters.", min=3, max=2000)]})
    if points < 0:
        raise InvalidInput(_("Points cannot be negative."), errors={"points": [_("0 or more.")]})
    if points > MAX_KUDOS_POINTS:
        raise InvalidInput(_("At most %(max)s points for one kudos.", max=MAX_KUDOS_POINTS),
                           errors={"points": [_("A whole number from {min} to {max}.").format(
                               min=0, max=MAX_KUDOS_POINTS)]})
    if value_tag_id is not None and find_active(actor.organisation_id, "values", value_tag_id) is None:
        raise InvalidInput(_("Choose one of the organisation's values."), errors={"value_tag": [_("Unknown value.")]})
    if db.session.scalar(select(Dimension.id).where(Dimension.organisation_id == actor.organisation_id,
                                                    Dimension.key == dimension)) is None:
        raise InvalidInput(_("Choose a dimension."), errors={"dimension": [_("Unknown dimension.")]})
    if points and receiver_role is not Role.LEARNER:
        raise InvalidInput(_("Points go to learners; staff can receive kudos without points."),
                           errors={"points": [_("0 for staff.")]})
    month = _month(actor.organisation_id, now) if points else None  # the budget the points come out of
    kudos = Kudos(organisation_id=actor.organisation_id, course_id=actor.course_id, giver_id=actor.user_id,
                  receiver_id=receiver_id, message=message, value_tag_id=value_tag_id, points=points,
                  budget_month=month,
                  submission_key=submission_key, created_at=now)
    try:
        # The same form sent again while the first request is still running (a retry, a double click) waits at
        # the submission key's unique index and loses there: its budget spend goes back with the savepoint, and
        # it answers with the kudos that won, as a later retry would.
        with db.session.begin_nested():
            if points:
                _spend(actor, points, month, now)
            db.session.add(kudos)
            db.session.flush()
    except IntegrityError:
        winner = db.session.scalar(_SENT_BEFORE, {"course": actor.course_id, "giver": actor.user_id,
                                                  "key": submission_key})
        if winner is None:
            raise
        return winner
    entry_id = None
    if points:
        entry_id = post_entry(Posting(organisation_id=actor.organisation_id, course_id=actor.course_id,
                                      user_id=receiver_id, amount=points, dimension=dimension, source_type="kudos",
                                      source_id=kudos.id, key=f"kudos:{kudos.id}"), now)
    if receiver_role is Role.LEARNER:
        event = E.Event(name=E.KUDOS_RECEIVED, organisation_id=actor.organisation_id, course_id=actor.course_id,
                        user_id=receiver_id, source_type="kudos", source_id=kudos.id, occurred_at=now)
        # The kudos' own points move the totals: level and points rules look at them now, as after any points.
        rules.process(event, DbFacts(actor.course_id, receiver_id), limits(actor.organisation_id), now,
                      points_moved=entry_id is not None)
    grades.points_changed(actor.course_id, receiver_id, now)
    record(actor, "kudos.given", "kudos", kudos.id, {"receiver": receiver_id, "points": points}, now)
    xapi.kudos_received(kudos, now)
    webhooks.kudos_received(kudos, now)
    return kudos


def _claim_revocation(model, row, now: datetime, reason: str) -> bool:
    """Mark `row` revoked unless it already is, in one guarded UPDATE; True when this call revoked it. Two managers
    (or one double click) revoking at once both read it unrevoked: the second UPDATE waits for the first's row lock,
    then finds it revoked and changes nothing, so what a revocation takes back is taken back once. The loser's `row`
    is reloaded with the winner's revocation."""
    claimed = db.session.execute(
        update(model).where(model.id == row.id, model.revoked_at.is_(None)).values(revoked_at=now, revoked_reason=reason)
        .execution_options(synchronize_session=False)).rowcount
    db.session.refresh(row)
    return claimed == 1


def revoke_kudos(actor: Actor, kudos_id: int, reason: str, now: datetime) -> Kudos:
    kudos = db.session.get(Kudos, kudos_id)
    if kudos is None or kudos.course_id != actor.course_id:
        raise NotFound(_("No such kudos in this course."))
    if not (actor.can_administer or (actor.can_manage and kudos.giver_id == actor.user_id)):
        raise Forbidden(_("Only the manager who gave it, or an admin, can revoke kudos."))
    reason = _reason(reason)
    # The receiver's membership row first, as their awards and a team change take it (PostgreSQL): a team change
    # meanwhile then recounts the team with the points taken back, not before (see _revoke_award).
    lock_standing(kudos.course_id, kudos.receiver_id)
    from plugin.replay.settle import person_awards, settle  # replays read kudos: imported when used

    # What the rules give the receiver with this kudos: what they give without it is compared after the revocation.
    before = person_awards(kudos.organisation_id, kudos.course_id, kudos.receiver_id)
    if not _claim_revocation(Kudos, kudos, now, reason):
        return kudos
    webhooks.kudos_revoked(kudos, now)  # before the badges it unearns (settle), as it caused them
    entry = db.session.scalar(select(LedgerEntry.id).where(LedgerEntry.idempotency_key == f"kudos:{kudos.id}"))
    if entry is not None:
        reverse_entry(entry, f"revoke:kudos:{kudos.id}", now)
        db.session.execute(update(KudosBudget).where(
            KudosBudget.course_id == kudos.course_id, KudosBudget.giver_id == kudos.giver_id,
            KudosBudget.month == (kudos.budget_month or _month(kudos.organisation_id, kudos.created_at))).values(
            spent=KudosBudget.spent - kudos.points))
    # What the rules gave the receiver because of this kudos (each kudos, kudos received, a level its points crossed,
    # a threshold it helped reach on a later kudos): settled to what they give without it, unearned rather than
    # revoked, so a once-only award is earned again when the receiver earns it without the kudos.
    for award_id in settle(kudos.organisation_id, kudos.course_id, kudos.receiver_id, before, f"kudos:{kudos.id}",
                           ("kudos", kudos.id), reason, now):
        xapi.revoked(actor, f"xapi:badge:{award_id}", now)  # the LRS must not keep it as earned either
    grades.points_changed(kudos.course_id, kudos.receiver_id, now)
    db.session.flush()
    record(actor, "kudos.revoked", "kudos", kudos.id, {"reason": reason}, now)
    xapi.revoked(actor, f"xapi:kudos:{kudos.id}", now)
    return kudos


def award_badge_manually(actor: Actor, *, receiver_id: int, badge_id: int, comment: str, now: datetime,
                         evidence_url: str | None = None) -> int:
    # The receiver's membership row first, as kudos and every award of theirs take it (PostgreSQL): a team change
    # meanwhile then counts the badge for the team, or waits for it, instead of each missing the other; an erasure
    # meanwhile finishes first and the receiver is refused as erased.
    lock_standing(actor.course_id, receiver_id)
    receiver_role = _require_manager_for(actor, receiver_id)
    if receiver_role is not Role.LEARNER:
        raise InvalidInput(_("Badges go to learners."), errors={"receiver": [_("Choose a learner.")]})
    badge = db.session.get(BadgeClass, badge_id)
    if badge is None or badge.organisation_id != actor.organisation_id or not badge.manual or not badge.active:
        raise InvalidInput(_("Choose a badge managers may award."), errors={"badge": [_("Not awardable by hand.")]})
    comment = (comment or "").strip()
    if not 3 <= len(comment) <= 2000:
        raise InvalidInput(_("Say why they earned it."), errors={"comment": [_("%(min)s to %(max)s characters.", min=3, max=2000)]})
    if evidence_url and not evidence_url.startswith(("https://", "http://")):
        raise InvalidInput(_("Evidence must be a web address."), errors={"evidence_url": [_("An http(s) URL.")]})
    if evidence_url and len(evidence_url) > 1000:  # what an award keeps
        raise InvalidInput(_("Keep the evidence link to %(max)s characters.", max=1000),
                           errors={"evidence_url": [_("At most %(a)s characters.", a=1000)]})
    # Once per person while held, however they came to hold it (a rule, a challenge, the demo's seed, a manager): the
    # receiver's row is locked above, so an award of theirs racing this one is seen or waits.
    if db.session.scalar(select(BadgeAward.id).where(
            BadgeAward.badge_id == badge.id, BadgeAward.user_id == receiver_id, BadgeAward.course_id == actor.course_id,
            BadgeAward.revoked_at.is_(None)).limit(1)) is not None:
        raise Conflict(_("They already hold %(badge)s.", badge=seeded(badge.name)))
    # After a revocation (say, by mistake) it may be awarded again, under a key naming the revoked award, so two
    # managers re-awarding at once still make one award.
    key = f"manual:badge:{badge.id}:user:{receiver_id}:course:{actor.course_id}"
    latest = db.session.execute(select(BadgeAward.id, BadgeAward.revoked_at).where(
        BadgeAward.badge_id == badge.id, BadgeAward.user_id == receiver_id, BadgeAward.course_id == actor.course_id,
        BadgeAward.source_type == "manual").order_by(BadgeAward.id.desc()).limit(1)).first()
    if latest is not None and latest.revoked_at is not None:
        key = f"{key}:after:{latest.id}"
    award_id = award_badge(BadgeGrant(badge_id=badge.id, organisation_id=actor.organisation_id,
                                      course_id=actor.course_id, user_id=receiver_id, key=key,
                                      source_type="manual", source_id=None), now)
    if award_id is None:
        raise Conflict(_("They already hold %(badge)s.", badge=seeded(badge.name)))
    award = db.session.get(BadgeAward, award_id)
    award.awarded_by_id, award.comment, award.evidence_url = actor.user_id, comment, evidence_url or None
    db.session.flush()
    record(actor, "badge.awarded", "badge_award", award_id, {"badge": badge.id, "receiver": receiver_id}, now)
    return award_id


def revoke_badge(actor: Actor, award_id: int, reason: str, now: datetime) -> BadgeAward:
    """Mark the award revoked with a reason, and reverse the points the same rule firing posted."""
    if not actor.can_manage:
        raise Forbidden(_("Only managers revoke badges."))
    award = db.session.get(BadgeAward, award_id)
    if award is None or award.course_id != actor.course_id:
        raise NotFound(_("No such badge award in this course."))
    reason = _reason(reason)
    lock_standing(award.course_id, award.user_id)  # as revoke_kudos takes the receiver's
    from plugin.replay.settle import person_awards, settle  # replays read badge awards: imported when used

    # What the rules give the person with this award's points: compared with what they give without them after the
    # revocation (a level its points crossed, a threshold they helped reach), as revoking kudos does.
    before = person_awards(award.organisation_id, award.course_id, award.user_id)
    if not _revoke_award(award, now, reason):
        return award
    webhooks.badge_revoked(award.id, award.organisation_id, now)  # before the badges it unearns, as it caused them
    for unearned in settle(award.organisation_id, award.course_id, award.user_id, before, f"badge-award:{award.id}",
                           (award.source_type, award.source_id), reason, now):
        xapi.revoked(actor, f"xapi:badge:{unearned}", now)
    grades.points_changed(award.course_id, award.user_id, now)
    db.session.flush()
    record(actor, "badge.revoked", "badge_award", award.id, {"reason": reason}, now)
    xapi.revoked(actor, f"xapi:badge:{award.id}", now)
    return award


def _revoke_award(award: BadgeAward, now: datetime, reason: str) -> bool:
    """Revoke a badge award (unless it already is: False) and reverse the points its rule firing posted, whether
    live or by a replay."""
    if not _claim_revocation(BadgeAward, award, now, reason):
        return False
    aggregates.record_activity(award.organisation_id, award.course_id, award.user_id, award.awarded_at, {"badges": -1})
    if award.rule_id is not None:
        _reverse_source(award.course_id, award.user_id, award.source_type, award.source_id, now,
                        LedgerEntry.rule_id == award.rule_id)
    return True


def _reverse_source(course_id: int, user_id: int, source_type: str, source_id: int | None, now: datetime,
                    *where) -> int:
    """Reverse the person's entries for a source (those of `where`) that are neither reversals nor reversed yet, each
    under the key revoke:<entry id> (a replay leaves what a revocation took back alone). Returns how many."""
    reversed_ids = select(LedgerEntry.reverses_id).where(LedgerEntry.reverses_id.is_not(None))
    entry_ids = db.session.scalars(select(LedgerEntry.id).where(
        LedgerEntry.course_id == course_id, LedgerEntry.user_id == user_id, LedgerEntry.source_type == source_type,
        LedgerEntry.source_id == source_id, LedgerEntry.reverses_id.is_(None), LedgerEntry.id.not_in(reversed_ids),
        *where).order_by(LedgerEntry.id)).all()
    for entry_id in entry_ids:
        reverse_entry(entry_id, f"revoke:{entry_id}", now)
    return len(entry_ids)


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not 3 <= len(reason) <= 1000:
        raise InvalidInput(_("Give a reason (it is kept in the audit log)."), errors={"reason": [_("%(min)s to %(max)s characters.", min=3, max=1000)]})
    return reason


def unrecognised(actor: Actor, now: datetime, days: int = 30) -> list[int]:
    """Equity nudge: counted learners who logged experiments in the window but got no kudos or manual badge in it."""
    if not actor.can_manage:
        raise Forbidden(_("Only managers see this."))
    since = now - timedelta(days=days)
    active = set(db.session.scalars(select(Experiment.user_id).where(
        Experiment.course_id == actor.course_id, Experiment.created_at >= since).distinct()))
    recognised = set(db.session.scalars(select(Kudos.receiver_id).where(
        Kudos.course_id == actor.course_id, Kudos.created_at >= since, Kudos.revoked_at.is_(None))))
    recognised |= set(db.session.scalars(select(BadgeAward.user_id).where(
        BadgeAward.course_id == actor.course_id, BadgeAward.awarded_by_id.is_not(None),
        BadgeAward.awarded_at >= since, BadgeAward.revoked_at.is_(None))))
    # Learners who count (active, not the LMS's test student), as everywhere else figures are shown.
    return sorted(uid for uid in active - recognised
                  if (member := standing(actor.course_id, uid)) is not None and member.counted_learner
                  and not _erased(uid))
