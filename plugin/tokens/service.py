"""Issue, list, revoke and check API tokens; count requests per token per minute in the database."""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select

from plugin.audit.service import record
from plugin.core.actor import Actor
from plugin.core.db import upsert_increment
from plugin.errors import Forbidden, InvalidInput, NotFound, Unauthenticated
from plugin.extensions import db
from plugin.i18n import gettext as _
from plugin.i18n import lazy_gettext as _l
from plugin.tenancy.models import Platform, User
from plugin.tenancy.service import lock_organisation
from plugin.tokens.models import ApiRateWindow, ApiToken

SCOPES = {  # scope -> what it allows, as the admin page describes it (lazy: in the admin's language)
    "insights:read": _l("Read insights reports of any course and team in the organisation"),
    "ledger:read": _l("Export the organisation's points ledger"),
    # As a manager may: award a badge by hand, and revoke any award (a rule's too: its points are reversed with it).
    "awards:write": _l("List badges, award badges by hand and revoke any badge award (with its points)"),
}
TOKEN_PREFIX = "tkn_"
BY_OPERATOR = "operator"  # the audit details' "by" of a token issued or revoked at the command line
PREFIX_CHARS = 12
MAX_DAYS = 366


@dataclass(frozen=True)
class Issued:
    token: ApiToken
    secret: str  # shown once, never stored
    replaced: ApiToken | None = None  # the token the same form issued before, revoked for this one


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _check(organisation_id: int, name: str, scopes: list[str], days: int) -> None:
    errors = {}
    if not name.strip() or len(name) > 100:
        errors["name"] = [_("Give the token a name of 1 to 100 characters.")]
    unknown = sorted(set(scopes) - set(SCOPES))
    if not scopes or unknown:
        errors["scopes"] = [_("Choose scopes among %(scopes)s.", scopes=", ".join(sorted(SCOPES)))]
    if not 1 <= days <= MAX_DAYS:
        errors["days"] = [_("A token lives 1 to %(days)s days.", days=MAX_DAYS)]
    if errors:
        raise InvalidInput(_("The token could not be issued."), errors=errors)


def issue(organisation_id: int, name: str, scopes: list[str], days: int, now: datetime,
          actor: Actor | None = None, submission_key: str | None = None) -> Issued:
    """A new token for the organisation (by an admin of it, or by the operator when actor is None).

    `submission_key`: the admin page's form. Sent again unchanged within REPLACE_WITHIN (a double click, Back and send
    again) while the token it issued has not been used, it replaces that token: it is revoked and a new one issued,
    whose secret this response shows. The browser shows the last response only, so a first token whose secret
    nobody saw does not stay valid. Two sendings at once take turns on the organisation's row: the second replaces
    what the first committed. A token already used, older, or a form sent again with other values is left alone:
    the sending issues a token of its own."""
    if actor is not None and (not actor.can_administer or actor.organisation_id != organisation_id):
        raise Forbidden(_("Only administrators issue API tokens."))
    _check(organisation_id, name, scopes, days)
    platform_id = db.session.scalar(select(Platform.id).where(Platform.organisation_id == organisation_id)
                                    .order_by(Platform.id).limit(1))
    if platform_id is None:
        raise InvalidInput(_("Register a platform for this organisation first."))
    replaced = None
    if submission_key:
        lock_organisation(organisation_id)
        replaced = db.session.scalar(select(ApiToken).where(ApiToken.organisation_id == organisation_id,
                                                            ApiToken.submission_key == submission_key)
                                     .execution_options(populate_existing=True))
        if replaced is not None and _same_sending(replaced, name, scopes, days, now):
            replaced.submission_key = None  # the key goes to the token issued now
            revoke(organisation_id, replaced.id, now, actor)
        elif replaced is not None:  # kept: this sending's token has no key
            replaced, submission_key = None, None
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    prefix = secret[:PREFIX_CHARS]
    user = User(platform_id=platform_id, sub=f"tinker:api-token:{prefix}", name=f"API token: {name.strip()}",
                created_at=now)
    db.session.add(user)
    db.session.flush()
    token = ApiToken(organisation_id=organisation_id, name=name.strip(), prefix=prefix, token_hash=_hash(secret),
                     scopes=" ".join(sorted(set(scopes))), service_user_id=user.id,
                     created_by_user_id=actor.user_id if actor else None, created_at=now,
                     expires_at=now + timedelta(days=days), submission_key=submission_key or None)
    db.session.add(token)
    db.session.flush()
    details = {"name": token.name, "scopes": token.scopes, "days": days}
    if replaced is not None:
        details["replaces"] = replaced.prefix
    _audit(actor, token, "api_token.issued", details, now)
    return Issued(token, secret, replaced)


