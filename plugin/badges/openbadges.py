"""Open Badges 2.0 documents: the Issuer profile, BadgeClasses, Assertions and the revocation list.

Every id is a stable URL under the tool's public base URL (TINKER_BASE_URL): hosted verification compares
the assertion's origin with the issuer's exactly. Builders are pure over the rows they are given.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import select

from plugin.badges.images import check_upload
from plugin.badges.models import BadgeAward, BadgeClass, BadgePillar, Issuer
from plugin.badges.recipients import recipient_of
from plugin.core.actor import Actor
from plugin.core.db import insert_ignore
from plugin.errors import Forbidden, InvalidInput, NotFound
from plugin.extensions import db
from plugin.i18n import gettext as _
from plugin.tenancy.models import Organisation, User
from plugin.vision.models import Pillar

OB2_CONTEXT = "https://w3id.org/openbadges/v2"
# What anyone reading a revoked assertion or the revocation list learns: the reason a manager typed (or a revoked
# kudos's, copied to the badges it had earned) stays in the audit log and the course's pages, never public.
PUBLIC_REVOCATION_REASON = "Revoked by the issuer"
JSONLD = "application/ld+json"


@dataclass(frozen=True)
class Urls:
    base: str

    def issuer(self, organisation_id: int) -> str:
        return f"{self.base}/ob/v2/issuers/{organisation_id}"

    def issuer_image(self, organisation_id: int) -> str:
        return f"{self.issuer(organisation_id)}/image"

    def pillar(self, organisation_id: int, pillar_id: int) -> str:
        return f"{self.issuer(organisation_id)}/pillars/{pillar_id}"

    def revocations(self, organisation_id: int) -> str:
        return f"{self.issuer(organisation_id)}/revocations"

    def badge(self, badge_id: int) -> str:
        return f"{self.base}/ob/v2/badges/{badge_id}"

    def image(self, badge_id: int, image_type: str | None = None) -> str:
        if image_type in ("image/jpeg", "image/webp"):  # verifiers accept PNG and SVG only
            return f"{self.badge(badge_id)}/image.png"
        return f"{self.base}/badges/{badge_id}/image"

    def assertion(self, public_id: str) -> str:
        return f"{self.base}/ob/v2/assertions/{public_id}"

    def evidence(self, public_id: str) -> str:
        return f"{self.assertion(public_id)}/evidence"

    def baked(self, public_id: str, fmt: str) -> str:
        return f"{self.assertion(public_id)}/baked.{fmt}"


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


# -- issuer profile ---------------------------------------------------------------------------------------

def issuer_of(organisation_id: int, base: str) -> Issuer:
    """The organisation's issuer profile; an unsaved default (its name, the tool's URL) until an admin edits it."""
    issuer = db.session.get(Issuer, organisation_id)
    if issuer is None:
        org = db.session.get(Organisation, organisation_id)
        if org is None:
            raise NotFound(_("No such issuer."))
        issuer = Issuer(organisation_id=organisation_id, name=org.name, url=base, email="", description="")
    return issuer


def save_issuer(actor: Actor, data: dict, now: datetime, image: tuple[bytes, str] | None = None,
                remove_image: bool = False) -> Issuer:
    """Admins edit the issuer profile (data loaded by IssuerIn); `image` is an upload (bytes, filename),
    checked and sanitised exactly as badge images are."""
    from plugin.audit.service import record

    if not actor.can_administer:
        raise Forbidden(_("Only the organisation's administrators edit the issuer profile."))
    if not data["url"].startswith(("https://", "http://")):
        raise InvalidInput(_("The issuer's web site must be an http(s) address."), errors={"url": [_("An http(s) URL.")]})
    # Made if missing and read locked: a second save at once (a double click the first time) waits and updates the
    # first's row, instead of failing on its key.
    insert_ignore(db.session, Issuer.__table__, {"organisation_id": actor.organisation_id, "name": data["name"].strip(),
                                                 "updated_at": now}, ["organisation_id"], returning=False)
    issuer = db.session.get(Issuer, actor.organisation_id, with_for_update=True, populate_existing=True)
    issuer.name, issuer.url, issuer.email = data["name"].strip(), data["url"].strip(), data["email"].strip()
    issuer.description, issuer.updated_at = data.get("description", "").strip(), now
    if image is not None:
        issuer.image, issuer.image_type = check_upload(*image)
    elif remove_image:
        issuer.image, issuer.image_type = None, None
    db.session.flush()
    record(actor, "badge_issuer.saved", "organisation", actor.organisation_id, {"name": issuer.name}, now,
           course_scoped=False)
    return issuer


# -- documents --------------------------------------------------------------------------------------------

def issuer_document(organisation_id: int, urls: Urls) -> dict:
    issuer = issuer_of(organisation_id, urls.base)
    doc = {"@context": OB2_CONTEXT, "type": "Issuer", "id": urls.issuer(organisation_id), "name": issuer.name,
           "url": issuer.url or urls.base, "revocationList": urls.revocations(organisation_id)}
    if issuer.email:
        doc["email"] = issuer.email
    if issuer.description:
        doc["description"] = issuer.description
    if issuer.image_type:
        doc["image"] = urls.issuer_image(organisation_id)
    return doc


def issuer_image(organisation_id: int) -> tuple[bytes, str] | None:
    """The issuer's uploaded image as served publicly: PNG and SVG as stored, JPEG/WebP as a PNG rendition
    (verifiers take PNG or SVG only); None when there is none."""
    from plugin.badges.baking import png_source

    row = db.session.execute(select(Issuer.image, Issuer.image_type, Issuer.name).where(
        Issuer.organisation_id == organisation_id)).first()
    if row is None or not row.image or not row.image_type:
        return None
    if row.image_type in ("image/jpeg", "image/webp"):
        return png_source(row.image, row.image_type, row.name, "#000000"), "image/png"
    return row.image, row.image_type


# -- alignment to the AI vision's pillars -----------------------------------------------------------------

def aligned_pillars(badge_id: int) -> list[Pillar]:
    return list(db.session.scalars(select(Pillar).join(BadgePillar, BadgePillar.pillar_id == Pillar.id)
                                   .where(BadgePillar.badge_id == badge_id).order_by(Pillar.position, Pillar.id)))


def aligned_ids(organisation_id: int) -> dict[int, set[int]]:
    """{badge id: its pillar ids} for the organisation's badges (the admin form)."""
    out: dict[int, set[int]] = {}
    for badge_id, pillar_id in db.session.execute(
            select(BadgePillar.badge_id, BadgePillar.pillar_id).join(BadgeClass, BadgeClass.id == BadgePillar.badge_id)
            .where(BadgeClass.organisation_id == organisation_id)):
        out.setdefault(badge_id, set()).add(pillar_id)
    return out


