"""LTI Dynamic Registration 1.0, tool side: read the platform's OpenID configuration, post Tinker's
client registration, and record what the platform assigned.

Unlike pylti1p3's fork, the configuration's issuer must be the configuration URL's origin or a path
prefix of it (a configuration URL cannot speak for another issuer), redirects are not followed,
responses are size-capped, and every call has a timeout. Instructure-hosted Canvas passes as it is: its
configuration URL is on the issuer's host (https://canvas.instructure.com/api/lti/security/openid-configuration),
while a school's own page frames the registration.

Canvas's dialect (self-hosted and hosted): placements advertised as https://canvas.instructure.com/lti/<name>
URIs per message type, the school's host in .../lti/account_domain (the page framing the registration), the
privacy level asked for with .../lti/privacy_level, and the deployment id at the answer's top level.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

import requests
from sqlalchemy import select

from plugin.errors import DomainError
from plugin.extensions import db
from plugin.i18n import gettext as _
from plugin.i18n import lazy_gettext as _l
from plugin.lti import claim_values, install, keys, platform_http
from plugin.lti import claims as C
from plugin.lti.platform_keys import ALLOWED_ALGS
from plugin.lti.registration_tokens import Claim, spend_registration_token
from plugin.onboarding.service import ensure_defaults
from plugin.tenancy import service as tenancy
from plugin.tenancy.models import Organisation, Platform
from plugin.tenancy.service import origin_of

TOOL_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-tool-configuration"
PLATFORM_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-platform-configuration"
MAX_RESPONSE_BYTES = 256 * 1024
ENDPOINTS = ("authorization_endpoint", "token_endpoint", "jwks_uri", "registration_endpoint")
# Placement names Tinker offers, in the vocabularies platforms advertise (spec examples, Moodle, Canvas).
DEEP_LINK_PLACEMENTS = ("ContentArea", "AddContentMenu", "link_selection", "assignment_selection")
LAUNCH_PLACEMENTS = ("course_navigation",)
# Canvas: its own names for the picker's placements (those of canvas.json; not the IMS ContentArea, which Canvas
# also lists), its placement URIs and configuration extensions.
CANVAS_DEEP_LINK_PLACEMENTS = ("link_selection", "assignment_selection")
CANVAS_EXTENSION = "https://canvas.instructure.com/lti/"
CANVAS_ACCOUNT_DOMAIN = CANVAS_EXTENSION + "account_domain"
CANVAS_PRIVACY_LEVEL_KEY = CANVAS_EXTENSION + "privacy_level"
# Instructure-hosted Canvas: the issuers every school shares (production, beta, test), whose configuration URL is
# on the issuer's host while a school's page (*.instructure.com) frames the registration.
CANVAS_CLOUD_ISSUERS = frozenset({"https://canvas.instructure.com", "https://canvas.beta.instructure.com",
                                  "https://canvas.test.instructure.com"})
CANVAS_CLOUD_FRAMES = "https://*.instructure.com"
_HOST = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?(?::[0-9]{1,5})?")


class RegistrationFailed(DomainError):
    status, code, title = 400, "registration_failed", _l("Tinker could not be registered")


class PlatformUnreachable(RegistrationFailed):
    status = 502


class AlreadyRegistered(RegistrationFailed):
    status = 409


@dataclass(frozen=True)
class PlatformConfiguration:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    registration_endpoint: str
    product: str
    messages: frozenset[str]
    placements: tuple[str, ...]
    scopes: frozenset[str] = frozenset()  # scopes_supported
    # (message type, the placements advertised for it): Canvas lists them per message type
    message_placements: tuple[tuple[str, tuple[str, ...]], ...] = ()
    frame_origin: str | None = None  # the page framing the registration, when the platform names it (Canvas)


@dataclass(frozen=True)
class AssignedClient:
    client_id: str
    deployment_id: str | None


def issuer_matches(issuer: str, configuration_url: str) -> bool:
    """The issuer must be the configuration URL's origin, or a prefix of it ending at a path segment."""
    origin = origin_of(issuer)
    if origin is None or origin != origin_of(configuration_url):
        return False
    issuer_parts, url_parts = urlsplit(issuer), urlsplit(configuration_url)
    if issuer_parts.query or issuer_parts.fragment or issuer_parts.username or issuer_parts.password:
        return False
    prefix = issuer_parts.path.rstrip("/")
    return not prefix or url_parts.path == prefix or url_parts.path.startswith(prefix + "/")


