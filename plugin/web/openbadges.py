"""Open Badges front door: public hosted documents and verification pages (no login), and the learner's
badge page (identity claim, downloads, share links)."""
from __future__ import annotations

import json

from flask import Blueprint, Response, abort, current_app, redirect, render_template, request, url_for
from markupsafe import escape

from plugin.badges import baking, credentials, recipients
from plugin.badges import openbadges as ob
from plugin.badges.models import BadgeClass
from plugin.badges.service import badges_of, linked_badges
from plugin.core.actor import Actor
from plugin.core.clock import utcnow
from plugin.errors import InvalidInput, RateLimited
from plugin.extensions import db
from plugin.i18n import current_locale
from plugin.i18n import gettext as _
from plugin.web.auth import launch_url, requires_actor

bp = Blueprint("openbadges", __name__)
JSON_TYPES = [ob.JSONLD, "application/json"]


def _urls() -> ob.Urls:
    return ob.Urls(current_app.config["TINKER_BASE_URL"])


def _json(doc: dict, status: int = 200) -> Response:
    response = Response(json.dumps(doc, indent=2), status=status, mimetype=ob.JSONLD)
    response.headers["Access-Control-Allow-Origin"] = "*"  # backpacks and validators fetch from anywhere
    response.headers["Cache-Control"] = "no-cache"
    return response


def _wants_html() -> bool:
    best = request.accept_mimetypes.best_match([*JSON_TYPES, "text/html"])
    return best == "text/html"


@bp.get("/ob/v2/issuers/<id:organisation_id>")
def issuer(organisation_id: int):
    return _json(ob.issuer_document(organisation_id, _urls()))


@bp.get("/ob/v2/issuers/<id:organisation_id>/image")
def issuer_image(organisation_id: int):
    found = ob.issuer_image(organisation_id)
    if found is None:
        abort(404)
    data, content_type = found
    response = Response(data, mimetype=content_type)
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Cache-Control"] = "public, max-age=300"
    # An SVG opened directly must not run anything, whatever slipped past the sanitiser.
    response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
    return response


@bp.get("/ob/v2/issuers/<id:organisation_id>/pillars/<id:pillar_id>")
def pillar(organisation_id: int, pillar_id: int):
    """The public target of a badge's alignment: just the vision pillar's name and description."""
    found = ob.public_pillar(organisation_id, pillar_id)
    issuer_name = ob.issuer_of(organisation_id, _urls().base).name
    caption = _("AI vision pillar of %(issuer)s", issuer=issuer_name)
    body = (f'<!doctype html><html lang="{current_locale()}"><head><meta charset="utf-8"><title>{escape(found.name)}'
            '</title><meta name="viewport" content="width=device-width, initial-scale=1"></head><body><main>'
            f'<p>{escape(caption)}</p>'
            f'<h1 id="pillar-{found.id}">{escape(found.name)}</h1>'
            f'<p>{escape(found.description)}</p></main></body></html>')
    response = Response(body, mimetype="text/html")
    response.headers["Cache-Control"] = "public, max-age=300"
    response.headers["Content-Security-Policy"] = "default-src 'none'"
    return response


@bp.get("/ob/v2/issuers/<id:organisation_id>/revocations")
def revocations(organisation_id: int):
    return _json(ob.revocation_list(organisation_id, _urls()))


@bp.get("/ob/v2/badges/<id:badge_id>")
def badge(badge_id: int):
    found = ob.badge_class(badge_id)
    urls = _urls()
    doc = ob.badge_document(found, urls)
    if _wants_html():
        return render_template("badges/badge_class.html", badge=found, doc=doc,
                               issuer=ob.issuer_of(found.organisation_id, urls.base))
    return _json(doc)


@bp.get("/ob/v2/badges/<id:badge_id>/image.png")
def badge_png(badge_id: int):
    """A PNG rendition of a JPEG/WebP upload (Open Badges verifiers take PNG or SVG only)."""
    found = ob.badge_class(badge_id)
    image = db.session.scalar(db.select(BadgeClass.image).where(BadgeClass.id == badge_id))
    response = Response(baking.png_source(image, found.image_type, found.name, found.colour), mimetype="image/png")
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@bp.get("/ob/v2/assertions/<public_id>")
def assertion(public_id: str):
    found = ob.hosted(public_id)
    urls = _urls()
    doc = ob.assertion_document(found, urls)
    if _wants_html():
        return _verification_page(found, doc, urls)
    return _json(doc, 410 if doc.get("revoked") else 200)


