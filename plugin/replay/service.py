"""Replay: what would the current rules award, compared with what the ledger holds; and, when applied,
reversing entries and new entries (never edited rows) that make the ledger match. Badges a replay would
no longer give are reported, not revoked: revoking is a manager's decision with a reason."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import func, select

from plugin.badges.models import BadgeAward
from plugin.badges.service import BadgeGrant, active_badge_ids, award_badge
from plugin.extensions import db
from plugin.ledger.models import REVOKED, LedgerEntry
from plugin.ledger.service import Posting, post_entry, reverse_entry
from plugin.outbox import grades
from plugin.replay.simulate import Award, identity_of, learners_of, simulate
from plugin.rules.engine import RuleSpec
from plugin.rules.models import Rule
from plugin.rules.service import spec_of
from plugin.settings.service import limits
from plugin.tenancy.models import Course, Membership, User
from plugin.tenancy.service import change_standing_in_organisation


@dataclass(frozen=True)
class PointChange:
    course_id: int
    user_id: int
    rule_id: int
    identity: tuple
    current: int
    desired: int


@dataclass(frozen=True)
class PersonChange:
    """One person's points from the recalculated rules, summed over their awards whose points change (`awards`):
    what a preview lists, one line a person rather than one a fact."""
    course_id: int
    user_id: int
    awards: int
    current: int
    desired: int

    @property
    def change(self) -> int:
        return self.desired - self.current


class LostBadge(NamedTuple):
    """A badge the recalculated rules would no longer give: kept (revoking is a manager's decision), reported."""
    course_id: int
    user_id: int
    badge_id: int


@dataclass
class ReplayReport:
    points: list[PointChange] = field(default_factory=list)
    new_badges: list[Award] = field(default_factory=list)
    lost_badges: list[LostBadge] = field(default_factory=list)
    applied: bool = False

    @property
    def empty(self) -> bool:
        return not (self.points or self.new_badges or self.lost_badges)

    def by_person(self) -> list[PersonChange]:
        """The point changes summed per person (a person in two courses: one line each, as rules count per course),
        the largest change first, a gain before a loss of the same size."""
        summed: dict[tuple[int, int], list[int]] = {}
        for c in self.points:
            figures = summed.setdefault((c.course_id, c.user_id), [0, 0, 0])
            figures[0] += 1
            figures[1] += c.current
            figures[2] += c.desired
        people = [PersonChange(course, user, *figures) for (course, user), figures in summed.items()]
        return sorted(people, key=lambda p: (-abs(p.change), -p.change, p.course_id, p.user_id))


def added_and_taken(people: list[PersonChange]) -> tuple[int, int]:
    """The points a recalculation adds in all and takes back in all, each person counted by their net change."""
    return sum(p.change for p in people if p.change > 0), -sum(p.change for p in people if p.change < 0)


def revoked_awards(organisation_id: int, specs: dict[int, RuleSpec], person: tuple[int, int] | None = None
                   ) -> set[tuple]:
    """The award identities a manager revoked (of these rules): a simulation keeps their points out of the totals
    that thresholds read, as the live totals lost them. Read from the revocations' reversing entries alone (their
    rows repeat the reversed entry's rule, person and source), found through the index on reverses_id: not the
    organisation's whole ledger, which ledger_awards reads for the rules a replay reconciles. `person` (course,
    user): theirs alone, found through the person's index (what settling one person's kudos reads)."""
    mine = () if person is None else (LedgerEntry.course_id == person[0], LedgerEntry.user_id == person[1])
    rows = db.session.execute(select(
        LedgerEntry.rule_id, LedgerEntry.user_id, LedgerEntry.course_id, LedgerEntry.source_type,
        LedgerEntry.source_id).where(
        LedgerEntry.reverses_id.is_not(None), LedgerEntry.organisation_id == organisation_id,
        LedgerEntry.rule_id.in_(list(specs)), LedgerEntry.idempotency_key.startswith(REVOKED, autoescape=True),
        *mine))
    return {identity_of(specs[rule_id], user_id, course_id, source_type, source_id)
            for rule_id, user_id, course_id, source_type, source_id in rows}


def ledger_awards(organisation_id: int, specs: dict[int, RuleSpec], person: tuple[int, int] | None = None):
    """Net points per award identity, the unreversed entries behind each, the identities a manager
    revoked (their reversal is a human decision a replay must respect) and the newest entry of each identity;
    `person` (course, user): theirs alone."""
    net: dict[tuple, int] = {}
    live: dict[tuple, list[LedgerEntry]] = {}
    revoked: set[tuple] = set()
    newest: dict[tuple, int] = {}
    mine = () if person is None else (LedgerEntry.course_id == person[0], LedgerEntry.user_id == person[1])
    entries = db.session.scalars(select(LedgerEntry).where(
        LedgerEntry.organisation_id == organisation_id, LedgerEntry.rule_id.in_(list(specs)), *mine).order_by(
        LedgerEntry.id))
    rows = list(entries)
    reversed_ids = {entry.reverses_id for entry in rows if entry.reverses_id}
    for entry in rows:
        identity = identity_of(specs[entry.rule_id], entry.user_id, entry.course_id, entry.source_type, entry.source_id)
        net[identity] = net.get(identity, 0) + entry.amount
        newest[identity] = entry.id  # rows come in id order
        if entry.reverses_id and entry.idempotency_key.startswith(REVOKED):
            revoked.add(identity)
        if not entry.reverses_id and entry.id not in reversed_ids:
            live.setdefault(identity, []).append(entry)
    return net, live, revoked, newest


def replay(organisation_id: int, now: datetime, *, apply: bool = False, rule_ids: list[int] | None = None,
           candidate: RuleSpec | None = None) -> ReplayReport:
    """Compare (and with apply=True, reconcile) the ledger with what the rules would award.

    `rule_ids` limits the reconciliation to those rules (all unarchived rules of the organisation by default); the
    simulation always runs every active rule, since caps and thresholds are shared. A `candidate` spec (an
    unsaved rule) is simulated for a preview and can never be applied.
    """
    if candidate is not None:
        apply = False
    if apply:
        # Every member's row of the organisation (PostgreSQL), as their awards and team changes take them, before the
        # simulation reads anything: an award in progress is committed first and simulated (its day's cap, its
        # thresholds), not left beside a plan made without it; one starting meanwhile waits and then reads what the
        # replay changed; what is posted counts for people's teams as they are.
        change_standing_in_organisation(organisation_id)
    rules = list(db.session.scalars(select(Rule).where(Rule.organisation_id == organisation_id).order_by(Rule.id)))
    specs = {r.id: spec_of(r) for r in rules}
    active = [specs[r.id] for r in rules if r.active]
    if candidate is not None:
        active.append(candidate)
    # Archived rules (deleted after awarding) are out of a default replay: what they gave stays as given.
    scope = {candidate.id} if candidate is not None else set(
        rule_ids or [r.id for r in rules if r.archived_at is None])
    # Inactive rules out of the reconciliation (archived ones by default) keep what they gave: their points count.
    kept = frozenset(r.id for r in rules if not r.active and r.id not in scope)
    desired = {k: a for k, a in simulate(organisation_id, active, limits(organisation_id),
                                         revoked=revoked_awards(organisation_id, specs), kept=kept).items()
               if k[0] in scope}
    net, live, revoked, newest = ledger_awards(organisation_id, {i: s for i, s in specs.items() if i in scope})
    # Only the course's learners now are simulated: someone who has since become staff there (a student made TA)
    # keeps what they earned as a learner, as given, rather than having a replay take it all back.
    learners = learners_of(organisation_id)
    # An erased account is given nothing more (as kudos and badges by hand refuse it); what it is not owed still goes.
    erased = set(db.session.scalars(select(User.id).join(Membership, Membership.user_id == User.id).join(
        Course, Course.id == Membership.course_id).where(Course.organisation_id == organisation_id,
                                                          User.erased_at.is_not(None))))
    report = ReplayReport()
    for identity in sorted(set(desired) | set(net), key=str):
        if identity in revoked:
            continue
        award = desired.get(identity)
        want = award.points if award else 0
        have = net.get(identity, 0)
        if want != have:
            who = award if award is not None else live[identity][0]
            if (who.course_id, who.user_id) not in learners or (want > have and who.user_id in erased):
                continue
            report.points.append(PointChange(who.course_id, who.user_id, identity[0], identity, have, want))
    # Held, or revoked by a manager (a decision a replay respects); not an award unearned since (settle: the kudos
    # behind it revoked), which a replay gives again to whoever qualifies now.
    held = set(db.session.execute(select(BadgeAward.course_id, BadgeAward.user_id, BadgeAward.badge_id).where(
        BadgeAward.organisation_id == organisation_id, BadgeAward.unearned.is_(False))).all())
    held = {tuple(h) for h in held}
    wanted_badges = {}
    for award in desired.values():
        if award.rule.badge_id:
            wanted_badges.setdefault((award.course_id, award.user_id, award.rule.badge_id), award)
    issuable = active_badge_ids(organisation_id)  # a switched-off badge is not issued (nor taken from its holders)
    report.new_badges = [a for key, a in sorted(wanted_badges.items())
                         if key not in held and key[2] in issuable and key[1] not in erased]
    scoped_badges = {specs[i].badge_id for i in scope if i in specs and specs[i].badge_id}
    rule_awarded = set(db.session.execute(select(BadgeAward.course_id, BadgeAward.user_id, BadgeAward.badge_id).where(
        BadgeAward.organisation_id == organisation_id, BadgeAward.rule_id.in_(list(scope)),
        BadgeAward.revoked_at.is_(None))).all())
    report.lost_badges = sorted(LostBadge(*k) for k in rule_awarded
                                if tuple(k) not in wanted_badges and k[2] in scoped_badges and (k[0], k[1]) in learners)
    if apply and not report.empty:
        _apply(organisation_id, report, desired, live, newest, specs, now)
        report.applied = True
    return report


def _apply(organisation_id: int, report: ReplayReport, desired: dict[tuple, Award], live: dict[tuple, list[LedgerEntry]],
           newest: dict[tuple, int], specs: dict[int, RuleSpec], now: datetime) -> None:
    """Reverse the live entries of each changed award and post what it should be. For the daily cap and the rules'
    windows a reversal counts when its entry did and the new entry when the simulation counted the award
    (LedgerEntry.counted_at): posted today, they neither fill today's cap nor move the rule's last award to today.
    The new entry's key names the identity's newest entry so far: a retry, or a second replay applied at once,
    computes the same key and posts nothing twice, while a later replay that changes the same award again posts
    under a key of its own."""
    for change in report.points:
        grades.points_changed(change.course_id, change.user_id, now)
        for entry in live.get(change.identity, []):
            reverse_entry(entry.id, f"replay-reverse:{entry.id}", now, recalculated=True)
        award = desired.get(change.identity)
        if award and award.points:
            rule = specs[award.rule.id]
            post_entry(Posting(
                organisation_id=organisation_id, course_id=award.course_id, user_id=award.user_id, amount=award.points,
                dimension=rule.dimension, source_type=award.source_type, source_id=award.source_id,
                key=f"replay:{rule.id}:v{rule.version}:" + ":".join(map(str, change.identity[1:]))
                + f":after:{newest.get(change.identity, 0)}",
                rule_id=rule.id, rule_version=rule.version, counted_at=award.at), now)
    for award in report.new_badges:
        rule = specs[award.rule.id]
        # After n awards of the badge unearned, a key of its own (":again:<n>"), as rules.service.apply gives one.
        unearned = db.session.scalar(select(func.count()).select_from(BadgeAward).where(
            BadgeAward.course_id == award.course_id, BadgeAward.user_id == award.user_id,
            BadgeAward.badge_id == rule.badge_id, BadgeAward.unearned.is_(True)))
        award_badge(BadgeGrant(badge_id=rule.badge_id, organisation_id=organisation_id, course_id=award.course_id,
                               user_id=award.user_id, key=f"replay:badge:{rule.badge_id}:user:{award.user_id}:"
                               f"course:{award.course_id}" + (f":again:{unearned}" if unearned else ""),
                               rule_id=rule.id, rule_version=rule.version, source_type=award.source_type,
                               source_id=award.source_id), now)



@dataclass(frozen=True)
class Qualifier:
    course_id: int
    user_id: int
    points: int
    badge: bool


def preview(organisation_id: int, candidate: RuleSpec, replacing: int | None = None) -> list[Qualifier]:
    """Who the candidate rule would recognise now, had it always been in force (nothing is written)."""
    rules = list(db.session.scalars(select(Rule).where(Rule.organisation_id == organisation_id,
                                                       Rule.active.is_(True)).order_by(Rule.id)))
    specs = [spec_of(r) for r in rules if r.id != replacing] + [candidate]
    per_person: dict[tuple[int, int], list[Award]] = {}
    every = list(db.session.scalars(select(Rule).where(Rule.organisation_id == organisation_id)))
    revoked = revoked_awards(organisation_id, {r.id: spec_of(r) for r in every})
    # What inactive rules gave stays, as a rule's replay keeps it (the rule edited here is the candidate instead).
    kept = frozenset(r.id for r in every if not r.active and r.id != replacing)
    for award in simulate(organisation_id, specs, limits(organisation_id), revoked=revoked, kept=kept).values():
        if award.rule.id == candidate.id:
            per_person.setdefault((award.course_id, award.user_id), []).append(award)
    badge = bool(candidate.badge_id) and candidate.badge_id in active_badge_ids(organisation_id)  # off: not issued
    return [Qualifier(c, u, sum(a.points for a in awards), badge) for (c, u), awards in sorted(per_person.items())]


def preview_rule(actor, fields: dict, replacing: int | None = None) -> list[Qualifier]:
    """Who a rule being written (or rewritten: `replacing`) would recognise, for an administrator."""
    from plugin.rules import definitions

    kept = None
    if replacing is not None:
        kept = definitions.get_rule(actor, replacing).points  # accepted as they are, as an edit accepts them
    elif not actor.can_administer:
        definitions.rules_for(actor)  # raises Forbidden
    checked = definitions.validate_fields(actor.organisation_id, dict(fields), kept_points=kept)
    candidate = RuleSpec(-1, 1, checked["condition"], checked["params"], checked["points"], checked["dimension"],
                         checked["badge_id"], checked["repeatable"], checked["cooldown_days"], checked["cap_count"],
                         checked["cap_window_days"])
    return preview(actor.organisation_id, candidate, replacing)


def introduce_rule(actor, fields: dict, now: datetime) -> tuple[Rule, int]:
    """Create a rule and, when active, award it at once to those who already qualify; returns the rule and
    how many people it recognised."""
    from plugin.rules import definitions

    if actor.can_administer and fields.get("active", True):
        # The members' rows before the rule's insert moves the organisation's configuration version (its row): the
        # replay below takes them, and a time zone change (or a launch) takes them before that row (a deadlock).
        change_standing_in_organisation(actor.organisation_id)
    rule = definitions.create_rule(actor.organisation_id, fields, now, actor=actor)
    if not rule.active:
        return rule, 0
    report = replay(actor.organisation_id, now, apply=True, rule_ids=[rule.id])
    # people, not their rows: a person recognised in two courses is one (rules count per course)
    people = {c.user_id for c in report.points} | {a.user_id for a in report.new_badges}
    return rule, len(people)
