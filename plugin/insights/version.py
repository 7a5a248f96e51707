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
- PostgreSQL: the transactions of this database still running when the version is read (their ids: those its
  snapshot cannot see, and those the server reports running). A sequence hands out ids when a transaction asks for
  them, not when it commits, and an award draws its ids in its preflight: a transaction that drew a lower id can
  commit after one with a higher id. Read between the two commits, the max ids already name the later one, and the
  earlier one's commit would not move them: a client's copy missing its rows would be confirmed with 304 until the
  next write anywhere. While it runs it is in the version; once it has ended it is not, so the version moves.
  (SQLite: one writer at a time, so ids are drawn in commit order.)

Installation-wide ids change more often than the course's data (a 200 where a 304 could have been), never
less often. No hour: nothing these answers show changes with the clock except the challenge and day items.
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


# The transactions of this database running, PostgreSQL 13+ (their 32-bit ids, as pg_stat_get_activity reports):
# - the in-progress ids of the statement's own snapshot (exactly those below its xmax whose rows it cannot see),
#   less those of sessions connected to other databases of the server (their writes are not here: a busy neighbour
#   must not move every tag; a session whose status cannot be read stays in: the tag moves more often, never less);
# - and the sessions of this database holding an id, whatever its value: one drawn after the snapshot's xmax is
#   running as far as the snapshot knows, though no list of the snapshot's names it.
_RUNNING = literal_column("""(SELECT string_agg(running.xid, ',' ORDER BY running.xid) FROM (
    SELECT mod(x::text::bigint, 4294967296)::text FROM pg_snapshot_xip(pg_current_snapshot()) AS x
    EXCEPT SELECT a.backend_xid::text FROM pg_stat_get_activity(NULL) AS a
      WHERE a.backend_xid IS NOT NULL AND a.datid IS DISTINCT FROM (SELECT oid FROM pg_database
                                                                  WHERE datname = current_database())
    UNION SELECT a.backend_xid::text FROM pg_stat_get_activity(NULL) AS a
      WHERE a.backend_xid IS NOT NULL AND a.pid <> pg_backend_pid()
        AND a.datid = (SELECT oid FROM pg_database WHERE datname = current_database())) AS running(xid))""")


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
