"""Linked accounts of the launched person (launch tokens only: an API token acts for no person): list them,
show a one-time code, type in a code shown in another LMS, unlink. The Linked accounts page's services, its
refusals as the API's envelope."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from plugin.api.auth import guard
from plugin.api.schemas import Text
from plugin.api.spec import Blueprint
from plugin.core.clock import utcnow
from plugin.extensions import db
from plugin.identity import service as linking

blp = Blueprint("api_accounts", __name__, url_prefix="/me/linked-accounts",
                description="One person in several LMSs of the organisation (launch tokens): show a code in one "
                            "LMS, type it in the other within 15 minutes; a few wrong codes per window, then 429.")


class LinkedAccountOut(Schema):
    user_id = fields.Integer(required=True)
    platform = fields.String(required=True, metadata={"description": "the LMS: its name, else its issuer"})
    name = fields.String(required=True)
    method = fields.String(required=True, metadata={"description": "code or email"})
    linked_at = fields.DateTime(required=True)
    is_me = fields.Boolean(required=True, metadata={"description": "the account of this launch"})


class CodeOut(Schema):
    code = fields.String(required=True, metadata={"description": "shown once, e.g. ABCD-EFGH; a new one replaces "
                                                                 "any earlier unused code"})
    expires_at = fields.DateTime(required=True)


class CodeIn(Schema):
    code = Text(required=True, validate=validate.Length(max=40),
                metadata={"description": "the code shown in the other LMS; case, spaces and dashes do not matter"})


class UnlinkedOut(Schema):
    unlinked = fields.Integer(required=True, metadata={"description": "the account taken out"})
    accounts = fields.List(fields.Nested(LinkedAccountOut), required=True,
                           metadata={"description": "the accounts still linked (empty: none)"})


@blp.route("")
@guard(blp)
@blp.response(200, LinkedAccountOut(many=True))
def my_linked_accounts(actor):
    """The accounts linked with this one, this one included; empty when it is linked to none."""
    return linking.linked_accounts(actor)


@blp.route("/codes", methods=["POST"])
@guard(blp)
@blp.response(201, CodeOut)
def issue_link_code(actor):
    """A one-time code to type into Tinker in the other LMS (15 minutes)."""
    issued = linking.issue_code(actor, utcnow())
    db.session.commit()
    return issued, 201, {"Cache-Control": "no-store"}


@blp.route("/link", methods=["POST"])
@guard(blp)
@blp.arguments(CodeIn)
@blp.response(200, LinkedAccountOut(many=True))
def redeem_link_code(actor, data):
    """Link this account with the one that showed the code. 422 (wrong, expired, used, shown here, another
    organisation, same LMS), 409 (already linked), 429 after too many wrong codes."""
    try:
        accounts = linking.redeem_code(actor, data["code"], utcnow())
    except linking.LinkRefused:
        db.session.commit()  # a wrong code counts against this account's tries
        raise
    db.session.commit()
    return accounts


@blp.route("/<id:user_id>", methods=["DELETE"])
@guard(blp)
@blp.response(200, UnlinkedOut)
def unlink_account(actor, user_id):
    """Take an account (this one or another of this person's) out of the link; 404 when it is not linked."""
    now = utcnow()
    linking.unlink(actor, user_id, now)
    db.session.commit()
    return {"unlinked": user_id, "accounts": linking.linked_accounts(actor)}
