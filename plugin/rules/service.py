"""process(event): evaluate the organisation's active rules and post points and badges in the caller's
transaction. Idempotency keys make it safe to process the same fact twice or from racing requests."""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import bindparam, func, select

from plugin.badges.service import BadgeGrant, award_badge
from plugin.extensions import db
from plugin.ledger.service import Posting, post_entry
from plugin.rules import events as E
from plugin.rules.engine import RuleSpec, asks_past_awards, award_key, evaluate, triggered_by
from plugin.rules.facts import Facts
from plugin.rules.models import Rule
from plugin.rules.registry import load_params
from plugin.settings.service import Limits
from plugin.tenancy import config_cache


@dataclass(frozen=True)
class Recognition:
    rule_id: int
    rule_name: str
    points: int
    dimension: str
    badge_id: int | None
    ledger_entry_id: int | None
    badge_award_id: int | None
    note: str = ""

    @property
    def awarded(self) -> bool:
        return bool(self.ledger_entry_id or self.badge_award_id)


def spec_of(rule: Rule) -> RuleSpec:
    return RuleSpec(rule.id, rule.version, rule.condition, rule.params or {}, rule.points, rule.dimension,
                    rule.badge_id, rule.repeatable, rule.cooldown_days, rule.cap_count, rule.cap_window_days)


def active_rules(organisation_id: int) -> list[Rule]:
    return list(db.session.scalars(select(Rule).where(
        Rule.organisation_id == organisation_id, Rule.active.is_(True)).order_by(Rule.id)))


@dataclass
class _Active:
    """An active rule as process() needs it; its params are loaded (validated) once, on first use."""

    spec: RuleSpec
    name: str
    _params: dict | None = None

    def params(self) -> dict:
        if self._params is None:
            self._params = load_params(self.spec.condition, self.spec.params)
        return self._params


_R = Rule.__table__
_ACTIVE = select(_R.c.id, _R.c.version, _R.c.condition, _R.c.params, _R.c.points, _R.c.dimension, _R.c.badge_id,
                 _R.c.repeatable, _R.c.cooldown_days, _R.c.cap_count, _R.c.cap_window_days, _R.c.name).where(
    _R.c.organisation_id == bindparam("organisation_id"), _R.c.active.is_(True)).order_by(_R.c.id)


def _active(organisation_id: int) -> list[_Active]:
    """The organisation's active rules, read once per transaction (forgotten when a rule is written), or
    kept in memory under the organisation's configuration version (config_cache: the list is shared, never
    changed by its readers)."""
    def read():
        return [_Active(RuleSpec(*row[:3], row[3] or {}, *row[4:11]), row[11])
                for row in db.session.execute(_ACTIVE, {"organisation_id": organisation_id})]
    return config_cache.cached(organisation_id, "active_rules", (_R.name,), read)


def asking_rules(organisation_id: int) -> frozenset[int]:
    """The organisation's active rules that ask about their own past awards (engine.asks_past_awards): the only
    ones whose past awards an experiment's facts read (the every-experiment rule never asks, and its awards are as
    many as the person's experiments)."""
    return config_cache.cached(organisation_id, "asking_rules", (_R.name,), lambda: frozenset(
        rule.spec.id for rule in _active(organisation_id) if asks_past_awards(rule.spec)))


def apply(rule: Rule | RuleSpec, name: str, event: E.Event, points: int, now: datetime,
          key: str | None = None) -> tuple[int | None, int | None]:
    """Post the rule's points and badge for the event under its idempotency key."""
    spec = rule if isinstance(rule, RuleSpec) else spec_of(rule)
    if key is None:
        key = award_key(spec, event)
        if not spec.repeatable:
            key = _once_key(spec, event, key)
            if key is None:
                return None, None
    entry_id = award_id = None
    if points:
        entry_id = post_entry(Posting(
            organisation_id=event.organisation_id, course_id=event.course_id, user_id=event.user_id,
            amount=points, dimension=spec.dimension, source_type=event.source_type, source_id=event.source_id,
            key=key, rule_id=spec.id, rule_version=spec.version), now)
    if spec.badge_id:
        award_id = award_badge(BadgeGrant(
            badge_id=spec.badge_id, organisation_id=event.organisation_id, course_id=event.course_id,
            user_id=event.user_id, key=f"badge:{spec.badge_id}:{key}", rule_id=spec.id, rule_version=spec.version,
            source_type=event.source_type, source_id=event.source_id), now)
    return entry_id, award_id


