"""Installing Tinker in an LMS: /lti/register (dynamic registration) and /lti/canvas.json."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, render_template, request

from plugin.core.clock import utcnow
from plugin.extensions import db
from plugin.lti import install
from plugin.lti import registration as dr
from plugin.lti.registration_tokens import TOKEN_PARAM, claim_registration_token, release_registration_token
from plugin.tenancy.service import origin_of
from plugin.web.security import allow_origin, withdraw_origin, writes

bp = Blueprint("lti_install", __name__, url_prefix="/lti")


@bp.get("/register")
@writes
def register():
    cfg = current_app.config
    configuration_url = request.args.get("openid_configuration")
    platform_token = request.args.get("registration_token") or None
    # The platform opens this page in a frame; let it show whatever we answer. Hosted Canvas frames it in a school's
    # own *.instructure.com page while its configuration comes from the issuer's host: until its configuration names
    # that page, any of them may frame a refusal.
    allow_origin("frame-ancestors", origin_of(configuration_url))
    if origin_of(configuration_url) in dr.CANVAS_CLOUD_ISSUERS:
        allow_origin("frame-ancestors", dr.CANVAS_CLOUD_FRAMES)
    now = utcnow()
    claim = claim_registration_token(request.args.get(TOKEN_PARAM), now)
    db.session.commit()  # no transaction stays open while we talk to the platform
    try:
        platform = dr.fetch_platform_configuration(configuration_url, platform_token, cfg["LTI_HTTP_TIMEOUT"])
        if platform.frame_origin:  # the page framing this one, as the platform names it
            allow_origin("frame-ancestors", platform.frame_origin)
            withdraw_origin("frame-ancestors", dr.CANVAS_CLOUD_FRAMES)
        payload = dr.client_registration(cfg["TINKER_BASE_URL"], platform)
        assigned = dr.post_client_registration(platform, payload, platform_token, cfg["LTI_HTTP_TIMEOUT"])
        registered = dr.record_registration(claim, platform, assigned, utcnow())
        db.session.commit()
    except Exception:  # a failed registration gives the token back, whatever failed
        db.session.rollback()
        release_registration_token(claim)
        db.session.commit()
        raise
    return render_template("lti/registration_done.html", platform=registered, assigned=assigned,
                           platform_origin=platform.frame_origin or origin_of(platform.issuer))


@bp.get("/canvas.json")
def canvas_json():
    response = jsonify(install.canvas_config(current_app.config["TINKER_BASE_URL"]))
    response.headers["Cache-Control"] = "public, max-age=300"
    return response
