"""process(event): evaluate the organisation's active rules and post points and badges, in the caller's transaction."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from plugin.badges.service import BadgeGrant, award_badge
from plugin.extensions import db
from plugin.ledger.service import Posting, post_entry
from plugin.rules.engine import RuleSpec, award_key, evaluate
from plugin.rules.events import ExperimentLogged, Facts
from plugin.rules.models import Rule


@dataclass(frozen=True)
class Recognition:
    rule_id: int
    rule_name: str
    points: int
    dimension: str
    badge_id: int | None
    ledger_entry_id: int | None
    badge_award_id: int | None


def active_rules(organisation_id: int, event_name: str) -> list[Rule]:
    return list(db.session.scalars(select(Rule).where(
        Rule.organisation_id == organisation_id, Rule.event == event_name, Rule.active.is_(True)).order_by(Rule.id)))


def process(event: ExperimentLogged, facts: Facts, now: datetime) -> list[Recognition]:
    """Award what the event earns. Keys make it idempotent: processing the same event twice awards nothing new.

    The caller gathers the facts about the person (it owns the tables they summarise).
    """
    rules = active_rules(event.organisation_id, event.name)
    if not rules:
        return []
    source_type, source_id = event.source
    results = []
    for rule in rules:
        spec = RuleSpec(rule.id, rule.version, rule.condition, rule.params, rule.event, rule.repeatable)
        if not evaluate(spec, event, facts):
            continue
        key = award_key(spec, event)
        entry_id = award_id = None
        if rule.points:
            entry_id = post_entry(Posting(
                organisation_id=event.organisation_id, course_id=event.course_id, user_id=event.user_id,
                amount=rule.points, dimension=rule.dimension, source_type=source_type, source_id=source_id,
                key=key, rule_id=rule.id, rule_version=rule.version), now)
        if rule.badge_id:
            award_id = award_badge(BadgeGrant(
                badge_id=rule.badge_id, organisation_id=event.organisation_id, course_id=event.course_id,
                user_id=event.user_id, key=f"badge:{rule.badge_id}:{key}", rule_id=rule.id,
                rule_version=rule.version, source_type=source_type, source_id=source_id), now)
        if entry_id or award_id:
            results.append(Recognition(rule.id, rule.name, rule.points if entry_id else 0, rule.dimension,
                                       rule.badge_id if award_id else None, entry_id, award_id))
    return results