@bp.get("/ob/v2/assertions/<public_id>/verify")
def verify_page(public_id: str):
    found = ob.hosted(public_id)
    urls = _urls()
    return _verification_page(found, ob.assertion_document(found, urls), urls)


def _verification_page(found: ob.Hosted, doc: dict, urls: ob.Urls):
    settings = recipients.settings_of(found.user.id)
    return render_template("badges/assertion.html", found=found, doc=doc, urls=urls,
                           issuer=ob.issuer_of(found.award.organisation_id, urls.base),
                           identity=recipients.recipient_of(found.user, urls.base),
                           name=found.user.display_name if settings and settings.show_name else None)


@bp.get("/ob/v2/assertions/<public_id>/evidence")
def evidence(public_id: str):
    found = ob.hosted(public_id)
    settings = recipients.settings_of(found.user.id)
    shared = bool(settings and settings.show_name)
    return render_template("badges/evidence.html", found=found, shared=shared, urls=_urls(),
                           name=found.user.display_name if shared else None)


@bp.get("/ob/v2/assertions/<public_id>/baked.<fmt>")
def baked(public_id: str, fmt: str):
    found = ob.hosted(public_id)
    urls = _urls()
    doc = ob.assertion_document(found, urls)
    image = db.session.scalar(db.select(BadgeClass.image).where(BadgeClass.id == found.badge.id))
    args = (image, found.badge.image_type, found.badge.name, found.badge.colour)
    text = json.dumps(doc)
    if fmt == "png":
        data, mimetype = baking.bake_png(baking.png_source(*args), text), "image/png"
    elif fmt == "svg":
        data, mimetype = baking.bake_svg(baking.svg_source(*args), doc["id"], text), "image/svg+xml"
    else:
        return Response("Not found", 404, mimetype="text/plain")
    response = Response(data, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{found.badge.slug}-{public_id[:8]}.{fmt}"'
    response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
    response.headers["Cache-Control"] = "no-cache"
    return response


# -- Open Badges 3.0 ---------------------------------------------------------------------------------------

VC_JWT = "application/vc+jwt"


def _text(body: str, mimetype: str, status: int = 200, download: str | None = None) -> Response:
    response = Response(body, status=status, mimetype=mimetype)
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Cache-Control"] = "no-cache"
    if download:
        response.headers["Content-Disposition"] = f'attachment; filename="{download}"'
    return response


def _writes(view):
    view.tinker_writes = True  # may create the organisation's signing key, or an award's status index, on first use
    return view


@bp.get("/ob/v3/issuers/<id:organisation_id>")
def v3_issuer(organisation_id: int):
    doc = {"@context": [credentials.VC_CONTEXT, credentials.OB3_CONTEXT],
           **credentials.issuer_profile(organisation_id, _urls())}
    return _json(doc)


@bp.get("/ob/v3/achievements/<id:badge_id>")
def v3_achievement(badge_id: int):
    doc = {"@context": [credentials.VC_CONTEXT, credentials.OB3_CONTEXT],
           **credentials.achievement(ob.badge_class(badge_id), _urls())}
    return _json(doc)


@bp.get("/ob/v3/issuers/<id:organisation_id>/jwks")
def v3_jwks(organisation_id: int):
    return _text(json.dumps(credentials.jwks(organisation_id)), "application/jwk-set+json")


@bp.get("/ob/v3/issuers/<id:organisation_id>/did.json")
def v3_did(organisation_id: int):
    return _text(json.dumps(credentials.did_document(organisation_id, _urls())), "application/did+json")


@bp.get("/ob/v3/issuers/<id:organisation_id>/status/revocation")
@_writes
def v3_status_list(organisation_id: int):
    token = credentials.status_list_jwt(organisation_id, _urls(), utcnow())
    db.session.commit()
    return _text(token, VC_JWT)


@bp.get("/ob/v3/credentials/<public_id>")
@_writes
def v3_credential(public_id: str):
    found = ob.hosted(public_id)
    best = request.accept_mimetypes.best_match([VC_JWT, *JSON_TYPES, "text/html"])
    if best == "text/html":
        return v3_verify_page(public_id)
    if best in JSON_TYPES:
        doc = credentials.credential(found, _urls())
        db.session.commit()
        return _json(doc)
    token = credentials.credential_jwt(found, _urls(), utcnow())
    db.session.commit()
    return _text(token, VC_JWT)


@bp.get("/ob/v3/credentials/<public_id>.jwt")
@_writes
def v3_credential_jwt(public_id: str):
    found = ob.hosted(public_id)
    token = credentials.credential_jwt(found, _urls(), utcnow())
    db.session.commit()
    return _text(token, VC_JWT, download=f"{found.badge.slug}-{public_id[:8]}.jwt")


@bp.get("/ob/v3/credentials/<public_id>.json")
@_writes
def v3_credential_json(public_id: str):
    found = ob.hosted(public_id)
    doc = credentials.credential(found, _urls())
    db.session.commit()
    response = _json(doc)
    response.headers["Content-Disposition"] = f'attachment; filename="{found.badge.slug}-{public_id[:8]}.json"'
    return response


@bp.get("/ob/v3/credentials/<public_id>/verify")
@_writes
def v3_verify_page(public_id: str):
    found = ob.hosted(public_id)
    urls = _urls()
    token = credentials.credential_jwt(found, urls, utcnow())
    db.session.commit()
    check = credentials.verify_jwt(token, found.award.organisation_id, urls)
    settings = recipients.settings_of(found.user.id)
    return render_template("badges/assertion.html", found=found, doc=ob.assertion_document(found, urls), urls=urls,
                           issuer=ob.issuer_of(found.award.organisation_id, urls.base),
                           identity=recipients.recipient_of(found.user, urls.base), ob3=check,
                           name=found.user.display_name if settings and settings.show_name else None)


# -- confirming a learner-supplied address (opened from the e-mail, outside the LMS) -------------------------

@bp.get("/ob/v2/confirm/<token>")
def confirm_form(token: str):
    # A button, not a GET that changes state: mail scanners open links.
    return render_template("badges/confirm.html", token=token, done=False)


@bp.post("/ob/v2/confirm/<token>")
def confirm(token: str):
    row = recipients.confirm_email(token, utcnow())
    db.session.commit()
    return render_template("badges/confirm.html", token=None, done=True, address=row.identity)


# -- the learner's badges ---------------------------------------------------------------------------------------

@bp.get("/app/badges")
@requires_actor()
def mine(actor: Actor, errors: dict | None = None, status: int = 200):
    urls = _urls()
    person = recipients.user(actor.user_id)
    return render_template("badges/mine.html", actor=actor, urls=urls, badges=badges_of(actor.course_id, actor.user_id),
                           linked_badges=linked_badges(actor.organisation_id, actor.user_id),
                           identity=recipients.recipient_of(person, urls.base),
                           settings=recipients.settings_of(actor.user_id), errors=errors or {},
                           sent=request.args.get("sent"), saved=request.args.get("saved")), status


@bp.post("/app/badges/identity")
@requires_actor()
def claim(actor: Actor):
    now, form = utcnow(), request.form
    try:
        if form.get("kind") == "url":
            recipients.set_identity_url(actor, form.get("url", ""), now)
            done = {"saved": 1}
        else:
            recipients.request_email(actor, form.get("email", ""), lambda token: _urls().base + url_for(
                "openbadges.confirm_form", token=token), now)
            done = {"sent": 1}
    except (InvalidInput, RateLimited) as err:
        db.session.rollback()
        return mine.__wrapped__(actor, err.form_errors(), err.status)
    db.session.commit()
    return redirect(launch_url("openbadges.mine", **done), 303)


@bp.post("/app/badges/privacy")
@requires_actor()
def privacy(actor: Actor):
    recipients.set_show_name(actor, request.form.get("show_name") == "on", utcnow())
    db.session.commit()
    return redirect(launch_url("openbadges.mine", saved=1), 303)
