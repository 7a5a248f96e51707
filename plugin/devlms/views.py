"""/dev/lms: pick a course, person and role, then launch Tinker through the real OIDC flow, in an iframe."""
from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import jwt
import requests
from flask import Blueprint, abort, current_app, jsonify, redirect, render_template, request
from itsdangerous import BadSignature, URLSafeTimedSerializer

from plugin.core.clock import utcnow
from plugin.devlms import platform
from plugin.devlms.roster import (
    CLIENT_ID,
    COURSES,
    COURSES_BY_ID,
    DEPLOYMENT_ID,
    ISSUER_PATH,
    LMS_ROLES,
    PEOPLE,
    PEOPLE_BY_SUB,
)

bp = Blueprint("devlms", __name__, url_prefix=ISSUER_PATH)


@bp.before_request
def _only_when_enabled():
    if not current_app.config["DEV_LMS_ENABLED"]:
        abort(404)


def _issuer() -> str:
    return current_app.config["TINKER_BASE_URL"] + ISSUER_PATH


def _key():
    path = current_app.config.get("DEV_LMS_KEY_PATH") or Path(current_app.instance_path) / "dev_lms_key.pem"
    return platform.private_key(Path(path))


def _hints() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="dev-lms-message-hint")


@bp.get("/")
def home():
    # The development LMS launches into the tool at its base URL, and its pages allow only that address to post and
    # frame (the Content-Security-Policy): opened under another name for the same server (localhost for 127.0.0.1),
    # the launch was blocked inside the frame. It moves to the base URL's own address first.
    base = urlsplit(current_app.config["TINKER_BASE_URL"])
    here = urlsplit(f"{request.scheme}://{request.host}")
    default = {"http": 80, "https": 443}
    if (here.hostname, here.port or default.get(here.scheme)) != (base.hostname, base.port or default.get(base.scheme)):
        query = request.query_string.decode()
        return redirect(f"{base.scheme}://{base.netloc}{request.path}" + (f"?{query}" if query else ""), 302)
    course_id = request.args.get("course", COURSES[0].context_id)
    course = COURSES_BY_ID.get(course_id, COURSES[0])
    people = [p for p in PEOPLE if course.context_id in p.courses]
    return render_template("devlms/home.html", courses=COURSES, course=course, people=people,
                           roles=list(LMS_ROLES))


@bp.post("/launch")
def launch():
    """Platform side of the login initiation: an auto-submitted POST to the tool's /lti/login."""
    person = PEOPLE_BY_SUB.get(request.form.get("sub", ""))
    context_id = request.form.get("course", "")
    role = request.form.get("role") or (person.courses.get(context_id) if person else None)
    if person is None or context_id not in COURSES_BY_ID or role not in LMS_ROLES:
        abort(400)
    base = current_app.config["TINKER_BASE_URL"]
    hint = _hints().dumps({"sub": person.sub, "course": context_id, "role": role,
                           "deep_link": request.form.get("message") == "deep_link",
                           "view": request.form.get("view") or None})
    fields = {"iss": _issuer(), "login_hint": person.sub, "target_link_uri": f"{base}/lti/launch",
              "lti_message_hint": hint, "client_id": CLIENT_ID, "lti_deployment_id": DEPLOYMENT_ID,
              "lti_storage_target": "_parent"}  # this page's parent (the LMS page) offers platform storage
    return render_template("devlms/autopost.html", action=f"{base}/lti/login", fields=fields)


@bp.get("/auth")
def auth():
    """The platform's OIDC authorisation endpoint: checks the request, signs an id_token, posts it back."""
    args = request.args
    base = current_app.config["TINKER_BASE_URL"]
    try:
        hint = _hints().loads(args.get("lti_message_hint", ""), max_age=600)
    except BadSignature:
        abort(400)
    if (args.get("client_id") != CLIENT_ID or args.get("redirect_uri") != f"{base}/lti/launch"
            or args.get("response_type") != "id_token" or args.get("scope") != "openid"
            or args.get("login_hint") != hint["sub"] or not args.get("nonce") or not args.get("state")):
        abort(400)
    token = platform.id_token(
        _key(), issuer=_issuer(), client_id=CLIENT_ID, nonce=args["nonce"], person=PEOPLE_BY_SUB[hint["sub"]],
        context_id=hint["course"], role=hint["role"], target=f"{base}/lti/launch",
        return_url=f"{base}{ISSUER_PATH}/?course={hint['course']}", now=utcnow(),
        deep_link_return=f"{base}{ISSUER_PATH}/deep-link-return" if hint.get("deep_link") else None,
        custom={"tinker_view": hint["view"]} if hint.get("view") else None)
    return render_template("devlms/autopost.html", action=args["redirect_uri"],
                           fields={"id_token": token, "state": args["state"]})


@bp.post("/deep-link-return")
def deep_link_return():
    """The platform's side of deep linking: verify the tool's signed answer against the tool's published
    key set (fetched over HTTP, as an LMS does) and show what was placed, with a link to launch it."""
    base = current_app.config["TINKER_BASE_URL"]
    try:
        keyset = requests.get(f"{base}/lti/jwks", timeout=5).json()
        header = jwt.get_unverified_header(request.form.get("JWT", ""))
        key = next(jwt.PyJWK(k).key for k in keyset["keys"] if k["kid"] == header.get("kid"))
        answer = jwt.decode(request.form["JWT"], key, algorithms=["RS256"], audience=_issuer(), issuer=CLIENT_ID)
    except (StopIteration, KeyError, ValueError, jwt.InvalidTokenError, requests.RequestException):
        abort(400)
    items = answer.get("https://purl.imsglobal.org/spec/lti-dl/claim/content_items", [])
    course = (answer.get("https://purl.imsglobal.org/spec/lti-dl/claim/data") or "").split(":")[0]
    placed = [{"title": i.get("title", "Tinker"), "view": (i.get("custom") or {}).get("tinker_view")}
              for i in items if i.get("type") == "ltiResourceLink"]
    return render_template("devlms/placed.html", placed=placed, course=COURSES_BY_ID.get(course),
                           people=[p for p in PEOPLE if course in p.courses])


@bp.get("/jwks")
def jwks():
    return jsonify(platform.jwks(_key()))
