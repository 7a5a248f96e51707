"""Teams' progress and the course's challenges: read models, as the team and challenge pages show them."""
from __future__ import annotations

from marshmallow import Schema, fields

from plugin.api.auth import guard
from plugin.api.spec import Blueprint
from plugin.challenges import queries as challenges
from plugin.core.clock import utcnow
from plugin.insights.version import data_version
from plugin.teams import progress

blp = Blueprint("api_progress", __name__, url_prefix="/courses/<id:course_id>",
                description="Team progress and challenges (API tokens: scope insights:read)")
SCOPE = "insights:read"


class WeekOut(Schema):
    key = fields.String(required=True)
    starts_on = fields.Date(required=True)
    experimenters = fields.Integer(required=True)
    members = fields.Integer(required=True)
    percent = fields.Integer(required=True)


class TallyOut(Schema):
    key = fields.String(required=True)
    label = fields.String(required=True)
    month = fields.Integer(required=True)
    all_time = fields.Integer(required=True)


class ProgressOut(Schema):
    value = fields.Integer(required=True)
    goal = fields.Integer(required=True)
    text = fields.String(required=True)
    complete = fields.Boolean(required=True)


class GoalOut(Schema):
    challenge_id = fields.Integer(required=True)
    title = fields.String(required=True)
    status = fields.String(required=True)
    progress = fields.Nested(ProgressOut, required=True)
    ends_at = fields.DateTime(required=True)
    percent = fields.Integer(required=True)


class TeamProgressOut(Schema):
    team_id = fields.Function(lambda p: p.team.id, required=True)
    team = fields.Function(lambda p: p.team.name, required=True)
    source = fields.String(required=True)
    members = fields.Integer(required=True)
    month_key = fields.String(required=True)
    weeks = fields.List(fields.Nested(WeekOut), required=True)
    categories = fields.List(fields.Nested(TallyOut), required=True)
    outcomes = fields.List(fields.Nested(TallyOut), required=True)
    experiments = fields.Nested(TallyOut, required=True)
    minutes = fields.Nested(TallyOut, required=True)
    badges = fields.Nested(TallyOut, required=True)
    points_month = fields.Integer(required=True)
    points_per_member_month = fields.Float(required=True)
    experimenters_month = fields.Integer(required=True)
    goals = fields.List(fields.Nested(GoalOut), required=True)
    withheld = fields.Boolean(required=True, metadata={
        "description": "true for a team of fewer counted members than its reader needs (a learner 3, a manager or "
                       "admin the organisation's minimum group size for insights), or, for a manager or admin, a "
                       "team whose figures set beside the course's or another team's would show what fewer people "
                       "logged (as Insights withholds them): its activity figures are zero, since they would show "
                       "what members logged, private entries included"})


class ChallengeOut(Schema):
    id = fields.Function(lambda c: c.challenge.id, required=True)
    title = fields.Function(lambda c: c.challenge.title, required=True)
    description = fields.Function(lambda c: c.challenge.description, required=True)
    team_id = fields.Function(lambda c: c.challenge.team_id, required=True, allow_none=True)
    mission = fields.Function(lambda c: c.challenge.is_mission, required=True)
    goal_kind = fields.Function(lambda c: c.challenge.goal_kind, required=True)
    goal_value = fields.Function(lambda c: c.challenge.goal_value, required=True)
    starts_at = fields.Function(lambda c: c.challenge.starts_at.isoformat(), required=True)
    ends_at = fields.Function(lambda c: c.challenge.ends_at.isoformat(), required=True)
    status = fields.String(required=True)
    progress = fields.Nested(ProgressOut, required=True)
    mine = fields.Integer(required=True, metadata={"description": "the caller's contribution"})


@blp.route("/teams/<id:team_id>/progress")
@guard(blp, SCOPE)
@blp.etag
@blp.response(200, TeamProgressOut)
def team_progress(actor, team_id):
    """A team's participation by week, this month's tallies and its open goals (members and staff)."""
    now = utcnow()
    blp.weak_etag(actor.user_id, actor.course_id, actor.role.value, data_version(actor.course_id, now))
    return progress.team_progress(actor, team_id, now)


@blp.route("/challenges")
@guard(blp, SCOPE)
@blp.etag
@blp.response(200, ChallengeOut(many=True))
def list_challenges(actor):
    """Challenges and missions the caller may see, with progress and their own contribution."""
    return challenges.cards(actor, utcnow())
