"""Badges and awards: the organisation's badges, the course's awards, awarding and revoking by hand."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from plugin.api.auth import guard
from plugin.api.schemas import Id, PageIn, Text, decode_cursor, page
from plugin.api.spec import Blueprint
from plugin.badges import service as badges
from plugin.badges.models import BadgeAward
from plugin.core.clock import utcnow
from plugin.extensions import db
from plugin.recognition import service as recognition

blp = Blueprint("api_awards", __name__, url_prefix="/courses/<id:course_id>",
                description="Badges and their awards (API tokens: scope awards:write)")
SCOPE = "awards:write"


class BadgeOut(Schema):
    id = fields.Integer(required=True)
    slug = fields.String(required=True)
    name = fields.String(required=True)
    description = fields.String(required=True)
    criteria = fields.String(required=True)
    manual = fields.Boolean(required=True, metadata={"description": "awarded by hand (POST /awards)"})


class AwardOut(Schema):
    id = fields.Integer(required=True)
    badge_id = fields.Integer(required=True)
    badge_name = fields.String(required=True)
    user_id = fields.Integer(required=True)
    awarded_at = fields.DateTime(required=True)
    by_hand = fields.Boolean(required=True)
    comment = fields.String(required=True, allow_none=True)
    evidence_url = fields.String(required=True, allow_none=True)
    revoked_at = fields.DateTime(required=True, allow_none=True)
    revoked_reason = fields.String(required=True, allow_none=True)


class AwardPageOut(Schema):
    items = fields.List(fields.Nested(AwardOut), required=True)
    next_cursor = fields.String(required=True, allow_none=True)


class AwardFilterIn(PageIn):
    user_id = Id(strict=False, metadata={"description": "only this learner's awards (staff and tokens)"})


class AwardIn(Schema):
    user_id = Id(required=True)
    badge_id = Id(required=True)
    comment = Text(required=True, validate=validate.Length(min=3, max=2000))
    evidence_url = Text(load_default=None, allow_none=True, validate=validate.Length(max=1000))


class RevokeIn(Schema):
    reason = Text(required=True, validate=validate.Length(min=3, max=1000))


def _out(award: BadgeAward, badge) -> dict:
    return {"id": award.id, "badge_id": badge.id, "badge_name": badge.name, "user_id": award.user_id,
            "awarded_at": award.awarded_at, "by_hand": award.awarded_by_id is not None, "comment": award.comment,
            "evidence_url": award.evidence_url, "revoked_at": award.revoked_at,
            "revoked_reason": award.revoked_reason}


@blp.route("/badges")
@guard(blp, SCOPE)
@blp.etag
@blp.response(200, BadgeOut(many=True))
def list_badges(actor):
    """The organisation's active badges; `manual` ones may be awarded by hand."""
    return badges.active_badges(actor.organisation_id)


@blp.route("/awards")
@guard(blp, SCOPE)
@blp.etag
@blp.arguments(AwardFilterIn, location="query")
@blp.response(200, AwardPageOut)
def list_awards(actor, args):
    """Awards in the course, newest first (learners and observers: their own)."""
    rows = badges.course_awards(actor, user_id=args.get("user_id"), before_id=decode_cursor(args.get("cursor")),
                                limit=args["limit"] + 1)
    return page([_out(a, b) for a, b in rows], args["limit"], lambda item: item["id"])


@blp.route("/awards", methods=["POST"])
@guard(blp, SCOPE)
@blp.arguments(AwardIn)
@blp.response(201, AwardOut)
def award_badge(actor, data):
    """Award a manual badge to a learner of the course, saying why (409 when they already hold it)."""
    award_id = recognition.award_badge_manually(actor, receiver_id=data["user_id"], badge_id=data["badge_id"],
                                                comment=data["comment"], evidence_url=data.get("evidence_url"),
                                                now=utcnow())
    db.session.commit()
    award = db.session.get(BadgeAward, award_id)
    return _out(award, _badge(award))


@blp.route("/awards/<id:award_id>/revoke", methods=["POST"])
@guard(blp, SCOPE)
@blp.arguments(RevokeIn)
@blp.response(200, AwardOut)
def revoke_award(actor, data, award_id):
    """Revoke an award with a reason; the points the same rule posted are reversed."""
    award = recognition.revoke_badge(actor, award_id, data["reason"], utcnow())
    db.session.commit()
    return _out(award, _badge(award))


def _badge(award: BadgeAward):
    from plugin.badges.models import BadgeClass

    return db.session.get(BadgeClass, award.badge_id)
