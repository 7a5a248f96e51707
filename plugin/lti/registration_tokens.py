"""Registration tokens: the operator's single-use, expiring permission for one dynamic registration.

Only a SHA-256 of each token is stored. A use claims the token atomically before anything is fetched
(so two concurrent uses cannot both register) and gives it back if the registration then fails, so a
token is spent exactly when it produced a registration.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, select, update

from plugin.errors import Forbidden, InvalidInput, NotFound
from plugin.extensions import db
from plugin.i18n import gettext as _
from plugin.i18n import lazy_gettext as _l
from plugin.lti.models import RegistrationToken
from plugin.tenancy.models import Organisation
from plugin.tenancy.service import get_or_create_organisation

MAX_TTL = timedelta(days=30)
MAX_FAILED_REGISTRATIONS = 10  # tries of one link that failed (the platform refused, could not be reached...)
# The operator's token rides in the initiation URL the LMS admin pastes; the platform adds its own
# openid_configuration and registration_token parameters next to it, so the name must differ.
TOKEN_PARAM = "tinker_token"


class RegistrationForbidden(Forbidden):
    title = _l("This registration link cannot be used")


@dataclass(frozen=True)
class IssuedToken:
    token: str
    organisation: str
    expires_at: datetime


@dataclass(frozen=True)
class Claim:
    """A token held by one registration in progress (plain values: valid across commits)."""

    token_id: int
    organisation_id: int
    claimed_at: datetime


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_registration_token(organisation: str, now: datetime, ttl: timedelta,
                             create_organisation: bool = False) -> IssuedToken:
    """A token for an existing organisation; a new one is started only when asked (a typo must not start one)."""
    organisation = organisation.strip()
    if not organisation:
        raise InvalidInput("an organisation name is required", errors={"org": [_("Required.")]})
    if not timedelta(0) < ttl <= MAX_TTL:
        raise InvalidInput(f"the token must expire within {MAX_TTL.days} days",
                           errors={"expires_in": [_("Out of range.")]})
    if create_organisation:
        org = get_or_create_organisation(organisation, now)
    else:
        org = db.session.scalar(select(Organisation).where(Organisation.name == organisation))
        if org is None:
            raise NotFound(f"no organisation named {organisation!r}.",
                           hint="Check the name (`flask lti show-config` lists each registration's organisation), "
                                "or add --create-org to start a new organisation.")
    token = secrets.token_urlsafe(32)
    db.session.add(RegistrationToken(token_hash=_hash(token), organisation_id=org.id, created_at=now,
                                     expires_at=now + ttl))
    db.session.flush()
    return IssuedToken(token=token, organisation=org.name, expires_at=now + ttl)


def claim_registration_token(token: str | None, now: datetime) -> Claim:
    """Take the token for this registration, or refuse (403) without having fetched anything."""
    hint = "Ask the Tinker operator for a new registration link (`flask lti registration-token --org ...`)."
    if not token:
        raise RegistrationForbidden(_("This registration link has no Tinker registration token."), hint=hint)
    token_hash = _hash(token)
    taken = db.session.execute(
        update(RegistrationToken)
        .where(RegistrationToken.token_hash == token_hash, RegistrationToken.used_at.is_(None),
               RegistrationToken.expires_at > now)
        .values(used_at=now)
    )
    row = db.session.execute(select(RegistrationToken.id, RegistrationToken.organisation_id,
                                    RegistrationToken.used_at, RegistrationToken.expires_at,
                                    RegistrationToken.failures)
                             .where(RegistrationToken.token_hash == token_hash)).first()
    if taken.rowcount == 1 and row is not None:
        return Claim(token_id=row.id, organisation_id=row.organisation_id, claimed_at=now)
    if row is None:
        raise RegistrationForbidden(_("This registration link's token is not known to Tinker."), hint=hint)
    if row.used_at is not None and row.failures >= MAX_FAILED_REGISTRATIONS:
        raise RegistrationForbidden(_("This registration link failed too many times and no longer works."),
                                    hint=hint)
    if row.used_at is not None:
        raise RegistrationForbidden(_("This registration link has already been used."), hint=hint)
    raise RegistrationForbidden(_("This registration link has expired."), hint=hint)


def release_registration_token(claim: Claim) -> None:
    """Give the token back after a failed registration (only if it is still ours and unspent), counting the failure:
    after MAX_FAILED_REGISTRATIONS it stays used. Each try makes Tinker call the URLs the request names and shows
    what they answered, so one link is not an unlimited probe of whatever Tinker can reach."""
    failures = RegistrationToken.failures + 1
    db.session.execute(
        update(RegistrationToken)
        .where(RegistrationToken.id == claim.token_id, RegistrationToken.used_at == claim.claimed_at,
               RegistrationToken.platform_id.is_(None))
        .values(failures=failures,
                used_at=case((failures >= MAX_FAILED_REGISTRATIONS, RegistrationToken.used_at), else_=None))
    )


def spend_registration_token(claim: Claim, platform_id: int) -> None:
    db.session.execute(update(RegistrationToken).where(RegistrationToken.id == claim.token_id)
                       .values(platform_id=platform_id))