def _frame_origin(lti: dict, configuration_url: str) -> str | None:
    """The school's Canvas host that frames the registration (Canvas's account_domain, a bare host[:port]), as an
    origin with the configuration URL's scheme; None when absent or not a host."""
    domain = lti.get(CANVAS_ACCOUNT_DOMAIN)
    if not isinstance(domain, str) or not _HOST.fullmatch(domain):
        return None
    return origin_of(f"{urlsplit(configuration_url).scheme}://{domain}")


@dataclass(frozen=True)
class _Answer:
    status: int
    body: bytes
    url: str

    def text(self, limit: int = 300) -> str:
        return self.body[:limit].decode("utf-8", "replace").strip() or "(empty body)"


def _send(method: str, url: str, what: str, timeout: float, **kwargs) -> _Answer:
    try:
        resp = platform_http.call(method, url, timeout=timeout, keep=MAX_RESPONSE_BYTES + 1, **kwargs)
    except platform_http.NotPublic as exc:
        # Said before a byte is sent: nothing of what answers there is shown to whoever holds the link, nor which
        # address the name has on the server's network (the operator's log has it).
        platform_http.refused_private(url, exc)
        raise RegistrationFailed(
            _("The platform's %(what)s is on a private network address, which Tinker does not call here.",
              what=what),
            hint=_("An LMS on the organisation's own network needs the operator to allow it "
                   "(TINKER_LTI_ALLOW_PRIVATE_PLATFORMS).")) from None
    except requests.RequestException as exc:
        raise PlatformUnreachable(_("The platform's %(what)s could not be reached.", what=what),
                                  hint=_("Tinker called %(url)s and got: %(error)s.", url=url,
                                          error=type(exc).__name__)) from None
    if len(resp.content) > MAX_RESPONSE_BYTES:
        raise RegistrationFailed(_("The platform's %(what)s answered with far too much data.", what=what))
    return _Answer(status=resp.status_code, body=resp.content, url=url)


def _json_object(answer: _Answer, what: str) -> dict:
    try:
        # NUL characters left out of its text, as out of a launch's (claim_values.without_nul): PostgreSQL refuses
        # them in the platform's name, endpoints and ids it stores
        document = claim_values.without_nul(json.loads(answer.body))
    except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser goes
        document = None
    if not isinstance(document, dict):
        raise RegistrationFailed(_("The platform's %(what)s did not answer with a JSON object.", what=what),
                                 hint=_("HTTP %(status)s from %(url)s: %(text)s", status=answer.status,
                                         url=answer.url, text=answer.text(120)))
    return document


def fetch_platform_configuration(url: str | None, registration_token: str | None,
                                 timeout: float) -> PlatformConfiguration:
    if origin_of(url) is None:
        raise RegistrationFailed(_("The registration request has no valid openid_configuration URL."),
                                 hint=_("Start the registration from the LMS's tool registration page."))
    headers = {"Accept": "application/json"}
    if registration_token:
        headers["Authorization"] = f"Bearer {registration_token}"
    answer = _send("GET", url, "OpenID configuration", timeout, headers=headers)
    if answer.status != 200:
        raise RegistrationFailed(_("The platform's OpenID configuration could not be read."),
                                 hint=_("HTTP %(status)s from %(url)s: %(text)s", status=answer.status, url=url,
                                         text=answer.text(120)))
    return parse_platform_configuration(_json_object(answer, "OpenID configuration"), url)


