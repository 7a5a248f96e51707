"""Validate an LTI 1.3 launch completely and turn it into a claim-free LaunchIdentity.

Closes pylti1p3 2.0.0's gaps: iat leeway, single-use nonce, every aud entry and azp checked, exp
required, unknown issuer as a clear 4xx, HTTP timeouts, state kept where every instance sees it
(the database, or Redis when configured: plugin/lti/shared_store.py).

Two steps: check_launch reads and checks everything; consume_launch then spends the state (single use) in the
transaction that records the launch, so on SQLite the checks run without holding the write lock.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from pylti1p3.exception import LtiException
from pylti1p3.message_validators import get_validators
from sqlalchemy import Row, and_, bindparam, func, select

from plugin.core.db import read
from plugin.errors import Forbidden, LaunchRejected
from plugin.extensions import db
from plugin.i18n import gettext as _
from plugin.i18n import lazy_gettext as _l
from plugin.lti import claim_values, deep_linking, jws, platform_keys, shared_store
from plugin.lti import claims as C
from plugin.lti.login import issuer_mismatch_hint
from plugin.lti.placements import CUSTOM_VIEW
from plugin.lti.roles import map_roles
from plugin.lti.roster import GROUPS_CLAIM
from plugin.tenancy import service as tenancy
from plugin.tenancy.models import Deployment, FrameOrigin, Organisation, Platform

MAX_TOKEN_BYTES = 64 * 1024
MAX_ID_CHARS = 400  # sub, context id and deployment id: what Tinker's columns hold (LTI allows 255)
REQUIRED = ["exp", "iat", "iss", "aud", "nonce"]
ALREADY_USED = (_l("This launch was already used."), _l("Each launch can be used once; launch again from the LMS."))


@dataclass(frozen=True)
class ValidatedLaunch:
    platform: Row  # the registration's columns by name, and defaults_version, deployment_pk, frame_origins
    identity: tenancy.LaunchIdentity
    message_type: str
    return_url: str | None
    services: dict = field(default_factory=dict)
    view: str | None = None  # the placed view a deep-linked resource link asks for (custom tinker_view)
    context_history: tuple[str, ...] = ()  # earlier context ids of a copied course, most recent first
    course_group_ids: tuple[str, ...] | None = None  # Canvas: the course's group ids; None when not announced
    # The e-mail may link identities across LMSs (plugin/identity) unless the platform said it is unverified.
    email_verified: bool = True
    state: str = ""
    deployment_id: str = ""


def _reject(message: str, hint: str | None = None) -> LaunchRejected:
    return LaunchRejected(str(message), hint=None if hint is None else str(hint))


def _malformed(claim: str) -> LaunchRejected:
    return _reject(_("The launch token's %(claim)s claim is malformed.", claim=claim),
                   _("The LMS sent a value of the wrong type or length; its administrator can check the tool's "
                     "launch data."))


def _audiences(aud) -> list[str]:
    if isinstance(aud, str):
        return [aud]
    if isinstance(aud, list) and aud and all(isinstance(a, str) for a in aud):
        return aud
    raise _reject(_("The launch token has no valid audience (aud)."))


def _registrations_statement():
    origins = select(func.aggregate_strings(FrameOrigin.origin, " ")).where(
        FrameOrigin.platform_id == Platform.id).scalar_subquery()
    # The deployment the (not yet verified) token names comes along; it counts only once the signature holds.
    return (select(Platform.id, Platform.organisation_id, Platform.issuer, Platform.client_id, Platform.key_set_url,
                   Platform.accept_new_deployments, Platform.email_authoritative,
                   Organisation.defaults_version, Deployment.id.label("deployment_pk"),
                   origins.label("frame_origins"))
            .join(Organisation, Organisation.id == Platform.organisation_id)
            .outerjoin(Deployment, and_(Deployment.platform_id == Platform.id,
                                        Deployment.deployment_id == bindparam("deployment_id")))
            .where(Platform.issuer == bindparam("issuer")))


# Built once: every launch asks (plain rows, not ORM objects: the registration, its organisation's defaults
# version, the named deployment and the frame origins, in one statement).
_REGISTRATIONS = _registrations_statement()


def _pick_platform(unverified: dict) -> Row:
    """The registration (issuer, client id) the token is meant for: a row with the platform's columns by name,
    plus defaults_version, deployment_pk (None: unknown deployment) and frame_origins (space-separated)."""
    issuer = unverified.get("iss")
    if not isinstance(issuer, str) or not issuer:
        raise _reject(_("The launch token names no issuer (iss)."))
    deployment_id = unverified.get(C.DEPLOYMENT_ID)
    registered = read(db.session, _REGISTRATIONS, {
        "issuer": issuer, "deployment_id": deployment_id if isinstance(deployment_id, str) else ""}).all()
    if not registered:
        raise _reject(_("This LMS is not registered with Tinker."), issuer_mismatch_hint(issuer) or
                      _("Issuer %(issuer)s is unknown; the operator registers it with `flask lti add-platform`.", issuer=repr(issuer)))
    audiences = _audiences(unverified.get("aud"))
    azp = unverified.get("azp")
    known = {p.client_id: p for p in registered}
    matches = [known[a] for a in audiences if a in known]
    if not matches:
        raise _reject(_("The launch token is meant for another tool (aud)."),
                      _("None of %(audiences)s is a client id registered for %(issuer)s.", audiences=repr(audiences),
                        issuer=repr(issuer)))
    if len(audiences) > 1:
        if azp is None:
            raise _reject(_("The launch token has several audiences but no authorised party (azp)."))
        untrusted = [a for a in audiences if a not in known]
        if untrusted:
            raise _reject(_("The launch token is also meant for parties Tinker does not trust."),
                          _("Untrusted audiences: %(audiences)s.", audiences=repr(untrusted)))
    if azp is not None:
        if not isinstance(azp, str) or azp not in known or azp not in audiences:
            raise _reject(_("The launch token's authorised party (azp) is not this tool's client id."))
        return known[azp]
    return matches[0]


def _verify(token: jws.ParsedToken, platform: Row, leeway: int, ttl: int, timeout: float,
            now: datetime) -> dict:
    """Signature first (against the platform's published key), then the time and issuer claims."""
    key, key_alg = platform_keys.key_for(platform.key_set_url, str(token.header["kid"]), ttl, timeout)
    if key_alg != token.header["alg"]:
        raise _reject(_("The launch token's algorithm does not match the platform key."))
    if not jws.signature_valid(token, key, key_alg):
        raise _reject(_("The launch token's signature is not valid."),
                      _("It was not signed by the key the platform publishes."))
    claims = token.claims
    for name in REQUIRED:
        if name not in claims:
            raise _reject(_("The launch token lacks the required %(claim)s claim.", claim=repr(name)))
    times = {name: claims.get(name) for name in ("exp", "iat", "nbf") if name in claims}
    if any(not isinstance(v, (int, float)) or isinstance(v, bool) for v in times.values()):
        raise _reject(_("The launch token's exp, iat and nbf must be numbers."))
    moment = now.timestamp()
    if times["exp"] <= moment - leeway:
        raise _reject(_("The launch has expired."), _("Launch again from the LMS; if it keeps failing, check the "
                      "clocks of the LMS and Tinker servers."))
    if times["iat"] > moment + leeway or times.get("nbf", moment) > moment + leeway:
        raise _reject(_("The launch token is dated in the future (iat)."),
                      _("The LMS server's clock is ahead; check its time synchronisation."))
    if claims.get("iss") != platform.issuer:
        raise _reject(_("The launch token's issuer does not match the registration."))
    return claims


def _check_message(claims: dict) -> None:
    if claims.get(C.VERSION) != "1.3.0":
        raise _reject(_("Only LTI 1.3.0 launches are supported (version claim)."))
    message_type = claims.get(C.MESSAGE_TYPE)
    if not isinstance(message_type, str) or message_type not in C.SUPPORTED_MESSAGES:
        raise _reject(_("Tinker does not handle the message type %(type)s.", type=repr(message_type)[:80]))
    roles = claims.get(C.ROLES)
    if not isinstance(roles, list):
        raise _reject(_("The launch has no roles claim."), _("The LMS must send the user's roles."))
    if not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise _reject(_("The launch names no user (sub)."), _("Anonymous launches are not supported."))
    if len(claims["sub"]) > MAX_ID_CHARS:
        raise _malformed("sub")
    # pylti1p3's validators read the message's own claim as an object (a string there raised AttributeError).
    own = C.DEEP_LINKING if message_type == C.DEEP_LINKING_REQUEST else C.RESOURCE_LINK
    if claims.get(own) is not None and not isinstance(claims[own], dict):
        raise _malformed(own.rsplit("/", 1)[-1])
    for validator in get_validators():
        if validator.can_validate(claims):
            try:
                validator.validate(claims)
            except LtiException as exc:
                raise _reject(_("The launch message is incomplete: %(reason)s.", reason=exc)) from None
    if message_type == C.DEEP_LINKING_REQUEST:
        deep_linking.check_request(claims)


def _check_state(state: str, browser_state: str | None, platform: Row, nonce: str, now: datetime,
                 from_storage: bool) -> None:
    """browser_state is what this browser kept from its login (the state cookie, or, from_storage, the state
    read back from platform storage). Without it a launch is refused even though its state row exists: an
    id_token and state obtained by someone else could otherwise be posted from a victim's browser (login CSRF).
    A state read back from platform storage counts only for a login that kept it there."""
    if browser_state and browser_state != state:
        raise _reject(_("The launch does not belong to the login this browser started (state)."))
    store = shared_store.current()
    row = store.find_login(state)
    if row is None or row.expires_at < now:
        raise _reject(_("The launch's state is unknown or has expired."), _("Launch again from the LMS."))
    if row.platform_id != platform.id:
        raise _reject(_("The launch's state was issued for another LMS."))
    if row.nonce != nonce:
        raise _reject(_("The launch's nonce was not issued by Tinker for this login."))
    if row.consumed_at is not None:
        raise _reject(*ALREADY_USED)
    if not browser_state or (from_storage and not row.storage_target):
        raise _reject(_("Tinker could not confirm that this launch was started in this browser."),
                      _("Your browser blocked Tinker's cookie inside the course page. Open Tinker again from your "
                      "course and choose \"Open Tinker in a new window\" if it is offered, or set the link to open "
                      "in a new window in the LMS."))


def _deployment(platform: Row, claims: dict) -> str:
    """The deployment id the launch names: registered (platform.deployment_pk), or one the registration accepts
    as new (consume_launch records it)."""
    deployment_id = claims.get(C.DEPLOYMENT_ID)
    if not isinstance(deployment_id, str) or not deployment_id:
        raise _reject(_("The launch names no deployment (deployment_id)."))
    if len(deployment_id) > MAX_ID_CHARS:
        raise _malformed("deployment_id")
    if platform.deployment_pk is None and not platform.accept_new_deployments:
        raise _reject(_("This deployment of Tinker is not registered."),
                      _("Ask the Tinker operator to add deployment id %(deployment)s with "
                        "`flask lti add-platform ... --deployment-id`.", deployment=repr(deployment_id)))
    return deployment_id


def check_launch(form: dict, browser_state: str | None, now: datetime, config: dict,
                 from_storage: bool = False) -> ValidatedLaunch:
    """Every check of the launch, reading only (signature, claims, registration, deployment, state and nonce);
    the state is not spent yet. Nothing may act on the result before consume_launch, which must run in the
    transaction that writes what the launch establishes (on SQLite the checks then hold no write lock)."""
    if form.get("error"):
        raise _reject(_("The LMS reported an error: %(error)s.", error=str(form.get('error'))[:200]),
                      str(form.get("error_description") or _("Launch again from the LMS."))[:500])
    token, state = form.get("id_token"), form.get("state")
    if not token:
        raise _reject(_("The launch has no id_token."), _("The LMS must POST id_token and state to /lti/launch."))
    if len(token) > MAX_TOKEN_BYTES:
        raise _reject(_("The launch token is far too large to be genuine."))
    if not state:
        raise _reject(_("The launch has no state."), _("The LMS must return the state Tinker sent at login."))
    try:
        parsed = jws.parse(token)
    except jws.MalformedToken:
        raise _reject(_("The launch token is malformed.")) from None
    header, unverified = parsed.header, parsed.claims
    if parsed.holds_nul:  # see claim_values.IDS (the signature covers the token as sent, not these values)
        if (named := claim_values.nul_in_ids(unverified)) is not None:
            raise _malformed(named)
        parsed = replace(parsed, claims=claim_values.without_nul(unverified))
        unverified = parsed.claims
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in platform_keys.ALLOWED_ALGS:
        raise _reject(_("The launch token uses an algorithm Tinker refuses (%(alg)s).", alg=repr(alg)[:40]))
    if not isinstance(header.get("kid"), str) or not header["kid"]:
        raise _reject(_("The launch token names no key (kid)."))

    platform = _pick_platform(unverified)
    claims = _verify(parsed, platform, config["LTI_CLOCK_LEEWAY"], config["LTI_JWKS_TTL"],
                     config["LTI_HTTP_TIMEOUT"], now)
    _check_message(claims)
    deployment_id = _deployment(platform, claims)
    context = claims.get(C.CONTEXT)
    if not isinstance(context, dict) or not context.get("id"):
        raise _reject(_("The launch comes from outside a course (no context)."),
                      _("Add Tinker to a course and launch it from there."))
    context_id = context["id"]  # a string; some LMSs send a number
    if isinstance(context_id, bool) or not isinstance(context_id, (str, int)) or len(str(context_id)) > MAX_ID_CHARS:
        raise _malformed("context.id")
    role = map_roles(claims[C.ROLES])
    if role is None:
        raise Forbidden(_("Your role in this course does not give access to Tinker."),
                        hint=_("Tinker serves learners, instructors, teaching assistants, mentors and administrators."))
    _check_state(state, browser_state, platform, claims["nonce"], now, from_storage)

    identity = tenancy.LaunchIdentity(
        platform_id=platform.id,
        deployment_pk=platform.deployment_pk,  # None: a new deployment, recorded by consume_launch
        context_id=str(context_id),
        context_title=claim_values.text(context.get("title"), 400) or "",
        context_label=claim_values.text(context.get("label"), 200) or "",
        sub=claims["sub"],
        role=role,
        lti_roles=tuple(r for r in claims[C.ROLES] if isinstance(r, str)),
        **claim_values.person(claims),
    )
    services = {k: claims[v] for k, v in (("nrps", C.NRPS), ("ags", C.AGS), ("groups", GROUPS_CLAIM))
                if isinstance(claims.get(v), dict)}
    view = None
    if claims[C.MESSAGE_TYPE] == C.DEEP_LINKING_REQUEST:
        services[deep_linking.SESSION_KEY] = deep_linking.session_settings(claims)
    elif isinstance(claims.get(C.CUSTOM), dict) and isinstance(claims[C.CUSTOM].get(CUSTOM_VIEW), str):
        view = claims[C.CUSTOM][CUSTOM_VIEW]
    return ValidatedLaunch(platform=platform, identity=identity, message_type=claims[C.MESSAGE_TYPE],
                           return_url=claim_values.return_url(claims), services=services, view=view,
                           context_history=claim_values.context_history(claims.get(C.CUSTOM)),
                           course_group_ids=claim_values.course_group_ids(claims.get(C.CUSTOM)),
                           email_verified=claims.get("email_verified") is not False, state=state,
                           deployment_id=deployment_id)


def consume_launch(checked: ValidatedLaunch, now: datetime) -> ValidatedLaunch:
    """Spend the state of a launch check_launch passed (single use: of two racing launches exactly one wins,
    the other is refused as already used) and record a new deployment its registration accepts."""
    if not shared_store.current().consume_login(checked.state, now):
        raise _reject(*ALREADY_USED)
    if checked.identity.deployment_pk is not None:
        return checked
    deployment = tenancy.add_deployment(checked.platform, checked.deployment_id, now)
    return replace(checked, identity=replace(checked.identity, deployment_pk=deployment.id))