def set_alignment(badge: BadgeClass, pillar_ids: list[int]) -> None:
    """Align the badge to exactly these pillars, all of which must belong to its organisation."""
    wanted = set(pillar_ids)
    if wanted:
        own = set(db.session.scalars(select(Pillar.id).where(Pillar.id.in_(wanted),
                                                             Pillar.organisation_id == badge.organisation_id)))
        if own != wanted:
            raise InvalidInput(_("Badges can only be aligned to your organisation's vision pillars."),
                               errors={"pillars": [_("Not one of your organisation's pillars.")]})
    current = set(db.session.scalars(select(BadgePillar.pillar_id).where(BadgePillar.badge_id == badge.id)))
    for pillar_id in current - wanted:
        db.session.delete(db.session.get(BadgePillar, (badge.id, pillar_id)))
    for pillar_id in sorted(wanted - current):
        db.session.add(BadgePillar(badge_id=badge.id, pillar_id=pillar_id))
    db.session.flush()


def public_pillar(organisation_id: int, pillar_id: int) -> Pillar:
    """A pillar some badge of the organisation is aligned to (others stay private): alignment targets."""
    pillar = db.session.scalar(select(Pillar).join(BadgePillar, BadgePillar.pillar_id == Pillar.id)
                               .join(BadgeClass, BadgeClass.id == BadgePillar.badge_id)
                               .where(Pillar.id == pillar_id, Pillar.organisation_id == organisation_id,
                                      BadgeClass.organisation_id == organisation_id).limit(1))
    if pillar is None:
        raise NotFound(_("No such pillar."))
    return pillar


