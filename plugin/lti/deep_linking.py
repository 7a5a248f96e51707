"""LTI Deep Linking 2.0: check the request's settings, keep what the answer needs in the launch
session, and sign the LtiDeepLinkingResponse with the tool's key (the one /lti/jwks publishes)."""
from __future__ import annotations

import secrets
from datetime import datetime

from plugin.core.actor import Role
from plugin.errors import DomainError, Forbidden, InvalidInput, LaunchRejected
from plugin.i18n import gettext as _
from plugin.i18n import lazy_gettext as _l
from plugin.lti import claims as C
from plugin.lti import keys
from plugin.lti.placements import CUSTOM_VIEW, PLACEABLE, Placeable
from plugin.tenancy.models import Platform
from plugin.tenancy.service import origin_of

SESSION_KEY = "deep_linking"
DL = "https://purl.imsglobal.org/spec/lti-dl/claim/"
RESPONSE = "LtiDeepLinkingResponse"
RESPONSE_TTL = 300


class CannotSign(DomainError):
    """The tool's signing key cannot be used (the server's secret key changed): a server setting, not the user's doing."""

    status, code, title = 503, "tool_key_unreadable", _l("Tinker cannot sign its answer to the LMS")


def _true(value) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def check_request(claims: dict) -> None:
    """What pylti1p3's DeepLinkMessageValidator means to check, plus the return URL it forgets."""
    settings = claims.get(C.DEEP_LINKING)
    if not isinstance(settings, dict) or not settings:
        raise LaunchRejected(_("The deep linking request has no deep_linking_settings."),
                             hint=_("The LMS must send the deep_linking_settings claim."))
    if origin_of(settings.get("deep_link_return_url")) is None:
        raise LaunchRejected(_("The deep linking request has no valid deep_link_return_url."),
                             hint=_("The LMS must say where Tinker sends the selected content."))
    accept_types = settings.get("accept_types")
    if not isinstance(accept_types, list) or "ltiResourceLink" not in accept_types:
        raise LaunchRejected(_("The LMS does not accept LTI resource links from this placement."),
                             hint=_("Tinker places ltiResourceLink items; accept_types must include it."))


def session_settings(claims: dict) -> dict:
    """The part of the request the response needs later (stored in the launch session's services)."""
    settings = claims[C.DEEP_LINKING]
    kept = {"deep_link_return_url": settings["deep_link_return_url"],
            "accept_multiple": _true(settings.get("accept_multiple")),
            "deployment_id": claims[C.DEPLOYMENT_ID]}
    if "data" in settings:  # opaque to Tinker; echoed exactly as sent
        kept["data"] = settings["data"]
    return kept


def authorise_deep_linking(role: Role) -> None:
    if not role.is_staff:
        raise Forbidden(_("Only instructors and administrators can add Tinker to the course."),
                        hint=_("Ask your instructor to place Tinker; you can open it from the course once it is there."))


def settings_of(services: dict | None) -> dict:
    settings = (services or {}).get(SESSION_KEY)
    if not isinstance(settings, dict) or not settings.get("deep_link_return_url"):
        raise Forbidden(_("This page only opens from the LMS's content selection (deep linking)."),
                        hint=_("Use the LMS's 'add content' or 'select content' button for Tinker."))
    return settings


def content_item(placed: Placeable, launch_url: str) -> dict:
    return {"type": "ltiResourceLink", "title": str(placed.title), "text": str(placed.description), "url": launch_url,
            "custom": {CUSTOM_VIEW: placed.key}}


def select_items(chosen: list[str], settings: dict, launch_url: str) -> list[dict]:
    """The content items for the views the manager ticked, as the platform allows (one or several)."""
    wanted = list(dict.fromkeys(chosen))
    if not wanted or any(key not in PLACEABLE for key in wanted):
        raise InvalidInput(_("Choose what to add to the course."), errors={"view": [_("Choose what to add to the course.")]})
    if len(wanted) > 1 and not settings["accept_multiple"]:
        raise InvalidInput(_("This place in the LMS takes one item: choose one."),
                           errors={"view": [_("This place in the LMS takes one item: choose one.")]})
    return [content_item(PLACEABLE[key], launch_url) for key in wanted]


def response_jwt(platform: Platform, settings: dict, items: list[dict], now: datetime) -> str:
    """The signed answer; an empty list of items tells the platform nothing was selected."""
    issued = int(now.timestamp())
    message = {
        "iss": platform.client_id,
        "aud": platform.issuer,
        "iat": issued,
        "exp": issued + RESPONSE_TTL,
        "nonce": secrets.token_urlsafe(24),
        C.DEPLOYMENT_ID: settings["deployment_id"],
        C.MESSAGE_TYPE: RESPONSE,
        C.VERSION: "1.3.0",
        DL + "content_items": items,
    }
    if "data" in settings:
        message[DL + "data"] = settings["data"]
    if not items:
        message[DL + "msg"] = _("Nothing was added.")
    try:
        return keys.sign(message, headers={"typ": "JWT"}, now=now)
    except keys.ToolKeyUnreadable:
        raise CannotSign(
            _("Tinker's signing key cannot be decrypted: the server's secret key (TINKER_SECRET_KEY) was changed after "
              "the key was made. Nothing was added to the course."),
            hint=_("Ask the administrator of the Tinker server to restore the previous TINKER_SECRET_KEY, or to run "
                   "`flask lti rotate-key` to make a new signing key; then try again.")) from None