def _once_key(spec: RuleSpec, event: E.Event, key: str) -> str | None:
    """A once-only rule's key for this award, or None when the person holds it (given, or revoked by a manager: a
    decision that stands), whatever the facts read said. Their first award has the rule's key; after awards that were
    all unearned since (their cause taken back: facts count them as not given, so the rule pays again), the key ends
    ":again:<n>", n the award rows of the rule the person has (ledger entries and badge awards), which each earning
    adds to: a new key every time, the same one for a retry or a racing request. Asked only when a once-only rule
    pays, which is rare."""
    from plugin.badges.models import BadgeAward
    from plugin.ledger import pending
    from plugin.ledger.models import LedgerEntry, original, unearned

    pending.flush()  # the entries an experiment's award holds back count (ledger/pending.py)

    mine = (LedgerEntry.course_id == event.course_id, LedgerEntry.user_id == event.user_id,
            LedgerEntry.rule_id == spec.id, original())
    theirs = (BadgeAward.course_id == event.course_id, BadgeAward.user_id == event.user_id,
              BadgeAward.rule_id == spec.id)
    entries, given_entries, badges, given_badges = db.session.execute(select(
        select(func.count()).select_from(LedgerEntry).where(*mine).scalar_subquery(),
        select(func.count()).select_from(LedgerEntry).where(*mine, ~unearned(LedgerEntry.id)).scalar_subquery(),
        select(func.count()).select_from(BadgeAward).where(*theirs).scalar_subquery(),
        select(func.count()).select_from(BadgeAward).where(*theirs, BadgeAward.unearned.is_(False)).scalar_subquery(),
    )).one()
    if given_entries or given_badges:
        return None
    n = entries + badges
    return f"{key}:again:{n}" if n else key


def process(event: E.Event, facts: Facts, limits: Limits, now: datetime,
            rules: list[Rule] | None = None, points_moved: bool = False) -> list[Recognition]:
    """Award what the event earns; then, if points moved, what the new totals earn (levels, thresholds).

    The caller gathers the facts (it owns the tables they summarise) and passes the organisation's limits;
    `points_moved`: the fact itself posted points (kudos), so the new totals are looked at even if no rule pays.
    """
    active = _active(event.organisation_id) if rules is None else [_Active(spec_of(r), r.name) for r in rules]
    return _process(event, facts, limits, now, active, points_moved)


def _process(event: E.Event, facts: Facts, limits: Limits, now: datetime, active: list[_Active],
             points_moved: bool = False) -> list[Recognition]:
    results: list[Recognition] = []
    for rule in active:
        spec = rule.spec
        if not triggered_by(spec, event.name):
            continue
        decision = evaluate(spec, event, facts, limits, params=rule.params)
        if not decision.award:
            if decision.note:
                results.append(Recognition(spec.id, rule.name, 0, spec.dimension, None, None, None, decision.note))
            continue
        entry_id, award_id = apply(spec, rule.name, event, decision.points, now)
        if entry_id or award_id:
            facts.changed(spec.id, now, ledger=bool(entry_id), badge=bool(award_id))
            results.append(Recognition(spec.id, rule.name, decision.points if entry_id else 0, spec.dimension,
                                       spec.badge_id if award_id else None, entry_id, award_id, decision.note))
    if event.name != E.POINTS_CHANGED and (points_moved or any(r.ledger_entry_id for r in results)):
        results += _process(replace(event, name=E.POINTS_CHANGED), facts, limits, now, active)
    return results
