"""The outbox handler that POSTs one event to one endpoint, signed as Standard Webhooks asks.

Headers: `webhook-id` (the event's message id, the same on every retry and re-send), `webhook-timestamp`
(seconds, this attempt), `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">` keyed with the
bytes of the endpoint's `whsec_` secret. 2xx = delivered; 5xx, 408, 429 and network failures = try again
later (the outbox's backoff); any other answer = failed, with the receiver's own message. Redirects are not
followed, and private/loopback receivers are refused unless the operator allows them (as for xAPI).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import datetime

from flask import current_app
from sqlalchemy import select

from plugin.extensions import db
from plugin.outbox.http import answer_text, host_of, refused_private, send
from plugin.outbox.registry import GiveUp, Retry, handler, lane_namer, numbered, trimmer
from plugin.tenancy.models import Organisation
from plugin.webhooks import messages as said
from plugin.webhooks.models import WebhookEndpoint
from plugin.webhooks.service import KIND, SECRET_PREFIX, previous_secrets, private_host, signing_secret

RETRY_STATUSES = {408, 429}


def sign(secret: str, message_id: str, timestamp: int, body: str) -> str:
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    digest = hmac.new(key, f"{message_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def _organisation_of(payload: dict) -> int | None:
    """The organisation an event came from: named in the payload (queued before it was: in its body)."""
    if "organisation_id" in payload:
        return payload["organisation_id"]
    try:
        return json.loads(payload["body"])["data"]["organisation_id"]
    except (ValueError, KeyError, TypeError):
        return None


@lane_namer(KIND)
def _lane_names(ids: list[str]) -> dict[str, str]:
    rows = db.session.execute(select(WebhookEndpoint.id, WebhookEndpoint.url, Organisation.name)
                              .join(Organisation, Organisation.id == WebhookEndpoint.organisation_id)
                              .where(WebhookEndpoint.id.in_(numbered(ids)))).all()
    # the host only: a receiver's URL may carry its own secret in the path (the report goes to the operator's mail)
    return {str(row.id): f"webhook endpoint {row.id} on {host_of(row.url)} ({row.name})" for row in rows}


@trimmer(KIND)
def trimmed(payload: dict, _note: str | None, _error: str | None) -> dict:
    """Long finished: the body goes (it names people and what they did), and so does a dismissed delivery's error
    (the receiver's answer may quote the body); the endpoint, event and message id stay for the deliveries list and
    the API, and a delivered one's note ("accepted (HTTP 204)")."""
    payload.pop("body", None)
    return {"payload": payload, "last_error": None}


@handler(KIND)
def deliver(payload: dict, now: datetime) -> str:
    endpoint = db.session.get(WebhookEndpoint, payload["endpoint_id"])
    if endpoint is None or endpoint.organisation_id != _organisation_of(payload):
        # Removed (SQLite may give its id to the next endpoint added, in any organisation: an event is only ever
        # sent to an endpoint of the organisation it came from).
        raise GiveUp(said.REMOVED())
    if not endpoint.active:
        raise GiveUp(said.TURNED_OFF())
    secret = signing_secret(endpoint)
    if secret is None:
        raise GiveUp(said.SECRET_UNREADABLE())
    address = private_host(endpoint.url)
    if address:
        refused_private(endpoint.url, address)
        raise GiveUp(said.PRIVATE_HOST())
    timestamp = int(now.timestamp())
    body = payload["body"]
    headers = {"Content-Type": "application/json", "User-Agent": "Tinker-Webhooks/1",
               "webhook-id": payload["message_id"], "webhook-timestamp": str(timestamp),
               # With a rotation under way, a signature with each secret (Standard Webhooks lists them, space apart).
               "webhook-signature": " ".join(sign(key, payload["message_id"], timestamp, body)
                                             for key in (secret, *previous_secrets(endpoint, now)))}
    timeout = current_app.config.get("WEBHOOKS_HTTP_TIMEOUT", 10)
    url = endpoint.url
    response = send("POST", url, who=said.RECEIVER, timeout=timeout, data=body.encode(), headers=headers,
                    public_only=not current_app.config.get("WEBHOOKS_ALLOW_PRIVATE_ENDPOINTS", False))
    status = response.status_code
    if 200 <= status < 300:
        return said.ACCEPTED(status=status)
    detail = answer_text(response)
    if status >= 500 or status in RETRY_STATUSES:
        raise Retry(said.ANSWERED(status=status, detail=detail))
    if 300 <= status < 400:
        raise GiveUp(said.REDIRECTS(status=status, location=response.headers.get("Location", "?")))
    raise GiveUp(said.REFUSED(status=status, detail=detail))
