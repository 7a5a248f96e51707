"""Webhook endpoints for an organisation's admins: add (the signing secret shown once), turn off or on, remove;
the deliveries' status, and sending failed ones again (with the same webhook-id, so receivers can dedupe).

Events are enqueued by plugin/webhooks/events.py; the outbox handler that signs and sends is
plugin/webhooks/delivery.py.
"""
from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app
from marshmallow import Schema, ValidationError, fields, validate, validates
from sqlalchemy import delete, func, select, update

from plugin.audit.service import record
from plugin.core.actor import Actor
from plugin.errors import Conflict, Forbidden, InvalidInput, NotFound
from plugin.extensions import db
from plugin.i18n import gettext as _
from plugin.i18n import lazy_gettext as _l
from plugin.outbox.http import in_the_clear, refused_private, valid_port
from plugin.outbox.models import FAILED, PENDING, OutboxItem
from plugin.outbox.registry import Retry
from plugin.outbox.service import ENQUEUED_FLAG
from plugin.tenancy.models import Course
from plugin.tenancy.service import lock_organisation
from plugin.webhooks import messages as said
from plugin.webhooks.models import WebhookEndpoint

KIND = "webhook"
SECRET_PREFIX = "whsec_"
MAX_ENDPOINTS = 20
EVENTS = {
    "badge.earned": _l("A badge was earned"),
    "badge.revoked": _l("A badge was revoked"),
    "challenge.completed": _l("A challenge was completed"),
    "kudos.received": _l("Kudos were received"),
    "kudos.revoked": _l("Kudos were revoked"),
    "experiment.logged": _l("An experiment was logged"),
}


class WebhookIn(Schema):
    url = fields.String(required=True, validate=validate.Length(min=1, max=1000))
    events = fields.List(fields.String(validate=validate.OneOf(sorted(EVENTS))), required=True,
                         validate=validate.Length(min=1, max=len(EVENTS)))
    description = fields.String(load_default="", validate=validate.Length(max=200))

    @validates("url")
    def _url(self, value: str, **_kw) -> None:
        validate.URL(relative=False, schemes={"http", "https"}, require_tld=False,
                     error=_("Give a full http:// or https:// address."))(value.strip())
        if "#" in value:
            raise ValidationError(_("The address may not contain #."))
        if not valid_port(value.strip()):
            raise ValidationError(_("The port must be a number from 1 to 65535."))
        if in_the_clear(value, "WEBHOOKS_ALLOW_PRIVATE_ENDPOINTS"):
            raise ValidationError(_("Give an https:// address: webhooks name people and carry their signature."))


# -- the signing secret ----------------------------------------------------------------------------------------

def _fernet() -> Fernet:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"tinker-webhooks", info=b"signing-secret").derive(
        current_app.config["SECRET_KEY"].encode())
    return Fernet(base64.urlsafe_b64encode(derived))


