"""Who am I, which courses can I reach, and who is in them (to pick a receiver or a team)."""
from __future__ import annotations

from marshmallow import Schema, fields

from plugin.api.auth import ANY, caller, guard
from plugin.api.spec import Blueprint
from plugin.extensions import db
from plugin.insights.scope import organisation_courses
from plugin.teams import service as teams
from plugin.tenancy import service as tenancy
from plugin.tenancy.models import Course

blp = Blueprint("api_courses", __name__, url_prefix="", description="The caller, its courses and their people")
MEMBER_SCOPES = ("awards:write", "insights:read")


class MeOut(Schema):
    kind = fields.String(required=True, metadata={"description": "launch or api_token"})
    organisation_id = fields.Integer(required=True)
    course_id = fields.Integer(allow_none=True)
    user_id = fields.Integer(allow_none=True)
    role = fields.String(allow_none=True)
    scopes = fields.List(fields.String(), required=True)
    token_name = fields.String(allow_none=True)
    expires_at = fields.DateTime(allow_none=True)


class CourseOut(Schema):
    id = fields.Integer(required=True)
    title = fields.String(required=True)
    label = fields.String(required=True)


class MemberOut(Schema):
    user_id = fields.Integer(required=True, attribute="id")
    name = fields.String(required=True, attribute="display_name")


class TeamOut(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    source = fields.String(required=True)
    members = fields.Integer(required=True)


@blp.route("/me")
@guard(blp, ANY)
@blp.response(200, MeOut)
def me(actor):
    """The caller: a launched person (role, course) or an API token (scopes, expiry)."""
    _, token = caller()
    if token is not None:
        return {"kind": "api_token", "organisation_id": token.organisation_id, "scopes": sorted(token.scope_set),
                "token_name": token.name, "expires_at": token.expires_at}
    return {"kind": "launch", "organisation_id": actor.organisation_id, "course_id": actor.course_id,
            "user_id": actor.user_id, "role": actor.role.value, "scopes": []}


@blp.route("/courses")
@guard(blp, ANY)
@blp.response(200, CourseOut(many=True))
def list_courses(actor):
    """Courses the caller reaches: the launched course, or every course of the token's organisation."""
    if caller()[1] is not None:
        return organisation_courses(actor)
    return [db.session.get(Course, actor.course_id)]


@blp.route("/courses/<id:course_id>/members")
@guard(blp, MEMBER_SCOPES)
@blp.response(200, MemberOut(many=True))
def course_learners(actor):
    """Learners of the course (managers, admins; API tokens with awards:write or insights:read)."""
    return tenancy.course_learners(actor)


@blp.route("/courses/<id:course_id>/teams")
@guard(blp, MEMBER_SCOPES)
@blp.response(200, TeamOut(many=True))
def course_teams(actor):
    """The course's teams (managers, admins; API tokens with insights:read or awards:write)."""
    return teams.course_teams(actor)
