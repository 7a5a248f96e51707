"""The library's social side and peer help: reactions, "I reused this", recording and confirming help, kudos."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from plugin.api.auth import guard
from plugin.api.schemas import Id, Text
from plugin.api.spec import Blueprint
from plugin.community import service as community
from plugin.community.models import REACTIONS
from plugin.core.clock import utcnow
from plugin.extensions import db
from plugin.peer_help import service as peer_help
from plugin.recognition import service as recognition

blp = Blueprint("api_community", __name__, url_prefix="/courses/<id:course_id>",
                description="Reactions, reuses, peer help and kudos (launch tokens: people act here)")


class ReactionIn(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(sorted(REACTIONS)))


class ReactionsOut(Schema):
    created = fields.Boolean(required=True, metadata={"description": "false: it was already there"})
    counts = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    mine = fields.List(fields.String(), required=True)


class ReactionWithdrawnOut(Schema):
    withdrawn = fields.Boolean(required=True, metadata={"description": "false: the caller had no such reaction"})
    counts = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    mine = fields.List(fields.String(), required=True)


class ReuseOut(Schema):
    created = fields.Boolean(required=True)


class HelpIn(Schema):
    other_user_id = Id(required=True)
    direction = fields.String(required=True, validate=validate.OneOf([peer_help.HELPED_ME, peer_help.I_HELPED]),
                              metadata={"description": "helped_me counts at once; i_helped waits for their confirmation"})
    description = Text(required=True, validate=validate.Length(min=3, max=2000))
    experiment_id = Id(load_default=None, allow_none=True)
    submission_key = Text(load_default=None, validate=validate.Length(min=8, max=64), metadata={
        "description": "Send the same key again (a retry) and the help first recorded with it comes back, 200"})


class HelpOut(Schema):
    id = fields.Integer(required=True)
    helper_id = fields.Integer(required=True)
    helped_id = fields.Integer(required=True)
    recorded_by_id = fields.Integer(required=True)
    description = fields.String(required=True)
    experiment_id = fields.Integer(required=True, allow_none=True)
    status = fields.String(required=True)
    created_at = fields.DateTime(required=True)
    resolved_at = fields.DateTime(required=True, allow_none=True)


class KudosIn(Schema):
    receiver_id = Id(required=True)
    message = Text(required=True, validate=validate.Length(min=3, max=2000))
    submission_key = Text(required=True, validate=validate.Length(min=8, max=64))
    points = fields.Integer(load_default=0, strict=True, validate=validate.Range(min=0, max=recognition.MAX_KUDOS_POINTS))
    value_tag_id = Id(load_default=None, allow_none=True)
    dimension = Text(load_default="experimenting", validate=validate.Length(min=1, max=40))


class KudosOut(Schema):
    id = fields.Integer(required=True)
    receiver_id = fields.Integer(required=True)
    message = fields.String(required=True)
    points = fields.Integer(required=True)
    value_tag_id = fields.Integer(required=True, allow_none=True)
    created_at = fields.DateTime(required=True)
    revoked_at = fields.DateTime(required=True, allow_none=True)
    revoked_reason = fields.String(required=True, allow_none=True)


class KudosRevokeIn(Schema):
    reason = Text(required=True, validate=validate.Length(min=3, max=1000))


def _reactions(actor, experiment_id: int, created: bool) -> dict:
    return {"created": created, "counts": community.reactions_summary(experiment_id),
            "mine": sorted(community.my_reactions(actor, experiment_id))}


@blp.route("/experiments/<id:experiment_id>/reactions", methods=["POST"])
@guard(blp)
@blp.arguments(ReactionIn)
@blp.response(201, ReactionsOut)
@blp.alt_response(200, schema=ReactionsOut, description="The caller had already reacted so")
def react(actor, data, experiment_id):
    """React to a colleague's experiment (credits its author through the rules)."""
    created = community.react(actor, experiment_id, data["kind"], utcnow())
    db.session.commit()
    return _reactions(actor, experiment_id, created), 201 if created else 200


@blp.route("/experiments/<id:experiment_id>/reactions/<string:kind>", methods=["DELETE"])
@guard(blp)
@blp.response(200, ReactionWithdrawnOut)
def withdraw_reaction(actor, experiment_id, kind):
    """Take back one's reaction (`helpful` or `saved_mistake`). Its author keeps what it earned them; giving it again
    (POST) shows it again without crediting them twice."""
    withdrawn = community.withdraw_reaction(actor, experiment_id, kind, utcnow())
    db.session.commit()
    return {"withdrawn": withdrawn, "counts": community.reactions_summary(experiment_id),
            "mine": sorted(community.my_reactions(actor, experiment_id))}


@blp.route("/experiments/<id:experiment_id>/reuses", methods=["POST"])
@guard(blp)
@blp.response(201, ReuseOut)
@blp.alt_response(200, schema=ReuseOut, description="Already marked as reused by the caller")
def mark_reused(actor, experiment_id):
    """"I reused this": credits the author once per colleague."""
    created = community.mark_reused(actor, experiment_id, utcnow())
    db.session.commit()
    return {"created": created}, 201 if created else 200


@blp.route("/peer-help")
@guard(blp)
@blp.etag
@blp.response(200, HelpOut(many=True))
def my_peer_help(actor):
    """Help the caller gave or received in the course, newest first (pending ones included)."""
    return peer_help.mine(actor)


@blp.route("/peer-help", methods=["POST"])
@guard(blp)
@blp.arguments(HelpIn)
@blp.response(201, HelpOut)
@blp.alt_response(200, schema=HelpOut, description="The same submission_key was sent before: the help first recorded")
def record_help(actor, data):
    """Record help: `helped_me` counts at once, `i_helped` once the colleague confirms. `submission_key` makes
    retries safe."""
    result = peer_help.record_help(actor, other_user_id=data["other_user_id"], direction=data["direction"],
                                   description=data["description"], experiment_id=data["experiment_id"],
                                   now=utcnow(), submission_key=data["submission_key"])
    db.session.commit()
    return result.help, 201 if result.created else 200


@blp.route("/peer-help/<id:help_id>/confirm", methods=["POST"])
@guard(blp)
@blp.response(200, HelpOut)
def confirm_help(actor, help_id):
    """The helped person confirms help a colleague recorded (409 when already answered)."""
    result = peer_help.confirm_help(actor, help_id, utcnow())
    db.session.commit()
    return result.help


@blp.route("/kudos", methods=["POST"])
@guard(blp)
@blp.arguments(KudosIn)
@blp.response(201, KudosOut)
def give_kudos(actor, data):
    """A manager thanks a learner, optionally with points from their monthly budget."""
    kudos = recognition.give_kudos(actor, receiver_id=data["receiver_id"], message=data["message"], now=utcnow(),
                                   submission_key=data["submission_key"], points=data["points"],
                                   value_tag_id=data["value_tag_id"], dimension=data["dimension"])
    db.session.commit()
    return kudos


@blp.route("/kudos/<id:kudos_id>/revoke", methods=["POST"])
@guard(blp)
@blp.arguments(KudosRevokeIn)
@blp.response(200, KudosOut)
def revoke_kudos(actor, data, kudos_id):
    """The manager who gave kudos, or an admin, revokes them with a reason: their points are reversed and the
    giver's monthly budget gets them back (a second call changes nothing)."""
    kudos = recognition.revoke_kudos(actor, kudos_id, data["reason"], utcnow())
    db.session.commit()
    return kudos
