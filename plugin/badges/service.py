"""The only writer of badge awards."""
from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from plugin.badges.images import check_upload, default_svg
from plugin.badges.models import BadgeAward, BadgeClass
from plugin.core import text_fold
from plugin.core.db import insert_ignore
from plugin.core.names import tidy as tidy_name
from plugin.errors import Conflict, Forbidden, InvalidInput, NotFound
from plugin.extensions import db
from plugin.i18n import gettext as _
from plugin.identity.people import identities
from plugin.leaderboards import aggregates
from plugin.ledger import pending
from plugin.tenancy.models import Course, Platform
from plugin.webhooks import events as webhooks
from plugin.xapi import service as xapi


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
    """Award once per key; return the new award id, or None when it was already awarded or the badge is switched
    off (an admin's "off" stops every way of issuing it, rules and replays alike; holders keep theirs)."""
    pending.flush()  # an experiment's award holds its rows back (ledger/pending.py): what follows reads their tables
    if not db.session.scalar(select(BadgeClass.active).where(BadgeClass.id == grant.badge_id)):
        return None
    award_id = insert_ignore(db.session, BadgeAward.__table__, {
        "idempotency_key": grant.key, "public_id": secrets.token_hex(16), "badge_id": grant.badge_id, "organisation_id": grant.organisation_id,
        "course_id": grant.course_id, "user_id": grant.user_id, "rule_id": grant.rule_id,
        "rule_version": grant.rule_version, "source_type": grant.source_type, "source_id": grant.source_id,
        "awarded_at": now,
    }, ["idempotency_key"])
    if award_id is not None:
        aggregates.record_activity(grant.organisation_id, grant.course_id, grant.user_id, now, {"badges": 1})
        xapi.badge_earned(award_id, grant.organisation_id, now)
        webhooks.badge_earned(award_id, grant.organisation_id, now)
    return award_id


def badges_of(course_id: int, user_id: int) -> list[tuple[BadgeAward, BadgeClass]]:
    return list(db.session.execute(
        select(BadgeAward, BadgeClass).join(BadgeClass, BadgeClass.id == BadgeAward.badge_id).where(
            BadgeAward.course_id == course_id, BadgeAward.user_id == user_id, BadgeAward.revoked_at.is_(None),
        ).order_by(BadgeAward.awarded_at.desc())
    ))


def linked_badges(organisation_id: int, user_id: int) -> list[tuple[BadgeAward, BadgeClass, str]]:
    """Badges of the identities linked to this one in the organisation's other LMSs, with where each was earned
    ("<LMS> · <course>"). Empty for an identity linked to nobody."""
    others = [u for u in identities(user_id) if u != user_id]
    if not others:
        return []
    return [(award, badge, f"{platform or issuer} · {title}") for award, badge, title, platform, issuer in db.session.execute(
        select(BadgeAward, BadgeClass, Course.title, Platform.name, Platform.issuer)
        .join(BadgeClass, BadgeClass.id == BadgeAward.badge_id).join(Course, Course.id == BadgeAward.course_id)
        .join(Platform, Platform.id == Course.platform_id)
        .where(BadgeAward.user_id.in_(others), BadgeAward.organisation_id == organisation_id,
               BadgeAward.revoked_at.is_(None)).order_by(BadgeAward.awarded_at.desc()))]


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
            BadgeAward.source_type == source_type, BadgeAward.source_id == source_id,
            BadgeAward.revoked_at.is_(None))))


def active_badge_ids(organisation_id: int) -> set[int]:
    return set(db.session.scalars(select(BadgeClass.id).where(
        BadgeClass.organisation_id == organisation_id, BadgeClass.active.is_(True))))


def active_badges(organisation_id: int) -> list[BadgeClass]:
    return list(db.session.scalars(select(BadgeClass).where(
        BadgeClass.organisation_id == organisation_id, BadgeClass.active.is_(True)).order_by(BadgeClass.name)))


def manual_badges(organisation_id: int) -> list[BadgeClass]:
    """The active badges managers give by their own decision (a manual award, a challenge's completion); a rule's
    badge has criteria of its own."""
    return [badge for badge in active_badges(organisation_id) if badge.manual]


def all_badges(organisation_id: int) -> list[BadgeClass]:
    return list(db.session.scalars(select(BadgeClass).where(BadgeClass.organisation_id == organisation_id)
                                   .order_by(BadgeClass.name)))


COLOUR = re.compile(r"#[0-9a-fA-F]{6}")  # fullmatch: "$" would let a final newline through


