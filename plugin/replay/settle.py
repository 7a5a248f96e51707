"""Settling one person's rule awards after a fact of theirs is taken back (a manager revokes the kudos they received):
the rules' awards are simulated for that person with the fact and without it (replay.simulate), and every award the
difference touches is brought to what it is without the fact, against what the person holds for it. That reaches
past the awards that name the fact as their source: a threshold it helped reach on a later fact ("two kudos
received" paid on the second, the first revoked), a level its points crossed, an award it moved (a windowed
threshold now reached on a later kudos) or kept from them (a cooldown or cap it filled). What names the fact and is
not owed without it goes in any case. Everything else the person holds is left as it is (a rule edited since is not
applied to them by the way: that is an administrator's replay).

What is taken back is unearned, not revoked by a manager: the reversing entries' keys start unearn: and the badge
awards are marked unearned, so a once-only rule counts them as not given and pays again when the person earns it
again (rules.service.apply). A replay reads them as any other reversal."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from plugin.badges.models import BadgeAward
from plugin.badges.service import BadgeGrant, award_badge
from plugin.extensions import db
from plugin.leaderboards import aggregates
from plugin.ledger.service import Posting, post_entry, reverse_entry
from plugin.replay.service import ledger_awards, revoked_awards
from plugin.replay.simulate import Award, identity_of, simulate
from plugin.rules.models import Rule
from plugin.rules.service import spec_of
from plugin.settings.service import limits
from plugin.tenancy.models import User
from plugin.webhooks import events as webhooks


def person_awards(organisation_id: int, course_id: int, user_id: int, rules: list[Rule] | None = None
                  ) -> dict[tuple, Award]:
    """What the organisation's active rules give this person from their facts as they stand (by award identity);
    `rules`: the organisation's, when the caller has them."""
    rules = _rules(organisation_id) if rules is None else rules
    specs = {r.id: spec_of(r) for r in rules}
    # What inactive rules gave the person stays as given (settling touches no other award): their points count.
    return simulate(organisation_id, [specs[r.id] for r in rules if r.active], limits(organisation_id),
                    revoked=revoked_awards(organisation_id, specs, (course_id, user_id)), person=(course_id, user_id),
                    kept=frozenset(r.id for r in rules if not r.active))


def settle(organisation_id: int, course_id: int, user_id: int, before: dict[tuple, Award], cause: str,
           source: tuple[str, int], reason: str, now: datetime) -> list[int]:
    """Bring the person's awards to what the rules give without the fact, where that differs from what they give
    with it (`before`: person_awards with the fact), under keys naming `cause` (e.g. "kudos:12": one settlement per
    cause, a retry adds nothing): an award it made is taken back, one it moved to a later fact or kept from them (a
    cooldown, a cap, a window it filled) is given. Whatever names the fact (`source`) as its source and is not owed
    without it is taken back too, whatever the simulation with it says: the awards of rules no longer active or
    changed since, and all of them for someone simulated as no one (no longer a learner there). Each award is
    compared with what the person holds for it, so nothing is given twice. Returns the ids of the badge awards
    unearned (the caller voids them where they were sent)."""
    rules = _rules(organisation_id)
    specs = {r.id: spec_of(r) for r in rules}
    after = person_awards(organisation_id, course_id, user_id, rules)
    targets = {identity for identity in set(before) | set(after)
               if (before[identity].points if identity in before else None)
               != (after[identity].points if identity in after else None)}
    # award identity -> the entries standing for it; the identities a manager revoked
    _net, held, revoked, _newest = ledger_awards(organisation_id, specs, person=(course_id, user_id))
    targets |= {identity for identity, entries in held.items() if identity not in after
                and any((e.source_type, e.source_id) == source for e in entries)}
    badges = [(award, identity_of(specs[award.rule_id], user_id, course_id, award.source_type, award.source_id))
              for award in db.session.scalars(select(BadgeAward).where(
                  BadgeAward.course_id == course_id, BadgeAward.user_id == user_id,
                  BadgeAward.rule_id.in_(list(specs)), BadgeAward.revoked_at.is_(None)).order_by(BadgeAward.id))]
    targets |= {identity for award, identity in badges
                if (award.source_type, award.source_id) == source and identity not in after}
    # What a manager revoked stays so, as a replay leaves it (the simulation still makes it, for once-only rules and
    # caps, so it may differ with and without the fact).
    targets -= revoked
    # An erased account is given nothing new (as kudos and badges by hand refuse it): only what is not owed goes.
    erased = db.session.scalar(select(User.erased_at).where(User.id == user_id)) is not None
    for identity in sorted(targets, key=str):
        owed = after.get(identity)
        want = owed.points if owed is not None else 0
        if want == sum(e.amount for e in held.get(identity, [])) or (erased and want):
            continue
        for entry in held.get(identity, []):
            reverse_entry(entry.id, f"unearn:{cause}:{entry.id}", now, recalculated=True)
        if want:
            rule = specs[owed.rule.id]
            post_entry(Posting(
                organisation_id=organisation_id, course_id=course_id, user_id=user_id, amount=want,
                dimension=rule.dimension, source_type=owed.source_type, source_id=owed.source_id,
                key=f"settle:{cause}:{rule.id}:v{rule.version}:" + ":".join(map(str, identity[1:])),
                rule_id=rule.id, rule_version=rule.version, counted_at=owed.at), now)  # as a replay's (ledger.models)
    unearned = []
    for award, identity in badges:
        if identity in targets and identity not in after:
            award.revoked_at, award.revoked_reason, award.unearned = now, reason, True
            aggregates.record_activity(award.organisation_id, course_id, user_id, award.awarded_at, {"badges": -1})
            unearned.append(award.id)
            webhooks.badge_revoked(award.id, organisation_id, now)  # here: before an award it moves is given again
    db.session.flush()
    # Held, or revoked by a manager (a decision that stands, as a replay respects it): not given again here.
    standing = set(db.session.scalars(select(BadgeAward.badge_id).where(
        BadgeAward.course_id == course_id, BadgeAward.user_id == user_id, BadgeAward.unearned.is_(False))))
    for identity in sorted(targets, key=str):
        owed = after.get(identity)
        if owed is None or not owed.rule.badge_id or owed.rule.badge_id in standing or erased:
            continue
        rule = specs[owed.rule.id]
        if award_badge(BadgeGrant(
                badge_id=rule.badge_id, organisation_id=organisation_id, course_id=course_id, user_id=user_id,
                key=f"settle:{cause}:badge:{rule.badge_id}:" + ":".join(map(str, identity[1:])), rule_id=rule.id,
                rule_version=rule.version, source_type=owed.source_type, source_id=owed.source_id), now):
            standing.add(rule.badge_id)
    return unearned


def _rules(organisation_id: int) -> list[Rule]:
    return list(db.session.scalars(select(Rule).where(Rule.organisation_id == organisation_id).order_by(Rule.id)))