def _strings(value) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def parse_platform_configuration(document: dict, url: str) -> PlatformConfiguration:
    issuer = document.get("issuer")
    if not isinstance(issuer, str) or not issuer:
        raise RegistrationFailed(_("The platform's OpenID configuration names no issuer."))
    if not issuer_matches(issuer, url):
        raise RegistrationFailed(
            _("The platform's OpenID configuration names an issuer it does not belong to."),
            hint=_("Issuer %(issuer)s must be the origin (or a path prefix) of the configuration URL %(url)s.",
                   issuer=repr(issuer), url=repr(url)))
    if len(issuer) > 400:
        raise RegistrationFailed(_("The platform's issuer is longer than Tinker stores (400 characters)."))
    missing = [name for name in ENDPOINTS if origin_of(document.get(name)) is None]
    if missing:
        raise RegistrationFailed(_("The platform's OpenID configuration is incomplete."),
                                 hint=_("Missing, not an http(s) URL or too long: %(names)s.", names=", ".join(missing)))
    methods = document.get("token_endpoint_auth_methods_supported")
    if methods is not None and "private_key_jwt" not in _strings(methods):
        raise RegistrationFailed(_("The platform does not accept private_key_jwt at its token endpoint."))
    algs = document.get("id_token_signing_alg_values_supported")
    if algs is not None and not ALLOWED_ALGS.intersection(_strings(algs)):
        raise RegistrationFailed(_("The platform signs id_tokens with no algorithm Tinker accepts (RS256/384/512)."))
    lti = document.get(PLATFORM_CONFIGURATION)
    lti = lti if isinstance(lti, dict) else {}
    # messages_supported is a list of names (Moodle) or of {"type": ..., "placements": [...]} objects.
    supported = lti.get("messages_supported") if isinstance(lti.get("messages_supported"), list) else []
    messages = {m if isinstance(m, str) else m.get("type") for m in supported if isinstance(m, (str, dict))}
    placements = _strings(lti.get("placements")) + [
        p for m in supported if isinstance(m, dict) for p in _strings(m.get("placements"))]
    by_message = tuple((m["type"], tuple(dict.fromkeys(_strings(m.get("placements"))))) for m in supported
                       if isinstance(m, dict) and isinstance(m.get("type"), str) and _strings(m.get("placements")))
    product = " ".join(str(lti.get(k)) for k in ("product_family_code", "version") if lti.get(k))
    return PlatformConfiguration(
        issuer=issuer, **{name: document[name] for name in ENDPOINTS}, product=product[:200],
        messages=frozenset(m for m in messages if isinstance(m, str)), placements=tuple(dict.fromkeys(placements)),
        scopes=frozenset(_strings(document.get("scopes_supported"))), message_placements=by_message,
        frame_origin=_frame_origin(lti, url))


def _placements(offered: tuple[str, ...], advertised: tuple[str, ...]) -> dict:
    """The offered placements the platform advertises, in its own spelling (Canvas advertises course_navigation as
    https://canvas.instructure.com/lti/course_navigation); all of them when it advertises none."""
    if not advertised:
        return {"placements": list(offered)}
    spelled: dict[str, str] = {}
    for name in advertised:
        spelled.setdefault(name.removeprefix(CANVAS_EXTENSION), name)
    chosen = [spelled[p] for p in offered if p in spelled]
    return {"placements": chosen} if chosen else {}


def _is_canvas(platform: PlatformConfiguration) -> bool:
    """Canvas names itself "canvas" in the product_family_code of its OpenID configuration; other LMSs would
    send its group-ids variable back unsubstituted, so only Canvas is asked for it."""
    return platform.product.split(" ")[0].lower() == "canvas"


def client_registration(base_url: str, platform: PlatformConfiguration) -> dict:
    """The client registration Tinker posts (OpenID Connect registration + the LTI tool configuration)."""
    u = install.urls(base_url)

    def advertised(message: str) -> tuple[str, ...]:
        return dict(platform.message_placements).get(message) or platform.placements

    canvas = _is_canvas(platform)
    messages = [{"type": C.RESOURCE_LINK_REQUEST, "target_link_uri": u["launch"], "label": install.TITLE,
                 **_placements(LAUNCH_PLACEMENTS, advertised(C.RESOURCE_LINK_REQUEST))}]
    if not platform.messages or C.DEEP_LINKING_REQUEST in platform.messages:
        offered = CANVAS_DEEP_LINK_PLACEMENTS if canvas else DEEP_LINK_PLACEMENTS
        messages.append({"type": C.DEEP_LINKING_REQUEST, "target_link_uri": u["launch"],
                         "label": f"Add {install.TITLE}", **_placements(offered, advertised(C.DEEP_LINKING_REQUEST))})
    return {
        "application_type": "web",
        "response_types": ["id_token"],
        "grant_types": ["implicit", "client_credentials"],
        "initiate_login_uri": u["login"],
        "redirect_uris": [u["launch"]],
        "client_name": install.TITLE,
        "jwks_uri": u["jwks"],
        "token_endpoint_auth_method": "private_key_jwt",
        "scope": " ".join(install.SCOPES + ((install.GROUPS_SCOPE,) if install.GROUPS_SCOPE in platform.scopes else ())),
        TOOL_CONFIGURATION: {
            "domain": install.domain(base_url),
            "description": install.DESCRIPTION,
            "target_link_uri": u["launch"],
            "custom_parameters": dict(install.CANVAS_CUSTOM_PARAMETERS if canvas else install.CUSTOM_PARAMETERS),
            "claims": list(install.CLAIMS),
            "messages": messages,
            # Canvas sends names and e-mail addresses only at this level (canvas.json asks for the same)
            **({CANVAS_PRIVACY_LEVEL_KEY: install.CANVAS_PRIVACY} if canvas else {}),
        },
    }


