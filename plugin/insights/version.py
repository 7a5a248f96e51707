"""A cheap data version for a course (or organisation): what ETags of boards, progress and insights derive from,
so a client's unchanged copy is confirmed without building the report.

One statement of indexed lookups: the newest ledger entry, badge award, experiment and audit event (team,
challenge, board and privacy changes are audited), the newest membership and how many count, opt-outs and
team members. Anything that writes none of these (an experiment's later edit, say) shows within the hour:
callers add the current hour, which also rolls week and month periods over.
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
from plugin.teams.models import Team, TeamMember
from plugin.tenancy.models import Course, Membership, counted_membership


def _newest(column, where):
    return select(func.max(column)).where(where).scalar_subquery()


def data_version(organisation_id: int, course_id: int | None, now: datetime) -> tuple:
    """Changes whenever a board, a team's progress or an insights table of the course (None: of the
    organisation) may have changed, and at least every hour."""
    if course_id is None:
        in_scope = {"ledger": LedgerEntry.organisation_id == organisation_id,
                    "award": BadgeAward.organisation_id == organisation_id,
                    "experiment": Experiment.organisation_id == organisation_id,
                    "course": Membership.course_id.in_(select(Course.id).where(
                        Course.organisation_id == organisation_id)),
                    "opt_out": BoardOptOut.course_id.in_(select(Course.id).where(
                        Course.organisation_id == organisation_id))}
    else:
        in_scope = {"ledger": LedgerEntry.course_id == course_id, "award": BadgeAward.course_id == course_id,
                    "experiment": Experiment.course_id == course_id, "course": Membership.course_id == course_id,
                    "opt_out": BoardOptOut.course_id == course_id}
    teams = select(Team.id).where(Team.course_id == course_id) if course_id is not None else select(Team.id).join(
        Course, Course.id == Team.course_id).where(Course.organisation_id == organisation_id)
    row = db.session.execute(select(
        _newest(LedgerEntry.id, in_scope["ledger"]),
        _newest(BadgeAward.id, in_scope["award"]),
        _newest(Experiment.id, in_scope["experiment"]),
        _newest(AuditEvent.id, AuditEvent.organisation_id == organisation_id),
        _newest(Membership.id, in_scope["course"]),
        select(func.count()).where(in_scope["course"], counted_membership()).scalar_subquery(),
        select(func.count()).where(in_scope["opt_out"]).scalar_subquery(),
        select(func.count()).where(TeamMember.team_id.in_(teams)).scalar_subquery(),
    )).one()
    return (*row, now.strftime("%Y-%m-%dT%H"))
