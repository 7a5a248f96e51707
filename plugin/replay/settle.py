"""Settling one person's rule awards after a fact of theirs is taken back (a manager revokes the kudos they received):
the rules' awards are simulated for that person with the fact and without it (replay.simulate), and every award the
difference touches is brought to what it is without the fact (an award the person gains only without it, a cap the fact filled now freed, is left
to an administrator's replay). That reaches past the awards that name the fact as
their source: a threshold it helped reach on a later fact ("two kudos received" paid on the second, the first
revoked), a level its points crossed. Everything else the person holds is left as it is (a rule edited since is not
applied to them by the way: that is an administrator's replay).

What is taken back is unearned, not revoked by a manager: the reversing entries' keys start unearn: and the badge
awards are marked unearned, so a once-only rule counts them as not given and pays again when the person earns it
again (rules.service.apply). A replay reads them as any other reversal."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from plugin.badges.models import BadgeAward
from plugin.extensions import db
from plugin.leaderboards import aggregates
from plugin.ledger.models import LedgerEntry
from plugin.ledger.service import Posting, post_entry, reverse_entry
from plugin.replay.service import revoked_awards
from plugin.replay.simulate import Award, identity_of, simulate
from plugin.rules.models import Rule
from plugin.rules.service import spec_of
from plugin.settings.service import limits


def person_awards(organisation_id: int, course_id: int, user_id: int) -> dict[tuple, Award]:
    """What the organisation's active rules give this person from their facts as they stand (by award identity)."""
    rules = _rules(organisation_id)
    specs = {r.id: spec_of(r) for r in rules}
    return simulate(organisation_id, [specs[r.id] for r in rules if r.active], limits(organisation_id),
                    revoked=revoked_awards(organisation_id, specs), person=(course_id, user_id))


def settle(organisation_id: int, course_id: int, user_id: int, before: dict[tuple, Award], cause: str,
           source: tuple[str, int], reason: str, now: datetime) -> list[int]:
    """Bring the person's awards that differ between `before` (person_awards with the fact) and now (without it) to
    what they are now, under keys naming `cause` (e.g. "kudos:12": one settlement per cause, a retry adds nothing);
    awards of rules no longer active that name the fact (`source`) as their source are taken back too. Returns the
    ids of the badge awards unearned (the caller voids them where they were sent)."""
    rules = _rules(organisation_id)
    specs = {r.id: spec_of(r) for r in rules}
    after = person_awards(organisation_id, course_id, user_id)
    changed = {identity for identity in set(before) | set(after)
               if (before[identity].points if identity in before else None)
               != (after[identity].points if identity in after else None)}
    entries = list(db.session.scalars(select(LedgerEntry).where(
        LedgerEntry.course_id == course_id, LedgerEntry.user_id == user_id,
        LedgerEntry.rule_id.in_(list(specs))).order_by(LedgerEntry.id)))
    reversed_ids = {e.reverses_id for e in entries if e.reverses_id}
    active = {r.id for r in rules if r.active}
    adjusted = set()  # the changed awards the person holds: taken back, then given again at what they are now
    for entry in entries:
        if entry.reverses_id or entry.id in reversed_ids:
            continue
        identity = identity_of(specs[entry.rule_id], user_id, course_id, entry.source_type, entry.source_id)
        of_source = (entry.source_type, entry.source_id) == source and entry.rule_id not in active
        if identity in changed or of_source:
            reverse_entry(entry.id, f"unearn:{cause}:{entry.id}", now)
            adjusted.add(identity)
    for identity in sorted(adjusted & changed, key=str):
        award = after.get(identity)
        if award is not None and award.points:
            rule = specs[award.rule.id]
            post_entry(Posting(
                organisation_id=organisation_id, course_id=course_id, user_id=user_id, amount=award.points,
                dimension=rule.dimension, source_type=award.source_type, source_id=award.source_id,
                key=f"settle:{cause}:{rule.id}:v{rule.version}:" + ":".join(map(str, identity[1:])),
                rule_id=rule.id, rule_version=rule.version), now)
    unearned = []
    for badge_award in db.session.scalars(select(BadgeAward).where(
            BadgeAward.course_id == course_id, BadgeAward.user_id == user_id, BadgeAward.rule_id.in_(list(specs)),
            BadgeAward.revoked_at.is_(None)).order_by(BadgeAward.id)).all():
        identity = identity_of(specs[badge_award.rule_id], user_id, course_id, badge_award.source_type,
                               badge_award.source_id)
        gone = identity in changed and identity not in after
        of_source = ((badge_award.source_type, badge_award.source_id) == source
                     and badge_award.rule_id not in active)
        if gone or of_source:
            badge_award.revoked_at, badge_award.revoked_reason, badge_award.unearned = now, reason, True
            aggregates.record_activity(badge_award.organisation_id, course_id, user_id, badge_award.awarded_at,
                                       {"badges": -1})
            unearned.append(badge_award.id)
    db.session.flush()
    return unearned


def _rules(organisation_id: int) -> list[Rule]:
    return list(db.session.scalars(select(Rule).where(Rule.organisation_id == organisation_id).order_by(Rule.id)))
