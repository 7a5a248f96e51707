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


@bp.post("/")
@requires_actor()
def choose(actor: Actor):
    choose_language(actor, g.launch.id, request.form.get("language", ""))
    db.session.commit()
    return redirect(_back_to(request.form.get("next")) or launch_url("learner.home"), 303)
