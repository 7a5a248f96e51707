"""The only writer of badge awards."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from plugin.badges.models import BadgeAward, BadgeClass
from plugin.core.db import insert_ignore
from plugin.extensions import db


@dataclass(frozen=True)
class BadgeGrant:
    badge_id: int
    organisation_id: int
    course_id: int
    user_id: int
    key: str
    rule_id: int | None = None
    rule_version: int | None = None
    source_type: str | None = None
    source_id: int | None = None


def award_badge(grant: BadgeGrant, now: datetime) -> int | None:
    """Award once per key; return the new award id, or None when it was already awarded."""
    return insert_ignore(db.session, BadgeAward.__table__, {
        "idempotency_key": grant.key, "badge_id": grant.badge_id, "organisation_id": grant.organisation_id,
        "course_id": grant.course_id, "user_id": grant.user_id, "rule_id": grant.rule_id,
        "rule_version": grant.rule_version, "source_type": grant.source_type, "source_id": grant.source_id,
        "awarded_at": now,
    }, ["idempotency_key"])


def badges_of(course_id: int, user_id: int) -> list[tuple[BadgeAward, BadgeClass]]:
    return list(db.session.execute(
        select(BadgeAward, BadgeClass).join(BadgeClass, BadgeClass.id == BadgeAward.badge_id).where(
            BadgeAward.course_id == course_id, BadgeAward.user_id == user_id, BadgeAward.revoked_at.is_(None),
        ).order_by(BadgeAward.awarded_at.desc())
    ))


def get_or_create_badge(organisation_id: int, slug: str, now: datetime, **fields) -> BadgeClass:
    badge = db.session.scalar(select(BadgeClass).where(
        BadgeClass.organisation_id == organisation_id, BadgeClass.slug == slug))
    if badge is None:
        badge = BadgeClass(organisation_id=organisation_id, slug=slug, created_at=now, **fields)
        db.session.add(badge)
        db.session.flush()
    return badge


def awards_for_source(course_id: int, user_id: int, source_type: str, source_id: int) -> list[BadgeClass]:
    return list(db.session.scalars(
        select(BadgeClass).join(BadgeAward, BadgeAward.badge_id == BadgeClass.id).where(
            BadgeAward.course_id == course_id, BadgeAward.user_id == user_id,
            BadgeAward.source_type == source_type, BadgeAward.source_id == source_id)))
