"""Awards as CSV for audits and re-issuing elsewhere: recipient, badge, date, status, hosted assertion URL.
Written by plugin/core/spreadsheet.py: formula-like cells quoted (CSV injection); the download starts with a
byte-order mark for spreadsheet programs, the command line's output (`flask badges export`) does not."""
from __future__ import annotations

from typing import Iterator

from sqlalchemy import select

from plugin.badges.models import BadgeAward, BadgeClass
from plugin.badges.openbadges import Urls, iso
from plugin.badges.recipients import recipient_of
from plugin.core.actor import Actor
from plugin.core.spreadsheet import csv_text
from plugin.errors import Forbidden
from plugin.extensions import db
from plugin.i18n import gettext as _
from plugin.tenancy.models import Course, User

COLUMNS = ["award_id", "recipient_name", "recipient_identity", "identity_type", "identity_source", "badge",
           "course", "awarded_on", "status", "revoked_on", "revocation_reason", "assertion_url"]


def award_rows(organisation_id: int, urls: Urls) -> Iterator[list[str]]:
    query = (select(BadgeAward, BadgeClass, User, Course)
             .join(BadgeClass, BadgeClass.id == BadgeAward.badge_id).join(User, User.id == BadgeAward.user_id)
             .join(Course, Course.id == BadgeAward.course_id)
             .where(BadgeAward.organisation_id == organisation_id).order_by(BadgeAward.awarded_at, BadgeAward.id))
    for award, badge, user, course in db.session.execute(query):
        identity = recipient_of(user, urls.base)
        yield [award.id, user.display_name, identity.value if identity.claimed else "", identity.kind,
               identity.source, badge.name, course.title or course.context_id, iso(award.awarded_at),
               "revoked" if award.revoked_at else "active", iso(award.revoked_at) if award.revoked_at else "",
               award.revoked_reason or "", urls.assertion(award.public_id)]


def export_csv(organisation_id: int, urls: Urls, *, bom: bool = False) -> str:
    return csv_text(COLUMNS, award_rows(organisation_id, urls), bom=bom)


def export_for(actor: Actor, urls: Urls) -> str:
    if not actor.can_administer:
        raise Forbidden(_("Only the organisation's administrators export badge awards."))
    return export_csv(actor.organisation_id, urls, bom=True)
