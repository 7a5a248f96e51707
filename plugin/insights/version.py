"""A cheap data version: what the ETags of boards, team progress and insights derive from, so a client's
unchanged copy is confirmed without building the report (and without reading the ledger: BENCH B6).

One statement of O(1) index lookups:
- the newest ledger entry, badge award, experiment, audit event and membership of the whole installation,
  read off their primary keys (new facts);
- the newest `data_change` row (plugin/insights/changes.py): one per transaction that edited something these
  answers show without adding such a row (an experiment's edit, a membership's status, a name, an opt-out,
  a setting, a team, a challenge...);
- the course's next challenge start or end after now (a challenge opening or closing changes progress);
- the organisation's time zone and the day in it (weeks and months roll over at local midnight). The zone is
  in the tag itself, not only through the day: the answer reuses the zone this statement read (remember_time_zone)
  and is read later, under its own snapshot. Whatever an answer takes from a read made before its own reads (this
  statement, the caller's actor, whose role the API puts in the tag) must be in the tag, or a change
  that commits between the two reads (its change row overtaken by a later one) would be confirmed with 304 under
  the stale value until the next write;
- PostgreSQL: the transactions that may still add rows below the ids read. A sequence hands out ids when a transaction
  asks for them, not when it commits, and an award draws its ids in its preflight: a transaction that drew a lower id
  can commit after one with a higher id. Read between the two commits, the max ids already name the later one, and the
  earlier one's commit would not move them: a client's copy missing its rows would be confirmed with 304 until the
  next write anywhere. So the version names the other transactions holding one of these ids' sequences (nextval locks
  it until the transaction ends; see _RUNNING for why that is enough). A transaction that writes none of these tables
  (a token's last use, a rate window, a session) is not in it: it moves nothing, as on SQLite.
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
    remember_time_zone(organisation_id, zone)  # the report, when one is built, asks no more: so the zone is in the tag
    return (*version, zone, now.astimezone(time_zone(organisation_id)).date().isoformat())


# The sequences of the tables whose newest ids are in the version (PostgreSQL serial columns).
_SEQUENCES = tuple(f"{model.__tablename__}_id_seq"
                   for model in (LedgerEntry, BadgeAward, Experiment, AuditEvent, Membership, DataChange))

# PostgreSQL. Why the holders of the sequences are enough: the app's transactions are read committed (config.py), and an
# answer is read after its version (plugin/api/spec.py weak_etag, "first thing in a GET"), so under a later snapshot.
# Let V0 be read (snapshot S0, then the lock table at L0) before a copy C that lacks a transaction T's rows, and V1 be
# read later. If T drew its ids before L0, T had not committed at L0 (C, read after L0, lacks its rows), so it still
# held its sequence lock then: V0 names T by its virtual transaction id. V1 differs from V0 once T ended (T's name is
# gone; a transaction that committed but has not yet released its locks shows as "N/0", still a change), and while T
# still runs V1 may equal V0, rightly: C and V1's answer both lack T's rows. If T drew after L0, its ids are higher than
# any S0 saw (sequences hand ids out in order: CACHE 1, tests/services/test_data_version.py): once V1's snapshot sees
# T's rows, its max ids differ. If T commits between V1's snapshot and its lock read, V1 may equal V0, and rightly: as
# of V1's snapshot C was current, and the next request's version sees T's rows (an answer built under V1 is read after T
# committed, so a copy tagged V1 lacks nothing, but for what it reuses from V1's own statement: hence the zone in the
# tag). Under repeatable read an answer would share its version's snapshot and T could end unnamed between S0 and L0:
# hence the pinned isolation level. A prepared transaction (two-phase commit, which the app never uses) keeps its locks
# with no pid and is named like any other; its COMMIT PREPARED could in principle leave the 304s sent in that instant
# stale, corrected by the next version. This session's own transaction is left out: what it wrote, its snapshot sees.
# Locks of other databases of the same server are not read.
_RUNNING = literal_column(f"""(
    SELECT string_agg(DISTINCT l.virtualtransaction, ',')
    FROM pg_lock_status() AS l
    WHERE l.locktype = 'relation' AND l.pid IS DISTINCT FROM pg_backend_pid()
      AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND l.relation IN ({", ".join(f"'{name}'::regclass" for name in _SEQUENCES)}))""")


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