def save_badge(actor, badge_id: int | None, *, name: str, description: str, criteria: str, colour: str,
               manual: bool, active: bool, now: datetime, image: tuple[bytes, str] | None = None,
               remove_image: bool = False, pillar_ids: list[int] | None = None) -> BadgeClass:
    """Create or edit a badge class (admins). Awards already made keep pointing at it. `pillar_ids`, when
    given, replaces the badge's alignment to its organisation's vision pillars."""
    from plugin.audit.service import record

    if not actor.can_administer:
        raise Forbidden(_("Only the organisation's administrators edit badges."))
    name = tidy_name(name)
    errors = {}
    if not 2 <= len(name) <= 200:
        errors["name"] = [_("%(min)s to %(max)s characters.", min=2, max=200)]
    if not COLOUR.fullmatch(colour or ""):
        errors["colour"] = [_("A colour like %(example)s.", example="#2b8a3e")]
    if errors:
        raise InvalidInput(_("The badge needs some changes."), errors=errors)
    if badge_id:
        badge = db.session.get(BadgeClass, badge_id)
        if badge is None or badge.organisation_id != actor.organisation_id:
            raise NotFound(_("No such badge."))
    _refuse_taken_name(actor.organisation_id, name, badge_id)
    if not badge_id:
        badge = BadgeClass(organisation_id=actor.organisation_id, slug=_free_slug(actor.organisation_id, name),
                           created_at=now)
        db.session.add(badge)
    badge.name, badge.description, badge.criteria = name, (description or "").strip(), (criteria or "").strip()
    badge.colour, badge.manual, badge.active = colour, manual, active
    if image is not None:
        badge.image, badge.image_type = check_upload(*image)
    elif remove_image:
        badge.image, badge.image_type = None, None
    db.session.flush()
    if pillar_ids is not None:
        from plugin.badges.openbadges import set_alignment

        set_alignment(badge, pillar_ids)
    record(actor, "badge.saved", "badge_class", badge.id, {"name": name}, now, course_scoped=False)
    return badge


def _refuse_taken_name(organisation_id: int, name: str, badge_id: int | None) -> None:
    """A badge's name is its own whatever its case ("İleri" is "ileri"), on creating and on renaming. It was told
    by the slug, which keeps ASCII letters only: "İleri" beside "ileri" passed, and "Πρωτοπόρος" after "Εξερευνητής"
    (both "badge") was refused as the same name. Badge changes take turns on the organisation's row."""
    from plugin.tenancy.service import lock_organisation

    lock_organisation(organisation_id)
    wanted = text_fold.key(name)
    names = db.session.execute(select(BadgeClass.id, BadgeClass.name).where(
        BadgeClass.organisation_id == organisation_id)).all()
    if any(text_fold.key(other) == wanted for other_id, other in names if other_id != badge_id):
        raise Conflict(_("There is already a badge called “%(name)s”.", name=name), errors={
            "name": [_("There is already a badge called “%(name)s”.", name=name)]})


def _free_slug(organisation_id: int, name: str) -> str:
    """The name in ASCII letters for file names and webhooks ("badge" when none is left), made unique."""
    base = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:90] or "badge"
    taken = set(db.session.scalars(select(BadgeClass.slug).where(BadgeClass.organisation_id == organisation_id,
                                                                 BadgeClass.slug.like(f"{base}%"))))
    return next(slug for slug in (base if n == 1 else f"{base}-{n}" for n in range(1, len(taken) + 2))
                if slug not in taken)


def badge_image(badge_id: int, language: str | None = None) -> tuple[bytes, str] | None:
    """The badge's image (uploaded, or generated from name and colour); public, like Open Badges images.
    `language` (a supported one): a generated image of a badge Tinker seeded shows the initials and title of its
    name in that language, as the pages beside it name it ("İD" for "İlk deneme", not "FE")."""
    badge = db.session.get(BadgeClass, badge_id)
    if badge is None:
        return None
    if badge.image:
        return badge.image, badge.image_type
    name = badge.name
    if language is not None:
        from flask_babel import force_locale

        from plugin.onboarding.names import seeded

        with force_locale(language):
            name = seeded(badge.name)
    return default_svg(name, badge.colour), "image/svg+xml"


def course_awards(actor, *, user_id: int | None = None, before_id: int | None = None,
                  limit: int = 50) -> list[tuple[BadgeAward, BadgeClass]]:
    """Awards in the actor's course, newest first: staff see everyone's (revoked ones too), others their own."""
    if not actor.can_manage:
        user_id = actor.user_id
    query = select(BadgeAward, BadgeClass).join(BadgeClass, BadgeClass.id == BadgeAward.badge_id).where(
        BadgeAward.course_id == actor.course_id)
    if not actor.can_manage:
        query = query.where(BadgeAward.revoked_at.is_(None))
    if user_id is not None:
        query = query.where(BadgeAward.user_id == user_id)
    if before_id is not None:
        query = query.where(BadgeAward.id < before_id)
    return list(db.session.execute(query.order_by(BadgeAward.id.desc()).limit(limit)))
