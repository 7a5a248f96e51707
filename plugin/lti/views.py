"""LTI endpoints: /lti/login (OIDC initiation), /lti/launch, /lti/jwks."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, redirect, request, session

from plugin.core.clock import utcnow
from plugin.extensions import db
from plugin.lti import keys
from plugin.lti.launch import validate_launch
from plugin.lti.login import begin_login
from plugin.lti.session import issue_token, start_session
from plugin.tenancy import service as tenancy
from plugin.web.auth import SESSION_KEY, TOKEN_FIELD
from plugin.web.security import writes

bp = Blueprint("lti", __name__, url_prefix="/lti")
STATE_COOKIE = "tinker_lti_state"


def _secure() -> bool:
    return request.is_secure or current_app.config["TINKER_BASE_URL"].startswith("https://")


@bp.route("/login", methods=["GET", "POST"])
@writes
def login():
    cfg = current_app.config
    params = {k: v for k, v in request.values.items() if isinstance(v, str)}
    target = begin_login(params, cfg["TINKER_BASE_URL"], utcnow(), cfg["LTI_STATE_TTL"])
    db.session.commit()
    response = redirect(target.url, 302)
    # Binds the launch to this browser where cookies survive; the state row in the database does the rest.
    secure = _secure()
    response.set_cookie(STATE_COOKIE, target.state, max_age=cfg["LTI_STATE_TTL"], httponly=True, secure=secure,
                        samesite="None" if secure else "Lax", partitioned=secure)
    return response


@bp.post("/launch")
def launch():
    now = utcnow()
    validated = validate_launch(request.form.to_dict(), request.cookies.get(STATE_COOKIE), now, current_app.config)
    course, user, _membership = tenancy.provision(validated.identity, now)
    return_origin = tenancy.origin_of(validated.return_url)
    if return_origin:
        tenancy.add_frame_origin(validated.platform, return_origin, now, source="launch")
    launch_session = start_session(
        user_id=user.id, course_id=course.id, organisation_id=course.organisation_id,
        platform_id=validated.platform.id, role=validated.identity.role, message_type=validated.message_type,
        locale=validated.identity.locale, services=validated.services, now=now)
    db.session.commit()
    session[SESSION_KEY] = launch_session.id
    token = issue_token(current_app.config["SECRET_KEY"], launch_session.id)
    response = redirect(f"/app/?{TOKEN_FIELD}={token}", 303)
    response.delete_cookie(STATE_COOKIE)
    return response


@bp.get("/jwks")
@writes
def jwks():
    document = keys.public_jwks()
    if not document["keys"]:
        keys.ensure_key(utcnow())
        db.session.commit()
        document = keys.public_jwks()
    response = jsonify(document)
    response.headers["Cache-Control"] = "public, max-age=300"
    return response
