"""OIDC third-party initiated login: record state and nonce, send the browser to the platform."""
from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

from sqlalchemy import Row, bindparam, func, select

from plugin.core.db import read
from plugin.errors import LaunchRejected
from plugin.extensions import db
from plugin.i18n import gettext as _
from plugin.lti import shared_store
from plugin.tenancy.models import FrameOrigin, Platform
from plugin.tenancy.service import issuer_spelled_otherwise, origin_of

STORAGE_TARGET = re.compile(r"_parent|[A-Za-z0-9_-]{1,100}")


@dataclass(frozen=True)
class LoginRedirect:
    url: str
    state: str
    nonce: str = ""
    storage_target: str | None = None  # LTI platform storage offered: keep state and nonce there too
    platform_origin: str | None = None  # where the storage messages go (the platform's OIDC auth origin)
    platform_id: int | None = None
    frame_origins: str | None = None  # the registration's, space-separated (read with it)


def _registration_statement(with_client: bool):
    origins = select(func.aggregate_strings(FrameOrigin.origin, " ")).where(
        FrameOrigin.platform_id == Platform.id).scalar_subquery()
    query = select(Platform.id, Platform.client_id, Platform.auth_login_url, origins.label("frame_origins")).where(
        Platform.issuer == bindparam("issuer"))
    if with_client:
        query = query.where(Platform.client_id == bindparam("client_id"))
    return query.limit(2)


# Built once: every login asks (a plain row with the platform's frame origins, not an ORM object).
_REGISTRATION = {with_client: _registration_statement(with_client) for with_client in (False, True)}


def issuer_mismatch_hint(issuer: str) -> str | None:
    """For an issuer registered with or without a trailing slash the other way: both spellings, for the operator."""
    registered = issuer_spelled_otherwise(issuer)
    if registered is None:
        return None
    return _("The LMS sends issuer %(issuer)s, but Tinker has %(registered)s registered: issuers must match "
             "exactly. The operator registers the issuer the LMS sends (`flask lti add-platform --issuer ...`) "
             "and removes the other (`flask lti remove-platform`).", issuer=repr(issuer), registered=repr(registered))


def _platform_for(issuer: str, client_id: str | None) -> Row:
    candidates = read(db.session, _REGISTRATION[bool(client_id)], {"issuer": issuer, "client_id": client_id}).all()
    if not candidates:
        raise LaunchRejected(
            _("This LMS is not registered with Tinker."),
            hint=issuer_mismatch_hint(issuer) or (_("Issuer %(issuer)s with client id %(client)s is unknown. The Tinker operator registers it with "
                    "`flask lti add-platform`.", issuer=repr(issuer), client=repr(client_id)) if client_id else
                  _("Issuer %(issuer)s is unknown. The Tinker operator registers it with `flask lti add-platform`.",
                    issuer=repr(issuer))),
        )
    if len(candidates) > 1:
        raise LaunchRejected(
            _("The LMS did not say which of its registrations this is."),
            hint=_("Several client ids are registered for this issuer; the login request must include client_id."),
        )
    return candidates[0]


def begin_login(params: dict[str, str], base_url: str, now: datetime, ttl_seconds: int) -> LoginRedirect:
    issuer = (params.get("iss") or "").strip()
    login_hint = params.get("login_hint") or ""
    if not issuer:
        raise LaunchRejected(_("The login request names no issuer (iss)."), hint=_("The LMS must send iss."))
    if not login_hint:
        raise LaunchRejected(_("The login request has no login_hint."), hint=_("The LMS must send login_hint."))
    # target_link_uri is never used as a redirect target (launches always land on /app/), so an LMS
    # that names the tool by another host name (localhost vs 127.0.0.1) still launches.
    platform = _platform_for(issuer, params.get("client_id") or None)

    state = secrets.token_urlsafe(32)
    nonce = secrets.token_urlsafe(32)
    storage_target = params.get("lti_storage_target") or None
    if storage_target is not None and not STORAGE_TARGET.fullmatch(storage_target):
        storage_target = None  # not a frame name we can address: fall back to the cookie
    shared_store.current().put_login(shared_store.LoginState(
        state=state, nonce=nonce, platform_id=platform.id, created_at=now,
        expires_at=now + timedelta(seconds=ttl_seconds), storage_target=storage_target))

    query = {
        "scope": "openid",
        "response_type": "id_token",
        "response_mode": "form_post",
        "prompt": "none",
        "client_id": platform.client_id,
        "redirect_uri": f"{base_url}/lti/launch",
        "state": state,
        "nonce": nonce,
        "login_hint": login_hint,
    }
    if params.get("lti_message_hint"):
        query["lti_message_hint"] = params["lti_message_hint"]
    separator = "&" if "?" in platform.auth_login_url else "?"
    return LoginRedirect(url=platform.auth_login_url + separator + urlencode(query), state=state, nonce=nonce,
                         storage_target=storage_target, platform_origin=origin_of(platform.auth_login_url),
                         platform_id=platform.id, frame_origins=platform.frame_origins)
