"""Teams in a course."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select

from plugin.core.db import insert_ignore
from plugin.extensions import db
from plugin.teams.models import Team, TeamMember


def ensure_team(course_id: int, name: str, now: datetime) -> Team:
    insert_ignore(db.session, Team.__table__, {"course_id": course_id, "name": name, "created_at": now},
                  ["course_id", "name"])
    return db.session.scalar(select(Team).where(Team.course_id == course_id, Team.name == name))


def add_member(team: Team, user_id: int) -> None:
    if db.session.get(TeamMember, (team.id, user_id)) is None:
        db.session.add(TeamMember(team_id=team.id, user_id=user_id))
        db.session.flush()


def teams_of(course_id: int, user_id: int) -> list[Team]:
    return list(db.session.scalars(select(Team).join(TeamMember, TeamMember.team_id == Team.id).where(
        Team.course_id == course_id, TeamMember.user_id == user_id).order_by(Team.name)))


def teammate_ids_subquery(course_id: int, user_id: int):
    """Users sharing at least one team with user_id in course_id (a subquery for IN filters)."""
    mine = select(TeamMember.team_id).join(Team, Team.id == TeamMember.team_id).where(
        Team.course_id == course_id, TeamMember.user_id == user_id)
    return select(TeamMember.user_id).where(TeamMember.team_id.in_(mine))


@dataclass
class TeamCounts:
    teams: int = 0
    created: int = 0
    joined: int = 0
    left: int = 0


def sync_lms_teams(course_id: int, groups: dict[str, str], members: dict[str, set[int]], now: datetime) -> TeamCounts:
    """Mirror LMS groups (external id -> name; external id -> user ids) as teams of the course.

    Only teams that carry an external id are changed: a manager's own teams are never touched. A group the
    LMS no longer lists keeps its team (history refers to it) but loses its members.
    """
    counts = TeamCounts(teams=len(groups))
    lms_teams = {t.external_id: t for t in db.session.scalars(
        select(Team).where(Team.course_id == course_id, Team.external_id.is_not(None)))}
    taken = set(db.session.scalars(select(Team.name).where(Team.course_id == course_id)))
    for external_id, name in groups.items():
        team = lms_teams.get(external_id)
        wanted = (name or f"Group {external_id}")[:190]
        if team is None:
            unique = wanted if wanted not in taken else f"{wanted} (LMS {external_id})"[:200]
            team = Team(course_id=course_id, name=unique, external_id=external_id, created_at=now)
            db.session.add(team)
            db.session.flush()
            lms_teams[external_id] = team
            counts.created += 1
        elif team.name != wanted and wanted not in taken:
            taken.discard(team.name)
            team.name = wanted
        taken.add(team.name)
    for external_id, team in lms_teams.items():
        wanted_ids = members.get(external_id, set()) if external_id in groups else set()
        current = set(db.session.scalars(select(TeamMember.user_id).where(TeamMember.team_id == team.id)))
        for user_id in wanted_ids - current:
            db.session.add(TeamMember(team_id=team.id, user_id=user_id))
        if current - wanted_ids:
            db.session.execute(delete(TeamMember).where(TeamMember.team_id == team.id,
                                                        TeamMember.user_id.in_(current - wanted_ids)))
        counts.joined += len(wanted_ids - current)
        counts.left += len(current - wanted_ids)
    db.session.flush()
    return counts
