"""The community library: react to and reuse what colleagues shared (crediting the author), report posts,
and let managers hide them (kept, with the reason, in the audit log)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update

from plugin.audit.service import record
from plugin.community.models import REACTIONS, Reaction, Report, Reuse
from plugin.core.actor import Actor, Role
from plugin.core.db import insert_ignore
from plugin.errors import Conflict, Forbidden, InvalidInput, NotFound
from plugin.experiments.models import Experiment
from plugin.experiments.queries import get_visible, visible_clause
from plugin.extensions import db
from plugin.facts.db import DbFacts
from plugin.i18n import gettext as _
from plugin.outbox import grades
from plugin.rules import events as E
from plugin.rules import service as rules
from plugin.settings.service import limits
from plugin.tenancy.models import User
from plugin.tenancy.service import lock_own_account, lock_standing, role_in


def _others_experiment(actor: Actor, experiment_id: int) -> Experiment:
    if not actor.can_contribute:
        raise Forbidden(_("Observers read the library but do not react."))
    experiment = get_visible(actor, experiment_id)["experiment"]
    if experiment.user_id == actor.user_id:
        raise InvalidInput(_("That one is yours: reactions and reuses are for colleagues' experiments."))
    if experiment.hidden_at is not None:
        raise NotFound(_("That experiment was hidden by a manager."))
    # The author's membership row, as their awards take it (tenancy.standing_of_locked), before the reaction or reuse
    # row: colleagues' reactions at once, or one while the author logs, take turns, so each counts what the
    # others added ("3 reactions received") instead of all counting too few (SQLite serialises writers already).
    lock_standing(experiment.course_id, experiment.user_id)
    return experiment


def _credit_author(experiment: Experiment, name: str, source_type: str, source_id: int, now: datetime) -> list:
    if role_in(experiment.course_id, experiment.user_id) is not Role.LEARNER:
        return []
    event = E.Event(name=name, organisation_id=experiment.organisation_id, course_id=experiment.course_id,
                    user_id=experiment.user_id, source_type=source_type, source_id=source_id, occurred_at=now)
    grades.points_changed(experiment.course_id, experiment.user_id, now)
    return rules.process(event, DbFacts(experiment.course_id, experiment.user_id), limits(experiment.organisation_id),
                         now)


def _reaction_kind(kind: str) -> str:
    if kind not in REACTIONS:
        raise InvalidInput(_("Unknown reaction."), errors={"kind": [_("Choose a reaction.")]})
    return kind


def _mine(actor: Actor, experiment: Experiment, kind: str):
    return (Reaction.experiment_id == experiment.id, Reaction.user_id == actor.user_id, Reaction.kind == kind)


def react(actor: Actor, experiment_id: int, kind: str, now: datetime) -> bool:
    """Add a reaction once; returns False when it was already there. One taken back and given again is the same
    reaction (its row, its time) standing again. The rules on reactions count those standing and pay once (or once
    per window), so taking a reaction back and forth pays its author nothing more."""
    kind = _reaction_kind(kind)
    experiment = _others_experiment(actor, experiment_id)
    reaction_id = insert_ignore(db.session, Reaction.__table__, {
        "experiment_id": experiment.id, "user_id": actor.user_id, "kind": kind, "created_at": now},
        ["experiment_id", "user_id", "kind"])
    if reaction_id is None:
        reaction_id = db.session.scalar(update(Reaction).where(*_mine(actor, experiment, kind),
                                                               Reaction.withdrawn_at.is_not(None))
                                        .values(withdrawn_at=None).returning(Reaction.id))
        if reaction_id is None:
            return False
    _credit_author(experiment, E.REACTION_RECEIVED, "reaction", reaction_id, now)
    return True


def withdraw_reaction(actor: Actor, experiment_id: int, kind: str, now: datetime) -> bool:
    """Take one's reaction back (a slip of the finger, a change of mind); returns False when there was none to take.
    The row stays, marked, and counts leave it out. What its author earned for it stays theirs, as with every
    correction (a recalculation of the rules, which counts only the reactions standing, settles it)."""
    kind = _reaction_kind(kind)
    experiment = _others_experiment(actor, experiment_id)
    return bool(db.session.execute(update(Reaction).where(*_mine(actor, experiment, kind),
                                                          Reaction.withdrawn_at.is_(None))
                                   .values(withdrawn_at=now)).rowcount)


def mark_reused(actor: Actor, experiment_id: int, now: datetime) -> bool:
    """"I reused this": credits the author in the Sharing dimension (via the rules), once per colleague."""
    experiment = _others_experiment(actor, experiment_id)
    reuse_id = insert_ignore(db.session, Reuse.__table__, {
        "experiment_id": experiment.id, "user_id": actor.user_id, "created_at": now}, ["experiment_id", "user_id"])
    if reuse_id is None:
        return False
    _credit_author(experiment, E.REUSE_RECEIVED, "reuse", reuse_id, now)
    return True


def report(actor: Actor, experiment_id: int, reason: str, now: datetime) -> None:
    experiment = get_visible(actor, experiment_id)["experiment"]
    reason = (reason or "").strip()
    if not 3 <= len(reason) <= 1000:
        raise InvalidInput(_("Say briefly what is wrong."), errors={"reason": [_("3 to 1000 characters.")]})
    lock_own_account(actor)
    # One report per colleague and post: a resolved one (the post was hidden, then restored) opens again with
    # the new reason; an open one stays as first written (a double click).
    reopened = db.session.execute(update(Report).where(
        Report.experiment_id == experiment.id, Report.reporter_id == actor.user_id, Report.resolved_at.is_not(None))
        .values(reason=reason, created_at=now, resolved_at=None)).rowcount
    if not reopened:
        insert_ignore(db.session, Report.__table__, {"experiment_id": experiment.id, "reporter_id": actor.user_id,
                                                     "reason": reason, "created_at": now},
                      ["experiment_id", "reporter_id"])


def hide(actor: Actor, experiment_id: int, reason: str, now: datetime) -> Experiment:
    if not actor.can_manage:
        raise Forbidden(_("Only managers hide posts."))
    experiment = get_visible(actor, experiment_id)["experiment"]
    reason = (reason or "").strip()
    if not 3 <= len(reason) <= 1000:
        raise InvalidInput(_("Give a reason (kept in the audit log)."), errors={"reason": [_("3 to 1000 characters.")]})
    experiment.hidden_at, experiment.hidden_reason = now, reason
    for open_report in db.session.scalars(select(Report).where(Report.experiment_id == experiment.id,
                                                               Report.resolved_at.is_(None))):
        open_report.resolved_at = now
    db.session.flush()
    record(actor, "experiment.hidden", "experiment", experiment.id, {"reason": reason}, now)
    return experiment


def restorable(experiment: Experiment) -> bool:
    """Whether a manager may put a hidden post back in the library: not when its author was erased (erasure took
    their posts out for good)."""
    return experiment.hidden_at is not None and db.session.get(User, experiment.user_id).erased_at is None


def unhide(actor: Actor, experiment_id: int, now: datetime) -> Experiment:
    if not actor.can_manage:
        raise Forbidden(_("Only managers restore posts."))
    experiment = get_visible(actor, experiment_id)["experiment"]
    if experiment.hidden_at is not None and not restorable(experiment):
        raise Conflict(_("Its author was erased: this post stays out of the library."))
    experiment.hidden_at, experiment.hidden_reason = None, None
    db.session.flush()
    record(actor, "experiment.restored", "experiment", experiment.id, {}, now)
    return experiment


def reactions_summary(experiment_id: int) -> dict[str, int]:
    rows = db.session.execute(select(Reaction.kind, func.count()).where(Reaction.experiment_id == experiment_id,
                                                                        Reaction.withdrawn_at.is_(None))
                              .group_by(Reaction.kind))
    counts = {kind: n for kind, n in rows}
    counts["reused"] = db.session.scalar(select(func.count()).select_from(Reuse).where(
        Reuse.experiment_id == experiment_id)) or 0
    return counts


def my_reactions(actor: Actor, experiment_id: int) -> set[str]:
    kinds = set(db.session.scalars(select(Reaction.kind).where(Reaction.experiment_id == experiment_id,
                                                                Reaction.user_id == actor.user_id,
                                                                Reaction.withdrawn_at.is_(None))))
    if db.session.scalar(select(Reuse.id).where(Reuse.experiment_id == experiment_id, Reuse.user_id == actor.user_id)):
        kinds.add("reused")
    return kinds


def open_reports(actor: Actor) -> list[tuple[Report, Experiment]]:
    """Unresolved reports of entries the manager can see: an entry its author made private after it was reported
    drops off the list (its title and the report with it); shared again, it comes back."""
    if not actor.can_manage:
        raise Forbidden(_("Only managers see reports."))
    return list(db.session.execute(select(Report, Experiment).join(Experiment, Experiment.id == Report.experiment_id)
                                   .where(Experiment.course_id == actor.course_id, Report.resolved_at.is_(None),
                                          visible_clause(actor))
                                   .order_by(Report.id)))
