"""The OpenAPI document and a Swagger UI served from the swagger-ui-bundle package (no CDN)."""
from __future__ import annotations

from pathlib import Path

import swagger_ui_bundle
from flask import Blueprint, abort, current_app, jsonify, render_template, request, send_from_directory
from flask_babel import force_locale

from plugin.i18n import supported

bp = Blueprint("api_docs", __name__)
ASSETS = Path(swagger_ui_bundle.swagger_ui_path)
SERVED = {"swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "favicon-32x32.png"}


@bp.get("/openapi.json")
def openapi_json():
    from plugin.api import PREFIX

    return jsonify(current_app.extensions["flask-smorest"]["apis"][""]["ext_obj"].document(PREFIX))


@bp.get("/docs")
def docs_page():
    # Opened from an admin page, whose language (the person's choice or the LMS's) comes along as ?lang=: the docs
    # page carries no launch token, and the browser's Accept-Language may name another language.
    chosen = supported(request.args.get("lang"))
    if chosen is None:
        return render_template("api/docs.html")
    with force_locale(chosen):
        return render_template("api/docs.html")


@bp.get("/docs/assets/<name>")
def docs_asset(name: str):
    if name not in SERVED:
        abort(404)
    return send_from_directory(ASSETS, name, max_age=86400)
