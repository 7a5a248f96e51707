"""Peer help: recorded by either person, worth points only once the helped person confirms (or initiates).

No self-help; per-pair caps per period (over the cap: confirmed and visible, but no points); back-and-forth
loops between the same two people are flagged for a manager, never silently dropped.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from plugin.core.actor import Actor, Role
from plugin.errors import Conflict, Forbidden, InvalidInput, NotFound
from plugin.experiments.queries import get_visible
from plugin.extensions import db
from plugin.facts.db import DbFacts
from plugin.i18n import gettext as _
from plugin.leaderboards import aggregates
from plugin.outbox import grades
from plugin.peer_help.models import CONFIRMED, DECLINED, PENDING, PeerHelp
from plugin.rules import events as E
from plugin.rules import service as rules
from plugin.settings.service import limits
from plugin.teams.service import teams_of
from plugin.tenancy.models import User
from plugin.tenancy.service import account_erased, lock_standing, role_in
from plugin.xapi import service as xapi

HELPED_ME, I_HELPED = "helped_me", "i_helped"
LOOP_THRESHOLD = 2  # confirmed helps each way within the window


@dataclass(frozen=True)
class HelpResult:
    help: PeerHelp
    recognitions: list
    created: bool = True


def _by_key(actor: Actor, submission_key: str) -> PeerHelp | None:
    return db.session.scalar(select(PeerHelp).where(PeerHelp.course_id == actor.course_id,
                                                    PeerHelp.recorded_by_id == actor.user_id,
                                                    PeerHelp.submission_key == submission_key))


def record_help(actor: Actor, *, other_user_id: int, direction: str, description: str, now: datetime,
                experiment_id: int | None = None, submission_key: str | None = None) -> HelpResult:
    """Record help given or received. A repeated `submission_key` (a double click, a retried request, one sent
    while the first is still running) returns the help first recorded with it, unchanged, and awards nothing."""
    if not actor.can_contribute:
        raise Forbidden(_("Observers cannot record peer help."))
    if submission_key is not None:
        first = _by_key(actor, submission_key)
        if first is not None:
            return HelpResult(first, [], created=False)
    # What the form alone tells, every field at once (a person fixes them in one go, not one per try).
    problems: list[tuple[str, str, str]] = []  # (field, summary, field message)
    if not other_user_id:  # nobody chosen in the list
        problems.append(("other", _("Choose someone in this course."), _("Choose one.")))
    elif other_user_id == actor.user_id:
        problems.append(("other", _("Helping yourself does not count: choose a colleague."), _("Not yourself.")))
    if direction not in (HELPED_ME, I_HELPED):
        problems.append(("direction", _("Say who helped whom."), _("Choose one.")))
    description = (description or "").strip()
    if not 3 <= len(description) <= 2000:
        problems.append(("description", _("Say in a few words what the help was."), _("3 to 2000 characters.")))
    if problems:
        raise InvalidInput(problems[0][1] if len(problems) == 1 else _("Some fields need attention."),
                           errors={name: [message] for name, _summary, message in problems})
    # Both people's membership rows before anything is read or written (see _confirm): an erasure of either running
    # meanwhile finishes first, and the check below then finds them erased.
    lock_standing(actor.course_id, actor.user_id, other_user_id)
    erased = set(db.session.scalars(select(User.id).where(User.id.in_((actor.user_id, other_user_id)),
                                                          User.erased_at.is_not(None))))
    if actor.user_id in erased:
        raise account_erased()
    if role_in(actor.course_id, other_user_id) in (None, Role.OBSERVER) or other_user_id in erased:
        raise InvalidInput(_("Choose someone in this course."), errors={"other": [_("Not in this course.")]})
    if experiment_id is not None:
        get_visible(actor, experiment_id)  # must be an experiment this person can see, in this course
    helper, helped = (other_user_id, actor.user_id) if direction == HELPED_ME else (actor.user_id, other_user_id)
    record = PeerHelp(organisation_id=actor.organisation_id, course_id=actor.course_id, helper_id=helper,
                      helped_id=helped, recorded_by_id=actor.user_id, description=description,
                      experiment_id=experiment_id, status=PENDING, created_at=now, submission_key=submission_key)
    try:
        with db.session.begin_nested():  # a racing copy of the form waits at the key's unique index, and loses
            db.session.add(record)
            db.session.flush()
    except IntegrityError:
        first = _by_key(actor, submission_key) if submission_key is not None else None
        if first is None:
            raise
        return HelpResult(first, [], created=False)
    if direction == HELPED_ME:  # the helped person says so: that is the confirmation
        return HelpResult(record, _confirm(record, now))
    return HelpResult(record, [])


def confirm_help(actor: Actor, help_id: int, now: datetime) -> HelpResult:
    record = _pending_for(actor, help_id)
    # Both people's rows before the help's (see _confirm): an erasure takes them in that order too.
    lock_standing(record.course_id, record.helper_id, record.helped_id)
    # Guarded transition: two clicks or two instances cannot both confirm.
    moved = db.session.execute(update(PeerHelp).where(PeerHelp.id == record.id, PeerHelp.status == PENDING)
                               .values(status=CONFIRMED, resolved_at=now))
    if moved.rowcount != 1:
        raise Conflict(_("This help was already answered."))
    db.session.refresh(record)
    return HelpResult(record, _confirm(record, now, already_moved=True))


def decline_help(actor: Actor, help_id: int, now: datetime) -> PeerHelp:
    record = _pending_for(actor, help_id)
    # Guarded as confirm_help is: a "no" racing a "yes" must not turn a paid help into a declined one.
    moved = db.session.execute(update(PeerHelp).where(PeerHelp.id == record.id, PeerHelp.status == PENDING)
                               .values(status=DECLINED, resolved_at=now))
    if moved.rowcount != 1:
        raise Conflict(_("This help was already answered."))
    db.session.refresh(record)
    return record


def _pending_for(actor: Actor, help_id: int) -> PeerHelp:
    if not actor.can_contribute:  # an answer pays the helper: observers read, as for recording
        raise Forbidden(_("Observers cannot answer peer help."))
    record = db.session.get(PeerHelp, help_id)
    if record is None or record.course_id != actor.course_id or record.helped_id != actor.user_id:
        raise NotFound(_("No such help awaiting your answer."))
    if record.status != PENDING:
        raise Conflict(_("This help was already answered."))
    return record


def _pair_count(course_id: int, helper: int, helped: int, since: datetime) -> int:
    return db.session.scalar(select(func.count()).select_from(PeerHelp).where(
        PeerHelp.course_id == course_id, PeerHelp.helper_id == helper, PeerHelp.helped_id == helped,
        PeerHelp.status == CONFIRMED, PeerHelp.resolved_at >= since)) or 0


def _confirm(record: PeerHelp, now: datetime, already_moved: bool = False) -> list:
    org_limits = limits(record.organisation_id)
    since = now - timedelta(days=org_limits.help_pair_window_days)
    if not already_moved:
        record.status, record.resolved_at = CONFIRMED, now
        db.session.flush()
    # The pair's confirmed helps are counted (the cap, loops) and the helper's past awards read after both people's
    # membership rows were locked (record_help and confirm_help take them first, before the help's own row, the order
    # an erasure takes them in): helps between them recorded or confirmed at once take turns, each counting the others.
    helper_teams = {t.id for t in teams_of(record.course_id, record.helper_id)}
    helped_teams = {t.id for t in teams_of(record.course_id, record.helped_id)}
    record.across_teams = bool(helper_teams and helped_teams and not helper_teams & helped_teams)
    this_way = _pair_count(record.course_id, record.helper_id, record.helped_id, since)
    record.over_pair_cap = this_way > org_limits.help_pair_cap
    other_way = _pair_count(record.course_id, record.helped_id, record.helper_id, since)
    record.loop_flagged = this_way >= LOOP_THRESHOLD and other_way >= LOOP_THRESHOLD
    db.session.flush()
    aggregates.record_activity(record.organisation_id, record.course_id, record.helper_id, now, {"helps": 1})
    xapi.help_confirmed(record, now)
    if role_in(record.course_id, record.helper_id) is not Role.LEARNER:
        return []
    event = E.Event(name=E.HELP_CONFIRMED, organisation_id=record.organisation_id, course_id=record.course_id,
                    user_id=record.helper_id, source_type="peer_help", source_id=record.id, occurred_at=now,
                    attrs={"across_teams": record.across_teams, "over_pair_cap": record.over_pair_cap})
    grades.points_changed(record.course_id, record.helper_id, now)
    return rules.process(event, DbFacts(record.course_id, record.helper_id), org_limits, now)


def awaiting_me(actor: Actor) -> list[PeerHelp]:
    return list(db.session.scalars(select(PeerHelp).where(
        PeerHelp.course_id == actor.course_id, PeerHelp.helped_id == actor.user_id, PeerHelp.status == PENDING)
        .order_by(PeerHelp.id)))


def mine(actor: Actor, limit: int = 50) -> list[PeerHelp]:
    return list(db.session.scalars(select(PeerHelp).where(
        PeerHelp.course_id == actor.course_id,
        (PeerHelp.helper_id == actor.user_id) | (PeerHelp.helped_id == actor.user_id))
        .order_by(PeerHelp.id.desc()).limit(limit)))


def flagged_loops(actor: Actor) -> list[PeerHelp]:
    if not actor.can_manage:
        raise Forbidden(_("Only managers review flagged help."))
    return list(db.session.scalars(select(PeerHelp).where(
        PeerHelp.course_id == actor.course_id, PeerHelp.loop_flagged.is_(True)).order_by(PeerHelp.id.desc())))
