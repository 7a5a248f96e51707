"""Re-derive, from the structured facts alone, what the rules would award: a deterministic simulation.

Facts are replayed per person in time order into a MemoryFacts, exactly as the live path would have seen
them (the fact first, then the rules), with a hypothetical ledger for caps, thresholds and once-only guards.
No free text is read, so the result is the same after text has been erased.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy import select

from plugin.challenges.progress import completion_events
from plugin.community.models import Reaction, Reuse
from plugin.core.actor import Role
from plugin.experiments.models import Experiment
from plugin.experiments.service import experiment_event
from plugin.extensions import db
from plugin.ledger.models import LedgerEntry, original
from plugin.peer_help.models import CONFIRMED, PeerHelp
from plugin.recognition.models import Kudos
from plugin.rules import events as E
from plugin.rules.engine import RuleSpec, award_key, evaluate, triggered_by
from plugin.rules.facts import MemoryFacts
from plugin.settings.service import Limits, time_zone
from plugin.tenancy.models import Course, Membership

ORDER = {E.EXPERIMENT_LOGGED: 0, E.HELP_CONFIRMED: 1, E.KUDOS_RECEIVED: 2, E.REACTION_RECEIVED: 3,
         E.REUSE_RECEIVED: 4, E.CHALLENGE_COMPLETED: 5, E.POINTS_CHANGED: 6}


@dataclass(frozen=True)
class Award:
    """What one rule gives one person for one fact (per fact) or once (once-only)."""

    identity: tuple            # (rule_id, source_type, source_id) or (rule_id, "once", user_id, course_id)
    rule: RuleSpec
    course_id: int
    user_id: int
    points: int
    source_type: str
    source_id: int
    at: datetime


def identity_of(rule: RuleSpec, user_id: int, course_id: int, source_type: str, source_id: int | None) -> tuple:
    if rule.repeatable:
        return (rule.id, source_type, source_id)
    return (rule.id, "once", user_id, course_id)


@dataclass
class _Person:
    facts: MemoryFacts = field(default_factory=MemoryFacts)


def learners_of(organisation_id: int, person: tuple[int, int] | None = None) -> set[tuple[int, int]]:
    """(course, user) of the organisation's learners now: the people whose facts a simulation replays; `person`
    (course, user): that person, if a learner there (one membership row read, not the organisation's)."""
    mine = () if person is None else (Membership.course_id == person[0], Membership.user_id == person[1])
    return set(tuple(row) for row in db.session.execute(select(Membership.course_id, Membership.user_id).join(
        Course, Course.id == Membership.course_id).where(Course.organisation_id == organisation_id,
                                                        Membership.role == Role.LEARNER.value, *mine)))


def _events(organisation_id: int, person: tuple[int, int] | None = None, kept: frozenset[int] = frozenset()
            ) -> list[tuple[E.Event, dict | None]]:
    """Every fact of the organisation as (event, row for the person's facts), in a stable time order; `person`
    (course, user): that person's alone; `kept`: rules whose live entries count as points given (see below)."""
    def mine(course_column, user_column) -> tuple:
        return () if person is None else (course_column == person[0], user_column == person[1])

    out: list[tuple[E.Event, dict | None]] = []
    for e in db.session.scalars(select(Experiment).where(Experiment.organisation_id == organisation_id,
                                                         *mine(Experiment.course_id, Experiment.user_id))):
        event = experiment_event(e)
        # Logged private and shared later (shared_at after its logging time): private until then, and its sharing
        # rules paid when it was shared, as of the day it was logged but under the cap of the day they were paid
        # (share_experiment). Shared when logged: shared_at is its logging time (or None, before revision 0053).
        later = e.shared and e.shared_at is not None and e.shared_at > e.created_at
        row = {"kind": "experiment", "id": e.id, "at": e.created_at, "outcome": e.outcome,
               "category_id": e.task_category_id, "tool_key": e.tool_key, "shared": e.shared and not later,
               "reflection_chars": e.reflection_chars, "duplicate": e.duplicate_of_id is not None}
        out.append((replace(event, attrs={**event.attrs, "shared": False}) if later else event, row))
        if later:
            out.append((replace(event, attrs={**event.attrs, "paid_at": e.shared_at}),
                        {"kind": "shared", "row": row, "at": e.shared_at}))
    for h in db.session.scalars(select(PeerHelp).where(PeerHelp.organisation_id == organisation_id,
                                                       PeerHelp.status == CONFIRMED,
                                                       *mine(PeerHelp.course_id, PeerHelp.helper_id))):
        out.append((E.Event(E.HELP_CONFIRMED, organisation_id, h.course_id, h.helper_id, "peer_help", h.id,
                            h.resolved_at, {"across_teams": h.across_teams, "over_pair_cap": h.over_pair_cap}),
                    None if h.over_pair_cap else {"kind": "help", "at": h.resolved_at, "across_teams": h.across_teams}))
    # A kudos' points went to the dimension its ledger entry names (the kudos row keeps no dimension).
    for k, dimension in db.session.execute(
            select(Kudos, LedgerEntry.dimension).outerjoin(LedgerEntry, (LedgerEntry.course_id == Kudos.course_id)
                                                           & (LedgerEntry.user_id == Kudos.receiver_id)
                                                           & (LedgerEntry.source_type == "kudos")
                                                           & (LedgerEntry.source_id == Kudos.id)
                                                           & original()
                                                           & LedgerEntry.rule_id.is_(None))
            .where(Kudos.organisation_id == organisation_id, Kudos.revoked_at.is_(None),
                   *mine(Kudos.course_id, Kudos.receiver_id))):
        out.append((E.Event(E.KUDOS_RECEIVED, organisation_id, k.course_id, k.receiver_id, "kudos", k.id,
                            k.created_at), {"kind": "kudos", "at": k.created_at, "points": k.points,
                                            "dimension": dimension}))
    for model, name, kind in ((Reaction, E.REACTION_RECEIVED, "reaction"), (Reuse, E.REUSE_RECEIVED, "reuse")):
        standing = (model.withdrawn_at.is_(None),) if model is Reaction else ()  # a reaction taken back counts not
        rows = db.session.execute(select(model, Experiment.course_id, Experiment.user_id).join(
            Experiment, Experiment.id == model.experiment_id).where(Experiment.organisation_id == organisation_id,
                                                                     model.user_id != Experiment.user_id, *standing,
                                                                     *mine(Experiment.course_id, Experiment.user_id)))
        for row, course_id, author_id in rows:
            out.append((E.Event(name, organisation_id, course_id, author_id, kind, row.id, row.created_at),
                        {"kind": kind, "at": row.created_at, "by": row.user_id}))
    out += completion_events(organisation_id, person)
    # The points of rules no longer active whose awards stay as given (`kept`: an archived rule's in a replay, any
    # inactive rule's when a revoked kudos is settled): no rule the simulation runs makes them, yet the live totals
    # hold them (and their reversals) from when they were posted, and levels and points thresholds were reached with
    # them. They move the simulated totals as they moved the live ones (a replay took back a level reached partly
    # with an archived campaign's points; settling a revoked kudos took one the person still met).
    for entry in db.session.scalars(select(LedgerEntry).where(
            LedgerEntry.organisation_id == organisation_id, LedgerEntry.rule_id.in_(sorted(kept)),
            *mine(LedgerEntry.course_id, LedgerEntry.user_id))) if kept else ():
        out.append((E.Event(E.POINTS_CHANGED, organisation_id, entry.course_id, entry.user_id, entry.source_type,
                            entry.source_id, entry.created_at),
                    {"kind": "points", "at": entry.created_at, "points": entry.amount, "dimension": entry.dimension,
                     "original": entry.reverses_id is None, "source_type": entry.source_type}))
    out.sort(key=lambda pair: (_paid_at(pair[0]), ORDER[pair[0].name], pair[0].source_id))
    return out


def _paid_at(event: E.Event):
    """When what the event earns is paid: when it happened, or when an entry logged private was shared."""
    return event.attrs.get("paid_at") or event.occurred_at


def _remember(facts: MemoryFacts, row: dict | None) -> None:
    if row is None:
        return
    kind = row["kind"]
    if kind == "experiment":
        facts.experiment_rows.append(row)
    elif kind == "shared":
        row["row"]["shared"] = True
    elif kind == "help":
        facts.help_rows.append(row)
    elif kind == "kudos":
        facts.kudos_rows.append(row)
        if row["points"]:
            for dimension in {row["dimension"] or "total", "total"}:
                facts.point_totals[dimension] = facts.point_totals.get(dimension, 0) + row["points"]
    elif kind == "reaction":
        facts.reaction_rows.append(row)
    elif kind == "reuse":
        facts.reuse_rows.append(row)
    elif kind == "challenge":
        facts.challenge_rows.append(row)
    elif kind == "points":
        for dimension in {row["dimension"], "total"}:
            facts.point_totals[dimension] = facts.point_totals.get(dimension, 0) + row["points"]
        if row["original"]:  # paid that day, whatever came after (the daily cap, as facts.db reads it)
            day = (facts.day_of(row["at"]), row["source_type"])
            facts.day_points[day] = facts.day_points.get(day, 0) + row["points"]


def simulate(organisation_id: int, rules: list[RuleSpec], limits: Limits,
             revoked: set[tuple] | frozenset = frozenset(), person: tuple[int, int] | None = None,
             kept: frozenset[int] = frozenset()) -> dict[tuple, Award]:
    """The awards the given rules would have made, keyed by award identity. `revoked`: the identities a manager
    revoked, still made (a once-only rule is not made again, a day's cap counts them) but their points kept out of
    the running totals: a points or level threshold is not reached with points a manager took back. `person`
    (course, user): that person's awards alone (what rules give one person depends on their facts alone). `kept`:
    rules not simulated whose awards stay as given: their points count in the totals when they were posted."""
    learners = learners_of(organisation_id, person)
    people: dict[tuple[int, int], _Person] = {}
    awards: dict[tuple, Award] = {}
    zone = time_zone(organisation_id)
    for event, row in _events(organisation_id, person, frozenset(kept)):
        if (event.course_id, event.user_id) not in learners:
            continue
        facts = people.setdefault((event.course_id, event.user_id), _Person(MemoryFacts(time_zone=zone))).facts
        _remember(facts, row)
        if event.name == E.POINTS_CHANGED:  # a no longer active rule's points (_events): the totals' rules only
            _evaluate(event, facts, rules, limits, awards, revoked)
            continue
        moved = _evaluate(event, facts, rules, limits, awards, revoked)
        if moved or (row is not None and row["kind"] == "kudos" and row["points"]):  # kudos points move totals too
            _evaluate(replace(event, name=E.POINTS_CHANGED), facts, rules, limits, awards, revoked)
    return awards


def _evaluate(event: E.Event, facts: MemoryFacts, rules: list[RuleSpec], limits: Limits, awards: dict,
              revoked: set[tuple] | frozenset = frozenset()) -> bool:
    moved = False
    for rule in rules:
        if not triggered_by(rule, event.name):
            continue
        decision = evaluate(rule, event, facts, limits)
        if not decision.award:
            continue
        identity = identity_of(rule, event.user_id, event.course_id, event.source_type, event.source_id)
        if identity in awards:
            continue
        paid_at = _paid_at(event)
        awards[identity] = Award(identity, rule, event.course_id, event.user_id, decision.points,
                                 event.source_type, event.source_id, paid_at)
        facts.award_rows.append({"rule_id": rule.id, "at": paid_at})
        if decision.points:
            day = (facts.day_of(paid_at), event.source_type)
            facts.day_points[day] = facts.day_points.get(day, 0) + decision.points  # paid that day, whatever came after
            if identity in revoked:
                continue
            moved = True
            for dimension in (rule.dimension, "total"):
                facts.point_totals[dimension] = facts.point_totals.get(dimension, 0) + decision.points
    return moved


def live_key(award: Award) -> str:
    """The key the live path would have used (for reports; replays post under keys of their own)."""
    event = E.Event("", 0, award.course_id, award.user_id, award.source_type, award.source_id, award.at)
    return award_key(award.rule, event)
