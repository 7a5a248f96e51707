"""Public, unauthenticated resources: badge images (verifiers and LMS pages embed them)."""
from __future__ import annotations

from flask import Blueprint, abort, make_response, request

from plugin.badges.service import badge_image
from plugin.i18n import supported

bp = Blueprint("public", __name__)


@bp.get("/badges/<id:badge_id>/image")
def badge_image_view(badge_id: int):
    """`lang`: the pages' icons ask in their reader's language (a seeded badge's initials in it); without it, as
    Open Badges documents and xAPI statements link it, the name as stored."""
    found = badge_image(badge_id, supported(request.args.get("lang")))
    if found is None:
        abort(404)
    data, content_type = found
    response = make_response(data)
    response.headers["Content-Type"] = content_type
    response.headers["Cache-Control"] = "public, max-age=300"
    # An SVG opened directly must not run anything, whatever slipped past the sanitiser.
    response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
    return response
