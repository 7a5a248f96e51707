"""Recipient identity in assertions: the e-mail the LMS shares, else an address the learner confirmed by a
link, else an identity URL; until then a per-person placeholder URL, so awarding is never blocked and
claiming later re-points every assertion (they are built when fetched). Identities are published hashed."""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, select

from plugin.badges.models import Recipient
from plugin.core.actor import Actor
from plugin.core.db import insert_ignore
from plugin.errors import InvalidInput, NotFound, RateLimited
from plugin.extensions import db
from plugin.i18n import gettext as _
from plugin.outbox import email as outgoing
from plugin.outbox.models import OutboxItem
from plugin.tenancy.models import User

# One plain address (fullmatch): no list separators, comments, quotes or angle brackets, which a mail library
# would read as several recipients or a display name.
EMAIL = re.compile(r"[^@\s,;()<>\"\\\[\]:]{1,64}@[^@\s,;()<>\"\\\[\]:]+\.[^@\s,;()<>\"\\\[\]:]{2,}")
CONFIRM_TTL = timedelta(days=3)
# Confirmation e-mails go to whatever address was typed: a few a day per person (a typo corrected, a mail lost),
# counted from the outbox, which keeps every one queued (shared by all instances, like the rest of the database).
CONFIRM_LIMIT, CONFIRM_WINDOW = 5, timedelta(days=1)


def _secret(purpose: str, value: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Identity:
    kind: str  # email | url
    value: str
    salt: str
    source: str  # lms | confirmed | url | unclaimed

    @property
    def claimed(self) -> bool:
        return self.source != "unclaimed"

    def hashed(self) -> str:
        return "sha256$" + hashlib.sha256((self.value + self.salt).encode()).hexdigest()

    def ob2(self) -> dict:
        return {"type": self.kind, "hashed": True, "salt": self.salt, "identity": self.hashed()}


def recipient_of(user: User, base: str) -> Identity:
    salt = _secret("recipient-salt", str(user.id))[:16]
    row = db.session.get(Recipient, user.id)
    if row is not None and row.kind and row.identity:
        return Identity(row.kind, row.identity, salt, "confirmed" if row.kind == "email" else "url")
    if user.email and EMAIL.fullmatch(user.email):
        return Identity("email", user.email.strip().lower(), salt, "lms")
    return Identity("url", f"{base}/ob/v2/recipients/{_secret('recipient', str(user.id))[:24]}", salt, "unclaimed")


def settings_of(user_id: int) -> Recipient | None:
    return db.session.get(Recipient, user_id)


def _row(user_id: int, now: datetime) -> Recipient:
    """The person's row, made if missing, locked for the change and read afresh: a second request at once (a double
    click the first time) waits at the key and changes the first's row, instead of failing on it."""
    insert_ignore(db.session, Recipient.__table__, {"user_id": user_id, "show_name": False, "updated_at": now},
                  ["user_id"], returning=False)
    return db.session.get(Recipient, user_id, with_for_update=True, populate_existing=True)


def request_email(actor: Actor, address: str, confirm_url_for, now: datetime) -> Recipient:
    """Start claiming with an address: store it pending and e-mail a confirmation link (after commit)."""
    address = (address or "").strip().lower()
    if not EMAIL.fullmatch(address) or len(address) > 400:
        raise InvalidInput(_("Enter an e-mail address."), errors={"email": [_("Like name@example.org.")]})
    # The person's row first: requests at once take turns there, so each counts the mails the others queued (the
    # limit held; SQLite serialises writers already).
    row = _row(actor.user_id, now)
    _check_confirmations(actor.user_id, now)
    token = secrets.token_urlsafe(24)
    row.pending_email, row.token_hash = address, hashlib.sha256(token.encode()).hexdigest()
    row.token_expires_at, row.updated_at = now + CONFIRM_TTL, now
    db.session.flush()
    link = confirm_url_for(token)
    # In the language of the page the person asked from.
    outgoing.send(to=address, subject=_("Confirm the address for your Tinker badges"),
                  body=_("Someone (we hope you) asked to receive Open Badges from Tinker at this address.\n\n"
                         "Confirm it by opening this link within 3 days:\n%(link)s\n\n"
                         "If it was not you, ignore this message.", link=link),
                  key=f"badges:confirm:{actor.user_id}:{row.token_hash[:16]}", now=now)
    return row


def _check_confirmations(user_id: int, now: datetime) -> None:
    since = now - CONFIRM_WINDOW
    sent, first = db.session.execute(select(func.count(), func.min(OutboxItem.created_at)).where(
        OutboxItem.dedupe_key.like(f"badges:confirm:{user_id}:%"), OutboxItem.created_at > since)).one()
    if sent >= CONFIRM_LIMIT:
        wait = max(60, int((first + CONFIRM_WINDOW - now).total_seconds()))
        message = _("You asked for %(num)s confirmation e-mails in the last 24 hours. Use the link in the latest one, "
                    "or ask again in %(hours)s hours.", num=CONFIRM_LIMIT, hours=(wait + 3599) // 3600)
        raise RateLimited(message, retry_after=wait)


def confirm_email(token: str, now: datetime) -> Recipient:
    digest = hashlib.sha256((token or "").encode()).hexdigest()
    row = db.session.scalar(select(Recipient).where(Recipient.token_hash == digest))
    if row is None or row.token_expires_at is None or row.token_expires_at < now or not row.pending_email:
        raise NotFound(_("That confirmation link is unknown or has expired. Ask for a new one from your badges page."))
    row.kind, row.identity, row.confirmed_at = "email", row.pending_email, now
    row.pending_email = row.token_hash = row.token_expires_at = None
    row.updated_at = now
    db.session.flush()
    return row


def set_identity_url(actor: Actor, url: str, now: datetime) -> Recipient:
    url = (url or "").strip()
    if not re.match(r"^https?://[^\s/]+\.[^\s]+$", url) or len(url) > 1000:
        raise InvalidInput(_("Enter a web address that identifies you."), errors={"url": [_("An http(s) URL.")]})
    row = _row(actor.user_id, now)
    row.kind, row.identity, row.confirmed_at, row.updated_at = "url", url, now, now
    db.session.flush()
    return row


def set_show_name(actor: Actor, show: bool, now: datetime) -> Recipient:
    row = _row(actor.user_id, now)
    row.show_name, row.updated_at = bool(show), now
    db.session.flush()
    return row


def user(user_id: int) -> User:
    found = db.session.get(User, user_id)
    if found is None:
        raise NotFound(_("No such person."))
    return found
