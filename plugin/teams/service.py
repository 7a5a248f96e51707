"""Teams in a course."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

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