def new_secret() -> str:
    """`whsec_` + base64 of 32 random bytes (Standard Webhooks): the key is the decoded bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _decrypted(token: str | None) -> str | None:
    if not token:
        return None
    try:
        return _fernet().decrypt(token.encode()).decode()
    except (InvalidToken, ValueError):
        return None


def signing_secret(endpoint: WebhookEndpoint) -> str | None:
    """The secret in clear, for signing; None when it cannot be read (the app's SECRET_KEY changed)."""
    return _decrypted(endpoint.secret_encrypted)


def _still_signing(endpoint: WebhookEndpoint, now: datetime) -> list[tuple[dict, str]]:
    """(entry, secret in clear) of the replaced secrets whose time has not passed and that can still be read, the one
    replaced last first."""
    live = ((entry, _decrypted(entry["secret"])) for entry in endpoint.replaced_secrets or ()
            if datetime.fromisoformat(entry["until"]) > now)
    return [(entry, secret) for entry, secret in live if secret is not None]


def previous_secrets(endpoint: WebhookEndpoint, now: datetime) -> list[str]:
    """The secrets rotations replaced that still sign beside the current one (none after their time, or unreadable)."""
    return [secret for _entry, secret in _still_signing(endpoint, now)]


def previous_signs_until(endpoint: WebhookEndpoint) -> datetime | None:
    """Until when the secret replaced last signs beside the current one (None: none does)."""
    return max((datetime.fromisoformat(entry["until"]) for entry in endpoint.replaced_secrets or ()), default=None)


# How long a replaced secret keeps signing beside the new one: time for the receiver's owner to switch.
ROTATION_OVERLAP = timedelta(hours=24)
# Replaced secrets signing at once, at most (one signature each in the header): rotations beyond it within a day
# stop the oldest one's early.
MAX_REPLACED = 10


def rotate_secret(actor: Actor, endpoint_id: int, now: datetime) -> tuple[WebhookEndpoint, str]:
    """A new signing secret for the endpoint, returned in clear once (as when it was added). Deliveries carry a
    signature with it at once, and one with the secret it replaces until ROTATION_OVERLAP has passed (Standard
    Webhooks: the header lists several), so the receiver can switch without refusing any. Rotated again meanwhile
    (a second admin, a new secret lost or leaked), each secret replaced keeps signing for its own day: the receiver
    may hold any of them (the first, or the one it switched to). A secret that can no longer be read (the app's
    SECRET_KEY changed) is replaced outright: rotating is how such an endpoint is mended."""
    endpoint = get_endpoint(actor, endpoint_id, lock=True)
    replaced = [entry for entry, _secret in _still_signing(endpoint, now)]
    if signing_secret(endpoint) is not None:
        replaced.insert(0, {"secret": endpoint.secret_encrypted, "until": (now + ROTATION_OVERLAP).isoformat()})
    endpoint.replaced_secrets = replaced[:MAX_REPLACED]
    secret = new_secret()
    endpoint.secret_encrypted = _fernet().encrypt(secret.encode()).decode()
    endpoint.updated_at = now
    db.session.flush()
    until = previous_signs_until(endpoint)
    record(actor, "webhook.secret_rotated", "webhook_endpoint", endpoint.id,
           {"url": endpoint.url, "previous_signs_until": until.isoformat() if until else None}, now,
           course_scoped=False)
    return endpoint, secret


# -- endpoints -------------------------------------------------------------------------------------------------

def _require_admin(actor: Actor) -> None:
    if not actor.can_administer:
        raise Forbidden(_("Only the organisation's administrators manage webhooks."))


def endpoints(actor: Actor) -> list[WebhookEndpoint]:
    _require_admin(actor)
    return list(db.session.scalars(select(WebhookEndpoint).where(
        WebhookEndpoint.organisation_id == actor.organisation_id).order_by(WebhookEndpoint.id)))


def get_endpoint(actor: Actor, endpoint_id: int, lock: bool = False) -> WebhookEndpoint:
    """lock: for a change, take turns on the organisation's row first (as adding does) and read the endpoint afresh,
    so a second change at once (a double click, two admins) sees the first's: one audit event, a deleted one gone."""
    _require_admin(actor)
    if lock:
        lock_organisation(actor.organisation_id)
    endpoint = db.session.get(WebhookEndpoint, endpoint_id, populate_existing=lock)
    if endpoint is None or endpoint.organisation_id != actor.organisation_id:
        raise NotFound(_("No such webhook endpoint in your organisation."))
    return endpoint


def private_host(url: str) -> str | None:
    """The first loopback/private/link-local address the URL's host resolves to, unless the operator allows
    them (TINKER_WEBHOOKS_ALLOW_PRIVATE_ENDPOINTS, on outside production): the same check as xAPI's."""
    if current_app.config.get("WEBHOOKS_ALLOW_PRIVATE_ENDPOINTS", False):
        return None
    from plugin.xapi.delivery import private_address

    try:
        return private_address(url)
    except Retry:
        raise Retry("cannot resolve the receiver's host name") from None


DEFAULT_PORTS = {"http": 80, "https": 443}


def same_address(one: str, other: str) -> bool:
    """Whether two URLs reach the same receiver: scheme and host name compare without case and a scheme's own port
    may be written or not (RFC 3986, 6.2.2.1 and 6.2.3); the path and query are the receiver's own, compared as
    written (/hooks and /hooks/ may be two handlers, as may /Hooks)."""
    def key(url: str) -> tuple:
        parts = urlsplit(url.strip())
        scheme = parts.scheme.lower()
        try:
            port = parts.port or DEFAULT_PORTS.get(scheme)
        except ValueError:
            port = None
        return scheme, (parts.hostname or "").rstrip("."), port, parts.username, parts.password, parts.path or "/", \
            parts.query
    return key(one) == key(other)


def create_endpoint(actor: Actor, data: dict, now: datetime) -> tuple[WebhookEndpoint, str]:
    """Add an endpoint (`data` is WebhookIn-loaded); returns it and its secret, which is shown only now."""
    _require_admin(actor)
    url = data["url"].strip()
    try:
        address = private_host(url)
    except Retry:
        raise InvalidInput(_("Check the address."), errors={"url": [
            _("Tinker cannot resolve the receiver's host name.")]}) from None
    if address:
        refused_private(url, address)
        raise InvalidInput(_("Check the address."), errors={"url": [
            _("It leads to a private network address; Tinker sends webhooks only to public addresses.")]})
    lock_organisation(actor.organisation_id)  # two adds at once: the second counts the first's endpoint
    count = db.session.scalar(select(func.count()).where(WebhookEndpoint.organisation_id == actor.organisation_id))
    if count >= MAX_ENDPOINTS:
        raise InvalidInput(_("Too many endpoints."), errors={"url": [
            _("At most %(count)s; remove one first.", count=MAX_ENDPOINTS)]})
    events = sorted(set(data["events"]))
    same = [other for other in db.session.scalars(select(WebhookEndpoint).where(
        WebhookEndpoint.organisation_id == actor.organisation_id)) if same_address(other.url, url)]
    twice = sorted({event for other in same if other.active for event in other.events or () if event in events})
    if twice:  # the same form sent again (Back, a double click) or the same receiver added anew
        raise InvalidInput(_("Check the address."), errors={"url": [
            _("An endpoint for this address already receives %(events)s: each would be sent twice. To give it a new "
              "signing secret, replace that endpoint's secret instead.", events=", ".join(twice))]})
    resting = sorted({event for other in same for event in other.events or () if event in events})
    if resting:  # only a turned-off endpoint has them: turned on again, each would be sent twice all the same
        raise InvalidInput(_("Check the address."), errors={"url": [
            _("A turned-off endpoint for this address has %(events)s: turn it on again, or remove it first (with "
              "both on, each event would be sent twice).", events=", ".join(resting))]})
    secret = new_secret()
    endpoint = WebhookEndpoint(organisation_id=actor.organisation_id, url=url, description=data["description"].strip(),
                               events=events, active=True,
                               secret_encrypted=_fernet().encrypt(secret.encode()).decode(),
                               created_by_id=actor.user_id, created_at=now, updated_at=now)
    db.session.add(endpoint)
    db.session.flush()
    record(actor, "webhook.created", "webhook_endpoint", endpoint.id, {"url": url, "events": endpoint.events}, now,
           course_scoped=False)
    return endpoint, secret


def set_active(actor: Actor, endpoint_id: int, active: bool, now: datetime) -> WebhookEndpoint:
    endpoint = get_endpoint(actor, endpoint_id, lock=True)
    if endpoint.active != active:
        endpoint.active, endpoint.updated_at = active, now
        db.session.flush()
        record(actor, "webhook.turned_on" if active else "webhook.turned_off", "webhook_endpoint", endpoint.id,
               {"url": endpoint.url}, now, course_scoped=False)
    return endpoint


def delete_endpoint(actor: Actor, endpoint_id: int, now: datetime) -> None:
    """Remove an endpoint and its deliveries, queued, failed or done: nothing more goes to it, and nothing is left
    under its id (SQLite may give the id to the next endpoint added, in another organisation)."""
    endpoint = get_endpoint(actor, endpoint_id, lock=True)
    record(actor, "webhook.deleted", "webhook_endpoint", endpoint.id, {"url": endpoint.url}, now,
           course_scoped=False)
    db.session.execute(delete(OutboxItem).where(OutboxItem.kind == KIND,
                                                OutboxItem.dedupe_key.startswith(f"webhook:{endpoint.id}:")))
    db.session.delete(endpoint)
    db.session.flush()


# -- status and sending again ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Delivery:
    item: OutboxItem
    event: str
    url: str


def _organisation_items(organisation_id: int):
    return select(OutboxItem.id).join(Course, Course.id == OutboxItem.course_id).where(
        OutboxItem.kind == KIND, Course.organisation_id == organisation_id)


def recent(actor: Actor, limit: int = 50) -> list[Delivery]:
    """The organisation's latest deliveries with their state and the receiver's answer, newest first."""
    _require_admin(actor)
    items = list(db.session.scalars(select(OutboxItem).where(OutboxItem.id.in_(_organisation_items(
        actor.organisation_id))).order_by(OutboxItem.updated_at.desc(), OutboxItem.id.desc()).limit(limit)))
    urls = {e.id: e.url for e in db.session.scalars(select(WebhookEndpoint).where(
        WebhookEndpoint.organisation_id == actor.organisation_id))}
    return [Delivery(item, item.payload.get("event", ""), urls.get(item.payload.get("endpoint_id"), ""))
            for item in items]


def counts(actor: Actor) -> dict[str, int]:
    _require_admin(actor)
    rows = db.session.execute(select(OutboxItem.status, func.count()).where(
        OutboxItem.id.in_(_organisation_items(actor.organisation_id))).group_by(OutboxItem.status)).all()
    return {status: n for status, n in rows}


def resend(actor: Actor, now: datetime, item_id: int | None = None) -> int:
    """Queue failed deliveries again (one, or all of the organisation's); the body and webhook-id stay the
    same, so a receiver that did get the first try can tell. Returns how many."""
    _require_admin(actor)
    query = update(OutboxItem).where(OutboxItem.id.in_(_organisation_items(actor.organisation_id)),
                                     OutboxItem.status == FAILED)
    # Deliveries of an endpoint turned off wait for it (sent again now, each would fail at once for being off).
    for endpoint_id in db.session.scalars(select(WebhookEndpoint.id).where(
            WebhookEndpoint.organisation_id == actor.organisation_id, WebhookEndpoint.active.is_(False))):
        off = OutboxItem.dedupe_key.startswith(f"webhook:{endpoint_id}:", autoescape=True)
        if item_id is not None and db.session.scalar(select(OutboxItem.id).where(OutboxItem.id == item_id, off)):
            raise Conflict(_("Turn its endpoint on first: nothing is sent to an endpoint that is off."))
        query = query.where(~off)
    if item_id is not None:
        query = query.where(OutboxItem.id == item_id)
    done = db.session.execute(query.values(
        status=PENDING, attempts=0, version=OutboxItem.version + 1, next_attempt_at=now, claim_token=None,
        locked_until=None, last_error=None, note=said.SENT_AGAIN(), updated_at=now)
        .execution_options(synchronize_session=False))
    if done.rowcount:
        db.session.info[ENQUEUED_FLAG] = True  # deliver after this request, as new events are
        record(actor, "webhook.resent", "organisation", actor.organisation_id,
               {"count": done.rowcount, **({"delivery": item_id} if item_id else {})}, now, course_scoped=False)
    return done.rowcount
