"""Who is asking: the launch token (links, forms, X-Launch-Token header) or, for plain GETs, the session cookie.

POSTs must carry the token itself; a cookie alone never authorises a change (that is the CSRF defence,
and it keeps working when the browser drops third-party cookies).
"""
from __future__ import annotations

from functools import wraps
from urllib.parse import quote

from flask import current_app, g, request, session, url_for

from plugin.core.actor import Actor, Role
from plugin.core.clock import utcnow
from plugin.errors import Forbidden, Unauthenticated
from plugin.i18n import gettext as _
from plugin.lti.session import issue_token, load_actor, session_id_from_token
from plugin.web.security import note_frame_origins

TOKEN_FIELD = "lt"
TOKEN_HEADER = "X-Launch-Token"
SESSION_KEY = "launch_session"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def _presented_token() -> str | None:
    token = request.headers.get(TOKEN_HEADER)
    if not token and request.method not in SAFE_METHODS:
        token = request.form.get(TOKEN_FIELD)
    if not token and request.method in SAFE_METHODS:
        token = request.args.get(TOKEN_FIELD)
    return token or None


def resolve_actor() -> Actor:
    if "actor" in g:
        return g.actor
    cfg = current_app.config
    token = _presented_token()
    if token:
        session_id = session_id_from_token(cfg["SECRET_KEY"], token, cfg["LAUNCH_TOKEN_TTL"])
    elif request.method in SAFE_METHODS and session.get(SESSION_KEY):
        session_id = session[SESSION_KEY]
    elif request.method not in SAFE_METHODS:
        raise Unauthenticated(_("This action needs your launch token."),
                              hint=_("Reload Tinker from your course and try again."))
    else:
        raise Unauthenticated(_("Open Tinker from your course to continue."),
                              hint=_("Tinker is reached through your learning platform."))
    actor, launch = load_actor(session_id, utcnow())
    note_frame_origins(actor.platform_id, launch.frame_origins)
    g.actor = actor
    g.launch = launch
    g.launch_locale = launch.locale  # the page's language, kept as a value (plugin.i18n.select_locale)
    g.launch_token = issue_token(cfg["SECRET_KEY"], session_id)  # sliding: every page hands out a fresh one
    return actor


def requires_actor(*roles: Role):
    """Resolve the actor before the view; optionally restrict to roles."""

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            actor = resolve_actor()
            if roles and actor.role not in roles:
                raise Forbidden(_("Your role in this course does not open this page."))
            return view(actor, *args, **kwargs)

        return wrapper

    return decorator


def launch_url(endpoint: str, **values) -> str:
    """url_for that carries the launch token, for links inside the iframe."""
    token = g.get("launch_token")
    if token is None:
        return url_for(endpoint, **values)
    if TOKEN_FIELD in values or "_anchor" in values:
        values.setdefault(TOKEN_FIELD, token)
        return url_for(endpoint, **values)
    # The URL url_for builds with the token as its last argument, at a third of the cost: a page's nav alone
    # carries a dozen of these. A link without arguments is the same path on every request (per mount point).
    if values or endpoint[:1] == ".":
        url = url_for(endpoint, **values)
    else:
        key = (request.script_root, endpoint)
        url = _PLAIN_PATHS.get(key) or _PLAIN_PATHS.setdefault(key, url_for(endpoint))
    quoted = g.get("launch_token_quoted")
    if quoted is None or quoted[0] != token:
        quoted = g.launch_token_quoted = (token, quote(token, safe=""))
    return f"{url}{'&' if '?' in url else '?'}{TOKEN_FIELD}={quoted[1]}"


_PLAIN_PATHS: dict[tuple[str, str], str] = {}  # (mount point, endpoint) -> path, for links without arguments
