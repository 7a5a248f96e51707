"""Challenges and missions for the course's managers: create and change them through the same service (and
the same checks) as the challenge form. Reading them: GET /courses/{id}/challenges."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from plugin.api.auth import guard
from plugin.api.schemas import Id, JsonBoolean, Text
from plugin.api.spec import Blueprint
from plugin.challenges import service as challenges
from plugin.challenges.models import COUNT, PARTICIPATION
from plugin.challenges.schemas import ChallengeIn, _in_range
from plugin.core.clock import utcnow
from plugin.extensions import db

blp = Blueprint("api_challenges", __name__, url_prefix="/courses/<id:course_id>/challenges",
                description="Creating and changing challenges and missions (managers; launch tokens)")
LOCAL = "the organisation's local wall-clock time, without an offset (e.g. 2026-03-01T09:00:00)"


def _optional_id(description: str) -> Id:
    return Id(load_default=None, allow_none=True, metadata={"description": description})


class ChallengeApiIn(ChallengeIn):
    """The challenge form's fields with JSON's types. The whole challenge is sent on create and on change."""

    title = Text(required=True, validate=validate.Length(min=3, max=200))
    description = Text(load_default="", validate=validate.Length(max=5000))
    goal_kind = fields.String(required=True, validate=validate.OneOf([COUNT, PARTICIPATION]),
                              metadata={"description": "count: experiments (or accepted learners for a mission); "
                                                       "participation: percent of the learners"})
    goal_value = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=100_000))
    starts_at = fields.NaiveDateTime(required=True, validate=_in_range, metadata={"description": LOCAL})
    ends_at = fields.NaiveDateTime(required=True, validate=_in_range, metadata={"description": LOCAL + "; exclusive"})
    team = _optional_id("a team of the course (a team challenge)")
    task_category = _optional_id("count only experiments of this task category")
    ai_tool = _optional_id("count only experiments with this AI tool")
    badge = _optional_id("the badge every contributor gets when it completes")
    is_mission = JsonBoolean(load_default=False)
    scenario = Text(load_default="", validate=validate.Length(max=20_000))
    reflection_prompt = Text(load_default="", validate=validate.Length(max=2000))
    champion = _optional_id("a mission's champion: a member of the course")
    tools = fields.List(Id(), load_default=list, validate=validate.Length(max=50))
    dataset_text = Text(load_default="", validate=validate.Length(max=210_000),
                        metadata={"description": "a mission's data set, as text"})
    remove_dataset = JsonBoolean(load_default=False)


class ChallengeRecordOut(Schema):
    id = fields.Integer(required=True)
    title = fields.String(required=True)
    description = fields.String(required=True)
    mission = fields.Boolean(required=True, attribute="is_mission")
    team_id = fields.Integer(required=True, allow_none=True)
    goal_kind = fields.String(required=True)
    goal_value = fields.Integer(required=True)
    task_category_id = fields.Integer(required=True, allow_none=True)
    ai_tool_id = fields.Integer(required=True, allow_none=True)
    badge_id = fields.Integer(required=True, allow_none=True)
    starts_at = fields.DateTime(required=True, metadata={"description": "UTC"})
    ends_at = fields.DateTime(required=True, metadata={"description": "UTC, exclusive"})
    progress_count = fields.Integer(required=True)
    contributor_count = fields.Integer(required=True)
    completed_at = fields.DateTime(required=True, allow_none=True)
    cancelled_at = fields.DateTime(required=True, allow_none=True)


@blp.route("", methods=["POST"])
@guard(blp)
@blp.arguments(ChallengeApiIn)
@blp.response(201, ChallengeRecordOut)
def create_challenge(actor, data):
    """A challenge or mission; experiments already logged inside its window count at once."""
    challenge = challenges.create_challenge(actor, data, utcnow())
    db.session.commit()
    return challenge


@blp.route("/<id:challenge_id>", methods=["PUT"])
@guard(blp)
@blp.arguments(ChallengeApiIn)
@blp.response(200, ChallengeRecordOut)
def update_challenge(actor, data, challenge_id):
    """Change a challenge (send all of it). Once complete, only its texts may change (422 otherwise)."""
    challenge = challenges.update_challenge(actor, challenge_id, data, utcnow())
    db.session.commit()
    return challenge
