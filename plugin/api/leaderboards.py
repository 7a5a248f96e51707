"""Leaderboards: the same boards the pages show, for the launched person (read only)."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from plugin.api.auth import guard
from plugin.api.schemas import Text
from plugin.api.spec import Blueprint
from plugin.core.clock import utcnow
from plugin.insights.version import data_version
from plugin.leaderboards import service as boards
from plugin.leaderboards.queries import TEAM_MEASURES

blp = Blueprint("api_leaderboards", __name__, url_prefix="/courses/<id:course_id>/leaderboards",
                description="Individual and team boards (competition ranking, the viewer's neighbours)")
PERIOD = Text(load_default="all", validate=validate.Length(min=2, max=10),
              metadata={"description": "all, week, month, or a key such as 2026-W48 or 2026-11"})


class BoardIn(Schema):
    scope = fields.String(load_default="course", validate=validate.OneOf(boards.SCOPES))
    period = PERIOD
    dimension = Text(load_default="total", validate=validate.Regexp(r"^[a-z][a-z0-9_]{0,39}$"))
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


class RowOut(Schema):
    rank = fields.Integer(required=True)
    user_id = fields.Integer(required=True, allow_none=True)
    name = fields.String(required=True)
    points = fields.Integer(required=True)
    is_viewer = fields.Boolean(required=True)
    anonymous = fields.Boolean(required=True)


class BoardOut(Schema):
    period = fields.String(required=True)
    dimension = fields.String(required=True)
    participants = fields.Integer(required=True)
    rows = fields.List(fields.Nested(RowOut), required=True)
    around = fields.List(fields.Nested(RowOut), required=True)
    viewer = fields.Nested(RowOut, required=True, allow_none=True)


class TeamBoardIn(Schema):
    period = PERIOD
    measure = fields.String(load_default=TEAM_MEASURES[0], validate=validate.OneOf(TEAM_MEASURES))


class TeamRowOut(Schema):
    rank = fields.Integer(required=True)
    team_id = fields.Integer(required=True)
    name = fields.String(required=True)
    members = fields.Integer(required=True)
    points = fields.Integer(required=True)
    points_per_member = fields.Float(required=True)
    experimenters_share = fields.Float(required=True)
    helpers_share = fields.Float(required=True)
    is_mine = fields.Boolean(required=True)


@blp.route("/individual")
@guard(blp)
@blp.etag
@blp.arguments(BoardIn, location="query")
@blp.response(200, BoardOut)
def individual_board(actor, args):
    """The course or organisation board for a period and dimension, as the caller may see it."""
    now = utcnow()
    blp.weak_etag(actor.user_id, actor.course_id, actor.role.value, data_version(actor.course_id, now))
    return boards.individual_board(actor, args["scope"], args["period"], args["dimension"], now, limit=args["limit"])


@blp.route("/teams")
@guard(blp)
@blp.etag
@blp.arguments(TeamBoardIn, location="query")
@blp.response(200, TeamRowOut(many=True))
def team_board(actor, args):
    """The course's team board for a period, ranked by a measure: every team for managers; for learners the
    top 20 and then their own teams at their ranks, as the page shows them."""
    now = utcnow()
    blp.weak_etag(actor.user_id, actor.course_id, actor.role.value, data_version(actor.course_id, now))
    standing = boards.teams_board(actor, args["period"], args["measure"], now, full=True)
    return standing.rows + standing.mine
