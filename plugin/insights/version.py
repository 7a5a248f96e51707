"""A cheap data version: what the ETags of boards, team progress and insights derive from, so a client's
unchanged copy is confirmed without building the report (and without reading the ledger: BENCH B6).

One statement of O(1) index lookups:
- the newest ledger entry, badge award, experiment, audit event and membership of the whole installation,
  read off their primary keys (new facts);
- the newest `data_change` row (plugin/insights/changes.py): one per transaction that edited something these
  answers show without adding such a row (an experiment's edit, a membership's status, a name, an opt-out,
  a setting, a team, a challenge...);
- the course's next challenge start or end after now (a challenge opening or closing changes progress);
- the day in the organisation's time zone (weeks and months roll over at local midnight);
- PostgreSQL: the transactions still running when the version is read (their ids, from the snapshot). A sequence
  hands out ids when a transaction asks for them, not when it commits, and an award draws its ids in its preflight:
  a transaction that drew a lower id can commit after one with a higher id. Read between the two commits, the max ids
  already name the later one, and the earlier one's commit would not move them: a client's copy missing its rows
  would be confirmed with 304 until the next write anywhere. While it runs it is in the version; once it has ended it
  is not, so the version moves. (SQLite: one writer at a time, so ids are drawn in commit order.)

Installation-wide ids change more often than the course's data (a 200 where a 304 could have been), never
less often. No hour: nothing these answers show changes with the clock except the last two items.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, literal_column, null, select

from plugin.audit.models import AuditEvent
from plugin.badges.models import BadgeAward
from plugin.challenges.models import Challenge
from plugin.core.db import dialect_name
from plugin.experiments.models import Experiment
from plugin.extensions import db
from plugin.insights.models import DataChange
from plugin.ledger.models import LedgerEntry
from plugin.settings.models import OrganisationSettings
from plugin.settings.service import remember_time_zone, time_zone
from plugin.tenancy.models import Course, Membership


def data_version(course_id: int, now: datetime) -> tuple:
    """Changes whenever a board, a team's progress or an insights table of the course (or of its
    organisation) may have changed."""
    *version, organisation_id, zone = db.session.execute(version_query(course_id, now)).one()
    remember_time_zone(organisation_id, zone)  # the report, when one is built, asks no more
    return (*version, now.astimezone(time_zone(organisation_id)).date().isoformat())


# The transactions running (PostgreSQL 13+: the snapshot's in-progress ids, kept sorted by the server).
_RUNNING = literal_column("(SELECT string_agg(x::text, ',' ORDER BY x) FROM pg_snapshot_xip(pg_current_snapshot()) AS x)")


def version_query(course_id: int, now: datetime):
    organisation = select(Course.organisation_id).where(Course.id == course_id).scalar_subquery()
    running = _RUNNING if dialect_name(db.session) == "postgresql" else null()
    return select(
        running,
        select(func.max(LedgerEntry.id)).scalar_subquery(),
        select(func.max(BadgeAward.id)).scalar_subquery(),
        select(func.max(Experiment.id)).scalar_subquery(),
        select(func.max(AuditEvent.id)).scalar_subquery(),
        select(func.max(Membership.id)).scalar_subquery(),
        select(func.max(DataChange.id)).scalar_subquery(),
        select(func.min(Challenge.starts_at)).where(Challenge.course_id == course_id,
                                                    Challenge.starts_at > now).scalar_subquery(),
        select(func.min(Challenge.ends_at)).where(Challenge.course_id == course_id,
                                                  Challenge.ends_at > now).scalar_subquery(),
        organisation,
        select(OrganisationSettings.time_zone).where(
            OrganisationSettings.organisation_id == organisation).scalar_subquery())
