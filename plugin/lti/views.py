"""LTI endpoints: /lti/login (OIDC initiation), /lti/launch, /lti/jwks, and the deep-linking picker."""
from __future__ import annotations

import hashlib
import re

from flask import (
    Blueprint,
    current_app,
    g,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from plugin.core.actor import Actor, Role
from plugin.core.clock import utcnow
from plugin.core.db import reads_then_writes
from plugin.course_copy import service as course_copy
from plugin.errors import InvalidInput
from plugin.extensions import db
from plugin.lti import claims as C
from plugin.lti import deep_linking, install, keys, placements, shared_store
from plugin.lti.ags import lineitems_url
from plugin.lti.establish import HISTORY_KEY, establish_launch
from plugin.lti.launch import check_launch
from plugin.lti.login import begin_login
from plugin.lti.session import issue_token
from plugin.tenancy.models import Platform
from plugin.tenancy.service import origin_of
from plugin.web.auth import SESSION_KEY, TOKEN_FIELD, requires_actor
from plugin.web.security import allow_origin, note_frame_origins, writes

bp = Blueprint("lti", __name__, url_prefix="/lti")
STATE_COOKIE = "tinker_lti_state"


def state_cookie(state: str) -> str:
    """The name of the cookie binding one login's state to this browser: one cookie per login, so two launches
    at once (two tabs, or two Tinker frames in one course page) do not overwrite each other's."""
    return f"{STATE_COOKIE}_{hashlib.sha256(state.encode()).hexdigest()[:16]}"


def _cookie_options() -> dict:
    # Inside the LMS frame the cookie is third-party: SameSite=None and partitioned (CHIPS), where it can be.
    secure = request.is_secure or current_app.config["TINKER_BASE_URL"].startswith("https://")
    return {"httponly": True, "secure": secure, "samesite": "None" if secure else "Lax", "partitioned": secure}


# Login parameters a new top-level window repeats; the storage target names a frame that window will not have.
NOT_REPEATED = {"lti_storage_target"}


# Safari before 16.4 sends no Fetch Metadata, so its frames look like windows (and it drops cookies in frames).
_SAFARI_WITHOUT_FETCH_METADATA = re.compile(r"Version/(?:1[0-5]|16\.[0-3])(?:\.\d+)*(?: Mobile/\S+)? Safari/")


def _framed() -> bool:
    """Whether the login may be running in a frame: said by Sec-Fetch-Dest, or unknowable (old Safari), in which
    case the login page finds out itself: it checks its cookie came back, then carries on or offers a new window."""
    dest = request.headers.get("Sec-Fetch-Dest")
    if dest is not None:
        return dest in ("iframe", "frame")
    return bool(_SAFARI_WITHOUT_FETCH_METADATA.search(request.headers.get("User-Agent", "")))


@bp.route("/login", methods=["GET", "POST"])
@writes
def login():
    cfg = current_app.config
    params = {k: v for k, v in request.values.items() if isinstance(v, str)}
    target = begin_login(params, cfg["TINKER_BASE_URL"], utcnow(), cfg["LTI_STATE_TTL"])
    db.session.commit()
    if (target.storage_target and target.platform_origin) or _framed():
        # In a frame the state cookie may be dropped: keep the state in platform storage where it is offered,
        # and check that the cookie comes back; when neither holds, the page offers a new window instead.
        repeat = {k: v for k, v in params.items() if k not in NOT_REPEATED}
        allow_origin("form-action", target.platform_origin)  # the new window's login redirects to the platform
        response = make_response(render_template("lti/login_frame.html", target=target, login_params=repeat))
    else:
        response = redirect(target.url, 302)
        # Read with the registration: the response's CSP needs no query (nor, on SQLite, a second transaction).
        note_frame_origins(target.platform_id, target.frame_origins)
    # Binds the launch to this browser; a launch must show this cookie or the state from platform storage.
    response.set_cookie(state_cookie(target.state), target.state, max_age=cfg["LTI_STATE_TTL"], **_cookie_options())
    return response


@bp.get("/login/probe")
def login_probe():
    """Did the state cookie set by the login page come back to this frame? (Only the caller's own cookie.)"""
    state = request.args.get("state", "")
    return jsonify(cookie=bool(state) and request.cookies.get(state_cookie(state)) == state)


def _storage_lookup(form) -> shared_store.LoginState | None:
    """A launch whose login kept its state in platform storage and whose browser sent no state cookie:
    the page must first read the state back from the platform (once: the re-post carries platform_state)."""
    if "platform_state" in form or not form.get("state") or request.cookies.get(state_cookie(form["state"])):
        return None
    row = shared_store.current().find_login(form["state"])
    if row is None or not row.storage_target or row.consumed_at is not None:
        return None
    return row


def _from_tinker_page() -> bool:
    """Whether the browser says this POST comes from one of Tinker's own pages: its Origin, or its Fetch
    Metadata (a browser's privacy settings may send "Origin: null" even for a page's own origin)."""
    return (request.headers.get("Origin") == origin_of(current_app.config["TINKER_BASE_URL"])
            or request.headers.get("Sec-Fetch-Site") == "same-origin")


def _browser_state(form: dict) -> tuple[str | None, bool]:
    """What shows that this browser started the login the posted state names, and whether it came from platform
    storage: the login's state cookie; else the state lti/storage_get.html read back from platform storage, but
    only when that page of Tinker's posted it. Another site's page could post an attacker's own id_token, state
    and platform_state from a victim's browser and sign the victim in as the attacker (login CSRF)."""
    posted = form.pop("platform_state", None)
    cookie = request.cookies.get(state_cookie(form["state"])) if form.get("state") else None
    if cookie:
        return cookie, False
    if posted and _from_tinker_page():
        return posted, True
    return None, False


@bp.post("/launch")
def launch():
    now = utcnow()
    form = request.form.to_dict()
    # The checks only read: on SQLite they hold no write lock (other requests no longer wait behind a whole
    # launch); the writes that follow take it for a short transaction.
    with reads_then_writes(db.session):
        stored = _storage_lookup(form)
        if stored is not None:
            platform = db.session.get(Platform, stored.platform_id)
            return render_template("lti/storage_get.html", state=form["state"], id_token=form.get("id_token", ""),
                                   target=stored.storage_target, platform_origin=origin_of(platform.auth_login_url))
        # No cookie and nothing read back from platform storage: check_launch refuses (state unbound).
        browser_state, from_storage = _browser_state(form)
        checked = check_launch(form, browser_state, now, current_app.config, from_storage)
        deep_link = checked.message_type == C.DEEP_LINKING_REQUEST
        if deep_link:
            deep_linking.authorise_deep_linking(checked.identity.role)
    established = establish_launch(checked, now)
    db.session.commit()
    session[SESSION_KEY] = established.session_id
    token = issue_token(current_app.config["SECRET_KEY"], established.session_id)
    if deep_link:
        target = url_for("lti.deep_link_picker", **{TOKEN_FIELD: token})
    elif established.copied_from is not None:  # a manager's first launch in a copied course: ask first
        target = url_for("lti.course_copy_offer", view=checked.view, **{TOKEN_FIELD: token})
    else:
        target = placements.landing_url(checked.view, checked.identity.role, **{TOKEN_FIELD: token})
    response = redirect(target, 303)
    response.delete_cookie(state_cookie(checked.state), **_cookie_options())  # the same attributes, or it stays
    # Read with the registration: the response's CSP needs no query (nor, on SQLite, another transaction).
    note_frame_origins(established.platform_id, established.frame_origins)
    return response


def _history() -> list[str]:
    return [str(c) for c in (g.launch.services or {}).get(HISTORY_KEY, [])]


def _after_copy_decision(actor: Actor):
    return redirect(placements.landing_url(request.form.get("view"), actor.role, **{TOKEN_FIELD: g.launch_token}), 303)


@bp.get("/course-copy")
@requires_actor(Role.MANAGER, Role.ADMIN)
def course_copy_offer(actor: Actor):
    source = course_copy.offer_for(actor, _history())
    if source is None:
        return redirect(placements.landing_url(request.args.get("view"), actor.role, **{TOKEN_FIELD: g.launch_token}))
    return render_template("lti/course_copy.html", actor=actor, source=source, left_out=course_copy.left_out(source),
                           view=request.args.get("view") or "")


@bp.post("/course-copy")
@requires_actor(Role.MANAGER, Role.ADMIN)
def course_copy_decide(actor: Actor):
    if request.form.get("decision") == "copy":
        course_copy.carry_over(actor, _history(), lineitems_url(g.launch.services), utcnow())
    else:
        course_copy.decline(actor, _history(), utcnow())
    db.session.commit()
    return _after_copy_decision(actor)


@bp.get("/jwks")
@writes
def jwks():
    now = utcnow()
    document = keys.public_jwks(now)
    if not document["keys"]:
        keys.ensure_key(now)
        db.session.commit()
        document = keys.public_jwks(now)
    response = jsonify(document)
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


def _picker(settings: dict, chosen: list[str] | None = None, errors: dict | None = None, status: int = 200):
    return render_template("lti/deep_link_picker.html", choices=placements.choices(), chosen=chosen or [],
                           multiple=settings["accept_multiple"], errors=errors or {}), status


@bp.get("/deep-link")
@requires_actor(Role.MANAGER, Role.ADMIN)
def deep_link_picker(actor: Actor):
    return _picker(deep_linking.settings_of(g.launch.services))


@bp.post("/deep-link")
@requires_actor(Role.MANAGER, Role.ADMIN)
def deep_link_submit(actor: Actor):
    settings = deep_linking.settings_of(g.launch.services)
    launch_url = install.urls(current_app.config["TINKER_BASE_URL"])["launch"]
    chosen = request.form.getlist("view")
    try:
        items = [] if request.form.get("cancel") else deep_linking.select_items(chosen, settings, launch_url)
    except InvalidInput as err:
        return _picker(settings, chosen, err.errors, 422)
    now = utcnow()
    keys.ensure_key(now)
    token = deep_linking.response_jwt(db.session.get(Platform, actor.platform_id), settings, items, now)
    db.session.commit()
    return_url = settings["deep_link_return_url"]
    allow_origin("form-action", origin_of(return_url))  # the answer is posted to the platform
    return render_template("lti/deep_link_return.html", action=return_url, jwt=token, count=len(items))