REPLACE_WITHIN = timedelta(minutes=10)


def _same_sending(token: ApiToken, name: str, scopes: list[str], days: int, now: datetime) -> bool:
    """Whether a form sent again stands for `token`, issued by its first sending: the same values, within
    REPLACE_WITHIN, the token never used nor revoked."""
    return (token.revoked_at is None and token.last_used_at is None and now - token.created_at <= REPLACE_WITHIN
            and token.name == name.strip() and token.scopes == " ".join(sorted(set(scopes)))
            and token.expires_at - token.created_at == timedelta(days=days))


def _audit(actor: Actor | None, token: ApiToken, action: str, details: dict, now: datetime) -> None:
    if actor is None:  # the operator at the command line: recorded as the token's own account
        actor = token_actor(token, course_id=None)
        details = {**details, "by": BY_OPERATOR}
    record(actor, action, "api_token", token.id, details, now, course_scoped=False)


def tokens(actor: Actor) -> list[ApiToken]:
    if not actor.can_administer:
        raise Forbidden(_("Only administrators see API tokens."))
    return list(db.session.scalars(select(ApiToken).where(ApiToken.organisation_id == actor.organisation_id)
                                   .order_by(ApiToken.id.desc())))


def revoke(organisation_id: int, token_id: int, now: datetime, actor: Actor | None = None) -> ApiToken:
    if actor is not None and (not actor.can_administer or actor.organisation_id != organisation_id):
        raise Forbidden(_("Only administrators revoke API tokens."))
    # Locked and read afresh: a revocation at the same moment commits first, and this one finds it done (one audit
    # event, the first time kept; SQLite serialises writers already).
    token = db.session.scalar(select(ApiToken).where(ApiToken.id == token_id).with_for_update(key_share=True)
                              .execution_options(populate_existing=True))
    if token is None or token.organisation_id != organisation_id:
        raise NotFound(_("No such API token."))
    if token.revoked_at is None:
        token.revoked_at = now
        db.session.flush()
        _audit(actor, token, "api_token.revoked", {"name": token.name}, now)
    return token


def authenticate(secret: str, now: datetime) -> ApiToken:
    """The live token behind a presented secret, or Unauthenticated (one message for every failure)."""
    token = None
    if secret.startswith(TOKEN_PREFIX) and len(secret) > PREFIX_CHARS and "\x00" not in secret:
        token = db.session.scalar(select(ApiToken).where(ApiToken.prefix == secret[:PREFIX_CHARS]))
    if (token is None or not hmac.compare_digest(token.token_hash, _hash(secret))
            or token.revoked_at is not None or token.expires_at <= now):
        raise Unauthenticated(_("This API token is not valid, has expired or was revoked."))
    return token


def count_request(token: ApiToken, now: datetime) -> int:
    """Count one request in the token's current minute; return the count so far (all instances alike)."""
    window = now.replace(second=0, microsecond=0)
    upsert_increment(db.session, ApiRateWindow.__table__, {"token_id": token.id, "window_start": window},
                     {"count": 1})
    db.session.execute(delete(ApiRateWindow).where(ApiRateWindow.token_id == token.id,
                                                   ApiRateWindow.window_start < window - timedelta(minutes=5)))
    token.last_used_at = now
    db.session.flush()
    return db.session.scalar(select(ApiRateWindow.count).where(ApiRateWindow.token_id == token.id,
                                                               ApiRateWindow.window_start == window))


def token_actor(token: ApiToken, course_id: int | None) -> Actor:
    """The organisation-level integration actor: admin rights in the organisation, narrowed by scopes at the API."""
    from plugin.core.actor import Role

    platform_id = db.session.scalar(select(User.platform_id).where(User.id == token.service_user_id))
    return Actor(user_id=token.service_user_id, course_id=course_id or 0, organisation_id=token.organisation_id,
                 platform_id=platform_id, role=Role.ADMIN, display_name=f"API token: {token.name}")
