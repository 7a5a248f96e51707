"""Teams made in Tinker, for the course's managers: create, rename, add and remove members (launch tokens).
Teams mirrored from the LMS are changed in the LMS (403 here, as on the page)."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from plugin.api.auth import guard
from plugin.api.courses import TeamOut
from plugin.api.schemas import Id, Text
from plugin.api.spec import Blueprint
from plugin.core.clock import utcnow
from plugin.extensions import db
from plugin.teams import service as teams
from plugin.teams.schemas import NAME_MAX, MembersIn, TeamIn

blp = Blueprint("api_teams", __name__, url_prefix="/courses/<id:course_id>/teams",
                description="Teams made in Tinker (managers; launch tokens). Reading them: GET /courses/{id}/teams")


class TeamNameIn(TeamIn):
    name = Text(required=True, validate=validate.Length(min=1, max=NAME_MAX),
                metadata={"description": "unique in the course, whatever its case; spaces are tidied"})


class TeamMembersIn(MembersIn):
    user_ids = fields.List(Id(), required=True, validate=validate.Length(min=1, max=500),
                           metadata={"description": "learners of the course"})


class AddedOut(Schema):
    added = fields.List(fields.Integer(), required=True, metadata={"description": "who was not on the team before"})


class RemovedOut(Schema):
    removed = fields.Boolean(required=True, metadata={"description": "false: they were not on the team"})


@blp.route("", methods=["POST"])
@guard(blp)
@blp.arguments(TeamNameIn)
@blp.response(201, TeamOut)
def create_team(actor, data):
    """A new team (409 when the course has one of that name)."""
    team = teams.create_team(actor, data, utcnow())
    db.session.commit()
    return teams.summary_of(team)


@blp.route("/<id:team_id>", methods=["PATCH"])
@guard(blp)
@blp.arguments(TeamNameIn)
@blp.response(200, TeamOut)
def rename_team(actor, data, team_id):
    """Rename a team made in Tinker."""
    team = teams.rename_team(actor, team_id, data, utcnow())
    db.session.commit()
    return teams.summary_of(team)


@blp.route("/<id:team_id>/members", methods=["POST"])
@guard(blp)
@blp.arguments(TeamMembersIn)
@blp.response(200, AddedOut)
def add_team_members(actor, data, team_id):
    """Add learners of the course to a team; those already on it are skipped."""
    added = teams.add_members(actor, team_id, data["user_ids"], utcnow())
    db.session.commit()
    return {"added": added}


@blp.route("/<id:team_id>/members/<id:user_id>", methods=["DELETE"])
@guard(blp)
@blp.response(200, RemovedOut)
def remove_team_member(actor, team_id, user_id):
    """Take someone off a team (a second call answers removed: false)."""
    removed = teams.remove_member(actor, team_id, user_id, utcnow())
    db.session.commit()
    return {"removed": removed}


class DeletedOut(Schema):
    deleted = fields.Boolean(required=True, metadata={"description": "false: it was already deleted"})


@blp.route("/<id:team_id>", methods=["DELETE"])
@guard(blp)
@blp.response(200, DeletedOut)
def delete_team(actor, team_id):
    """Delete a team made in Tinker (409 while it has challenges: cancel them first)."""
    deleted = teams.delete_team(actor, team_id, utcnow())
    db.session.commit()
    return {"deleted": deleted}
