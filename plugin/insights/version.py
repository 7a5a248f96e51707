"""A cheap data version: what the ETags of boards, team progress and insights derive from, so a client's
unchanged copy is confirmed without building the report (and without reading the ledger: BENCH B6).

One statement of O(1) lookups: the newest ledger entry, badge award, experiment, audit event (team, challenge,
board-setting, revocation and privacy changes are audited) and membership of the whole installation, read off
their primary keys; the course's last roster sync; how many people hid their names. Installation-wide ids
change more often than the course's data (a 200 where a 304 could have been), never less often. A change that
writes none of these (an experiment's later edit) shows within the hour: the current hour is part of the
version, which also rolls week and month periods over.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from plugin.audit.models import AuditEvent
from plugin.badges.models import BadgeAward
from plugin.experiments.models import Experiment
from plugin.extensions import db
from plugin.leaderboards.models import BoardOptOut
from plugin.ledger.models import LedgerEntry
from plugin.tenancy.models import Course, Membership


def data_version(course_id: int, now: datetime) -> tuple:
    """Changes whenever a board, a team's progress or an insights table of the course (or of its
    organisation) may have changed, and at least every hour."""
    return (*db.session.execute(version_query(course_id)).one(), now.strftime("%Y-%m-%dT%H"))


def version_query(course_id: int):
    return select(
        select(func.max(LedgerEntry.id)).scalar_subquery(),
        select(func.max(BadgeAward.id)).scalar_subquery(),
        select(func.max(Experiment.id)).scalar_subquery(),
        select(func.max(AuditEvent.id)).scalar_subquery(),
        select(func.max(Membership.id)).scalar_subquery(),
        select(Course.roster_sync_at).where(Course.id == course_id).scalar_subquery(),
        select(func.count()).select_from(BoardOptOut).scalar_subquery())
