"""Webhook endpoints for administrators (launch tokens), as on Admin > Webhooks: add (the secret is in the
answer once), list, turn off or on, remove; the deliveries' status, and sending failed ones again."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from plugin.api.auth import guard
from plugin.api.schemas import Id, JsonBoolean, Text
from plugin.api.spec import Blueprint
from plugin.core.clock import utcnow
from plugin.extensions import db
from plugin.outbox.models import DISMISSED
from plugin.webhooks import service as webhooks

blp = Blueprint("api_webhooks", __name__, url_prefix="/webhooks",
                description="Webhook endpoints of the organisation and their deliveries (administrators). "
                            "Requests are signed as Standard Webhooks; see docs/webhooks.md.")


class WebhookApiIn(webhooks.WebhookIn):
    url = Text(required=True, validate=validate.Length(min=1, max=1000))
    description = Text(load_default="", validate=validate.Length(max=200))


class WebhookStateIn(Schema):
    active = JsonBoolean(required=True)


class WebhookOut(Schema):
    id = fields.Integer(required=True)
    url = fields.String(required=True)
    description = fields.String(required=True)
    events = fields.List(fields.String(), required=True)
    active = fields.Boolean(required=True)
    created_at = fields.DateTime(required=True)


class WebhookCreatedOut(WebhookOut):
    secret = fields.String(required=True, metadata={"description": "whsec_...: shown only in this answer"})


class DeliveryOut(Schema):
    id = fields.Function(lambda d: d.item.id, required=True)
    event = fields.String(required=True)
    webhook_id = fields.Function(lambda d: d.item.payload.get("endpoint_id"), required=True)
    url = fields.String(required=True, metadata={"description": "empty once the endpoint was removed"})
    message_id = fields.Function(lambda d: d.item.payload.get("message_id"), required=True,
                                 metadata={"description": "the webhook-id header, the same on every try"})
    status = fields.Function(lambda d: d.item.status, required=True, metadata={"description": "pending, done, failed or dismissed (failed, and the operator decided it is not to be sent)"})
    attempts = fields.Function(lambda d: d.item.attempts, required=True)
    answer = fields.Function(lambda d: d.item.last_error if d.item.status == DISMISSED else
                             d.item.note or d.item.last_error, required=True, allow_none=True,
                             metadata={"description": "the receiver's answer, or what went wrong (dismissed: what "
                                                      "made it fail, until it is trimmed)"})
    updated_at = fields.Function(lambda d: d.item.updated_at.isoformat(), required=True)


class ResendIn(Schema):
    delivery_id = Id(load_default=None, allow_none=True, metadata={"description": "one delivery; none: every failed"})


class ResentOut(Schema):
    queued = fields.Integer(required=True)


@blp.route("")
@guard(blp)
@blp.response(200, WebhookOut(many=True))
def list_webhooks(actor):
    """The organisation's endpoints (never their secrets)."""
    return webhooks.endpoints(actor)


@blp.route("", methods=["POST"])
@guard(blp)
@blp.arguments(WebhookApiIn)
@blp.response(201, WebhookCreatedOut)
def create_webhook(actor, data):
    """Add an endpoint; the answer holds its signing secret, which is never shown again."""
    endpoint, secret = webhooks.create_endpoint(actor, data, utcnow())
    db.session.commit()
    return ({**{name: getattr(endpoint, name) for name in WebhookOut().fields}, "secret": secret}, 201,
            {"Cache-Control": "no-store"})


@blp.route("/<id:webhook_id>", methods=["PATCH"])
@guard(blp)
@blp.arguments(WebhookStateIn)
@blp.response(200, WebhookOut)
def set_webhook_state(actor, data, webhook_id):
    """Turn an endpoint off (nothing more is sent to it) or on again."""
    endpoint = webhooks.set_active(actor, webhook_id, data["active"], utcnow())
    db.session.commit()
    return endpoint


class SecretRotatedOut(WebhookOut):
    secret = fields.String(required=True, metadata={"description": "the new whsec_...: shown only in this answer"})
    previous_signs_until = fields.DateTime(required=True, allow_none=True, metadata={
        "description": "until when deliveries also carry a signature with the secret replaced (null: it could no "
                       "longer be read, and the new one signs alone)"})


@blp.route("/<id:webhook_id>/secret", methods=["POST"])
@guard(blp)
@blp.response(200, SecretRotatedOut)
def rotate_webhook_secret(actor, webhook_id):
    """Replace the endpoint's signing secret. The new one signs at once; the one replaced keeps signing beside it (a
    second signature in webhook-signature) for 24 hours, so the receiver switches without refusing a delivery."""
    endpoint, secret = webhooks.rotate_secret(actor, webhook_id, utcnow())
    db.session.commit()
    return ({**{name: getattr(endpoint, name) for name in WebhookOut().fields}, "secret": secret,
             "previous_signs_until": webhooks.previous_signs_until(endpoint)}, 200, {"Cache-Control": "no-store"})


@blp.route("/<id:webhook_id>", methods=["DELETE"])
@guard(blp)
@blp.response(204)
def delete_webhook(actor, webhook_id):
    """Remove an endpoint with its deliveries, queued, failed or done: nothing more is sent to it."""
    webhooks.delete_endpoint(actor, webhook_id, utcnow())
    db.session.commit()


@blp.route("/deliveries")
@guard(blp)
@blp.response(200, DeliveryOut(many=True))
def list_webhook_deliveries(actor):
    """The latest 50 deliveries, newest first, with their state and the receiver's answer."""
    return webhooks.recent(actor)


@blp.route("/deliveries/resend", methods=["POST"])
@guard(blp)
@blp.arguments(ResendIn, required=False)
@blp.response(200, ResentOut)
def resend_webhook_deliveries(actor, data):
    """Send failed deliveries again, with the same body and webhook-id."""
    queued = webhooks.resend(actor, utcnow(), data["delivery_id"])
    db.session.commit()
    return {"queued": queued}