def post_client_registration(platform: PlatformConfiguration, payload: dict, registration_token: str | None,
                             timeout: float) -> AssignedClient:
    headers = {"Accept": "application/json", "Content-Type": "application/json"}
    if registration_token:
        headers["Authorization"] = f"Bearer {registration_token}"
    answer = _send("POST", platform.registration_endpoint, "registration endpoint", timeout,
                   data=json.dumps(payload), headers=headers)
    if answer.status not in (200, 201):
        raise RegistrationFailed(_("The platform refused Tinker's registration."),
                                 hint=_("HTTP %(status)s from %(url)s: %(text)s", status=answer.status,
                                         url=answer.url, text=answer.text()))
    document = _json_object(answer, "registration endpoint")
    client_id = document.get("client_id")
    if not isinstance(client_id, (str, int)) or isinstance(client_id, bool) or not str(client_id).strip():
        raise RegistrationFailed(_("The platform's registration answer has no client_id."))
    tool = document.get(TOOL_CONFIGURATION)
    # Inside the tool configuration (the specification, Moodle), or at the answer's top level (Canvas)
    deployment_id = tool.get("deployment_id") if isinstance(tool, dict) else None
    if deployment_id is None:
        deployment_id = document.get("deployment_id")
    if isinstance(deployment_id, bool) or not isinstance(deployment_id, (str, int)) or not str(deployment_id):
        deployment_id = None
    return AssignedClient(client_id=str(client_id)[:400], deployment_id=None if deployment_id is None
                          else str(deployment_id)[:400])


def record_registration(claim: Claim, platform: PlatformConfiguration, assigned: AssignedClient,
                        now: datetime) -> Platform:
    """Store the registration for the token's organisation. Without a deployment id from the platform (or from
    Canvas, which makes more), the registration records deployments as they first launch. A client id the platform's
    issuer is already registered with is taken only as the same registration again (a platform retrying with the
    client id it assigned before: same organisation, same endpoints and key set); otherwise it is refused, as a
    registration link never changes an existing registration's keys or endpoints (only the operator does, `flask lti
    add-platform`)."""
    existing = db.session.scalar(select(Platform).where(Platform.issuer == platform.issuer,
                                                        Platform.client_id == assigned.client_id))
    if existing is not None and (existing.organisation_id, existing.auth_login_url, existing.auth_token_url,
                                 existing.key_set_url) != (claim.organisation_id, platform.authorization_endpoint,
                                                           platform.token_endpoint, platform.jwks_uri):
        raise AlreadyRegistered(
            _("Tinker already has a registration for this platform and client id."),
            hint=_("Issuer %(issuer)s, client id %(client_id)s. The operator can change it with flask lti add-platform.",
                   issuer=platform.issuer, client_id=assigned.client_id))
    organisation = db.session.get(Organisation, claim.organisation_id)
    registered = tenancy.register_platform(tenancy.PlatformSpec(
        issuer=platform.issuer, client_id=assigned.client_id, auth_login_url=platform.authorization_endpoint,
        auth_token_url=platform.token_endpoint, key_set_url=platform.jwks_uri,
        deployment_ids=(assigned.deployment_id,) if assigned.deployment_id else (),
        organisation=organisation.name, name=platform.product,
        # Canvas makes a deployment id for every account, sub-account or course install of the one developer key
        # (the manual set-up's --accept-new-deployments): they are recorded at their first launch.
        accept_new_deployments=True if _is_canvas(platform) or not assigned.deployment_id else None), now)
    if platform.frame_origin:
        tenancy.add_frame_origin(registered, platform.frame_origin, now, source="registration")
    ensure_defaults(registered.organisation_id, now)
    keys.ensure_key(now)
    spend_registration_token(claim, registered.id)
    db.session.flush()
    return registered