def revocation_list(organisation_id: int, urls: Urls) -> dict:
    issuer_of(organisation_id, urls.base)  # 404 for an unknown organisation
    rows = db.session.scalars(select(BadgeAward.public_id).where(
        BadgeAward.organisation_id == organisation_id, BadgeAward.revoked_at.is_not(None))
        .order_by(BadgeAward.revoked_at, BadgeAward.id)).all()
    return {"@context": OB2_CONTEXT, "type": "RevocationList", "id": urls.revocations(organisation_id),
            "issuer": urls.issuer(organisation_id),
            "revokedAssertions": [{"id": urls.assertion(pid), "revocationReason": PUBLIC_REVOCATION_REASON}
                                  for pid in rows]}


def badge_class(badge_id: int) -> BadgeClass:
    badge = db.session.get(BadgeClass, badge_id)
    if badge is None:
        raise NotFound(_("No such badge."))
    return badge


def badge_document(badge: BadgeClass, urls: Urls) -> dict:
    criteria = {"id": f"{urls.badge(badge.id)}#criteria",
                "narrative": badge.criteria or f"Awarded in Tinker for {badge.name}."}
    doc = {"@context": OB2_CONTEXT, "type": "BadgeClass", "id": urls.badge(badge.id), "name": badge.name,
           "description": badge.description or badge.name, "image": urls.image(badge.id, badge.image_type),
           "criteria": criteria,
           "issuer": urls.issuer(badge.organisation_id),
           "tags": [t.strip() for t in (badge.tags or "").split(",") if t.strip()]}
    alignment = []
    for pillar in aligned_pillars(badge.id):
        target = {"targetName": pillar.name, "targetUrl": urls.pillar(badge.organisation_id, pillar.id)}
        if pillar.description:
            target["targetDescription"] = pillar.description
        alignment.append(target)
    if alignment:
        doc["alignment"] = alignment
    return doc


@dataclass(frozen=True)
class Hosted:
    award: BadgeAward
    badge: BadgeClass
    user: User


def hosted(public_id: str) -> Hosted:
    row = db.session.execute(
        select(BadgeAward, BadgeClass, User).join(BadgeClass, BadgeClass.id == BadgeAward.badge_id)
        .join(User, User.id == BadgeAward.user_id).where(BadgeAward.public_id == public_id)).first()
    if row is None:
        raise NotFound(_("No such badge assertion."))
    return Hosted(*row)


def assertion_document(found: Hosted, urls: Urls) -> dict:
    award = found.award
    doc = {"@context": OB2_CONTEXT, "type": "Assertion", "id": urls.assertion(award.public_id),
           "recipient": recipient_of(found.user, urls.base).ob2(), "badge": urls.badge(award.badge_id),
           "issuedOn": iso(award.awarded_at), "verification": {"type": "hosted"},
           "evidence": [{"id": urls.evidence(award.public_id),
                         "narrative": f"Earned {found.badge.name} in Tinker."}]}
    if award.revoked_at is not None:
        doc["revoked"] = True
        doc["revocationReason"] = PUBLIC_REVOCATION_REASON
    return doc


def assertion_for_award(award_id: int, organisation_id: int) -> BadgeAward:
    award = db.session.get(BadgeAward, award_id)
    if award is None or award.organisation_id != organisation_id:
        raise NotFound(_("No such badge award."))
    return award
