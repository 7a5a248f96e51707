"""The language switch in the header: English or Turkish, whatever the LMS said."""
from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit

from flask import Blueprint, g, redirect, request

from plugin.core.actor import Actor
from plugin.extensions import db
from plugin.tenancy.service import choose_language
from plugin.web.auth import TOKEN_FIELD, launch_url, requires_actor

bp = Blueprint("language", __name__, url_prefix="/app/language")


def _back_to(raw: str | None) -> str | None:
    """The page the switch was used on, with a fresh launch token; only a page of this tool (no open redirect)."""
    parts = urlsplit(raw or "")
    if parts.scheme or parts.netloc or not parts.path.startswith("/app/") or "\\" in parts.path:
        return None
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != TOKEN_FIELD] + [(TOKEN_FIELD, g.launch_token)]
    return f"{parts.path}?{urlencode(query)}"


@bp.app_template_global()
def page_to_come_back_to() -> str | None:
    """Where the switch brings the person back: this page; after a form was sent to an address that only takes forms
    (the page came back with what to fix), the page the form was on, as the browser named it (same site only)."""
    if request.method == "GET" or (request.url_rule is not None and "GET" in request.url_rule.methods):
        return request.full_path
    came_from = urlsplit(request.referrer or "")
    if came_from.netloc != request.host or not came_from.path.startswith("/app/"):
        return None
    return f"{came_from.path}?{came_from.query}" if came_from.query else came_from.path


@bp.post("/")
@requires_actor()
def choose(actor: Actor):
    choose_language(actor, g.launch.id, request.form.get("language", ""))
    db.session.commit()
    return redirect(_back_to(request.form.get("next")) or launch_url("learner.home"), 303)
