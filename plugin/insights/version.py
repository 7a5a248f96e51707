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
- PostgreSQL: the transactions that may still add rows below the ids read. A sequence hands out ids when a transaction
  asks for them, not when it commits, and an award draws its ids in its preflight: a transaction that drew a lower id
  can commit after one with a higher id. Read between the two commits, the max ids already name the later one, and the
  earlier one's commit would not move them: a client's copy missing its rows would be confirmed with 304 until the
  next write anywhere. So the version names (see _RUNNING) the other transactions holding one of these ids' sequences
  (nextval locks it until the transaction ends) and those its snapshot could not see that have ended since. A
  transaction that writes none of these tables (a token's last use, a rate window, a session) is not in it: it moves
  nothing, as on SQLite.
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


# The sequences of the tables whose newest ids are in the version (PostgreSQL serial columns).
_SEQUENCES = tuple(f"{model.__tablename__}_id_seq"
                   for model in (LedgerEntry, BadgeAward, Experiment, AuditEvent, Membership, DataChange))

# PostgreSQL 13+. Let S be the statement's snapshot, taken before it runs; the lock table is read after it. A
# transaction T that drew an id lower than one S sees, and whose rows S cannot see, is
# - either still running when the lock table is read: it holds the sequence it drew from (nextval takes a lock on it
#   that is held until T ends; a prepared transaction keeps it, with no pid) and is in `holders` by its virtual id;
# - or it has ended since S: it was running when S was taken and had a transaction id by then, since every id is drawn
#   after the drawer's transaction id is assigned (migration 0049's column defaults, the award preflight's
#   `pg_current_xact_id()`), so it is in S's in-progress list; pg_xact_status no longer says "in progress". The
#   correlation `h.taken` makes that list be read after the lock table (a lock is released after its transaction
#   stops being in progress, so none falls between the two reads).
# This session's own transaction is left out: what it wrote, its snapshot sees. Transactions of other databases are
# never holders and are named only when they end in the instant between the two reads.
_RUNNING = literal_column(f"""(WITH holders AS MATERIALIZED (
    SELECT clock_timestamp() AS taken, string_agg(DISTINCT l.virtualtransaction, ',') AS list
    FROM pg_lock_status() AS l
    WHERE l.locktype = 'relation' AND l.pid IS DISTINCT FROM pg_backend_pid()
      AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND l.relation IN ({", ".join(f"'{name}'::regclass" for name in _SEQUENCES)}))
  SELECT concat(h.list, '|', (SELECT string_agg(x::text, ',' ORDER BY x)
                              FROM pg_snapshot_xip(pg_current_snapshot()) AS x
                              WHERE h.taken IS NOT NULL AND pg_xact_status(x) <> 'in progress'))
  FROM holders AS h)""")


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
