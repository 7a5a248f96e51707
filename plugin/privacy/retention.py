"""How long experiment free text is kept: an admin sets a number of days (None keeps it for ever), and
purge_expired(now) blanks the text of older experiments. Ids, outcomes, minutes saved, tools, categories and
the points they earned all stay: rules and replays read structured facts only, so nothing is recomputed.

Run by `flask privacy purge` and by `flask outbox run` (the operator's every-minute cron), so nothing extra
needs scheduling; the update is a no-op once the old text is gone.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from marshmallow import Schema
from sqlalchemy import select, update

from plugin.audit.service import record, record_system
from plugin.core.actor import Actor
from plugin.errors import Forbidden
from plugin.experiments.models import Experiment
from plugin.extensions import db
from plugin.i18n import gettext as _
from plugin.i18n import lazy_gettext as _l
from plugin.settings.fields import whole
from plugin.settings.models import OrganisationSettings
from plugin.settings.service import limits_row

PURGED_TITLE = "[text removed after the retention period]"
MAX_DAYS = 3650


class RetentionIn(Schema):
    days = whole(1, MAX_DAYS, required=True, allow_none=True,
                 range_error=_l("Between 1 and 3650 days, or empty to keep."))


def retention_days(organisation_id: int) -> int | None:
    return db.session.scalar(select(OrganisationSettings.experiment_text_retention_days).where(
        OrganisationSettings.organisation_id == organisation_id))


def set_retention(actor: Actor, days: int | None, now: datetime) -> int | None:
    if not actor.can_administer:
        raise Forbidden(_("Only the organisation's administrators set the retention period."))
    row = limits_row(actor.organisation_id, lock=True)
    before = row.experiment_text_retention_days
    if before != days:
        row.experiment_text_retention_days = days
        db.session.flush()
        record(actor, "privacy.retention_changed", "organisation", actor.organisation_id,
               {"experiment_text_retention_days": [before, days]}, now, course_scoped=False)
    return days


def purge_expired(now: datetime) -> dict[int, int]:
    """Blank the text of experiments older than their organisation's retention period: {organisation: count}."""
    purged: dict[int, int] = {}
    settings = db.session.execute(select(OrganisationSettings.organisation_id,
                                         OrganisationSettings.experiment_text_retention_days)
                                  .where(OrganisationSettings.experiment_text_retention_days.is_not(None))).all()
    for organisation_id, days in settings:
        cutoff = now - timedelta(days=days)
        count = db.session.execute(
            update(Experiment).where(Experiment.organisation_id == organisation_id, Experiment.created_at < cutoff,
                                     Experiment.text_purged_at.is_(None))
            .values(title=PURGED_TITLE, tried="", learned="", text_purged_at=now)
            .execution_options(synchronize_session=False)).rowcount or 0
        if count:
            purged[organisation_id] = count
            record_system(organisation_id, "privacy.text_purged", "organisation", organisation_id,
                          {"experiments": count, "older_than_days": days}, now)
    return purged
