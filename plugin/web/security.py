"""Request hooks: proxy headers, write intent for SQLite, security headers and CSP frame-ancestors."""
from __future__ import annotations

import json

from flask import Flask, g, request
from sqlalchemy import bindparam, select
from werkzeug.exceptions import BadRequest
from werkzeug.middleware.proxy_fix import ProxyFix

from plugin.core.db import read, reset_write_intent, set_write_intent
from plugin.extensions import db
from plugin.tenancy.models import FrameOrigin
from plugin.tenancy.service import origin_of

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def writes(view):
    """Mark a GET view that writes (e.g. OIDC login), so SQLite opens its transaction as a writer."""
    view.tinker_writes = True
    return view


AMENDABLE = {"form-action", "frame-ancestors"}


def allow_origin(directive: str, origin: str | None) -> None:
    """Let this one response name one more origin in form-action or frame-ancestors (never '*'): the
    deep-linking answer posts to the platform; the registration page is framed by a platform not yet known."""
    if directive not in AMENDABLE:
        raise ValueError(f"not an amendable directive: {directive}")
    if origin and origin != "*":
        g.setdefault("csp_extra", {}).setdefault(directive, set()).add(origin)


def withdraw_origin(directive: str, origin: str) -> None:
    """Take back an origin allow_origin named for this response (a broad one, once the exact one is known)."""
    g.get("csp_extra", {}).get(directive, set()).discard(origin)


def _extra(directive: str) -> str:
    return "".join(f" {o}" for o in sorted(g.get("csp_extra", {}).get(directive, ())))


def frame_origins() -> list[str]:
    """Origins that may frame this response: the actor's registration's, or any registration's before a
    launch (error pages). Also where the page may post lti.frameResize. Computed once per request."""
    if "frame_origins" not in g:
        actor = g.get("actor")
        key = actor.platform_id if actor is not None else g.get("outage_platform_id")
        try:
            rows = (read(db.session, _PLATFORM_ORIGINS, {"platform": actor.platform_id}) if actor is not None
                    else read(db.session, _ALL_ORIGINS, {})).scalars()
            g.frame_origins = _last_known[key] = sorted(o for o in rows if is_origin(o))
        except Exception:  # the header must never turn an error page into a 500
            # While the database is unreachable, the origins last read by this process keep the "briefly
            # unavailable" page visible inside the LMS frame (a fallback only: never used when the read works).
            g.frame_origins = _last_known.get(key) or sorted(set().union(*_last_known.values()))
    return g.frame_origins


def note_frame_origins(platform_id: int, origins: str | None) -> None:
    """The actor's platform's origins, read with their launch session (lti.session.load_actor): frame_origins
    asks no more in this request."""
    g.frame_origins = _last_known[platform_id] = sorted({o for o in (origins or "").split() if is_origin(o)})


def is_origin(value: str) -> bool:
    """Whether a stored frame origin may reach a header: exactly what tenancy.origin_of writes (a row written before
    origin_of refused hosts with spaces, "*" or ";" would otherwise add sources or directives)."""
    return origin_of(value) == value


_last_known: dict[int | None, list[str]] = {}
# Built once: every HTML response asks.
_ALL_ORIGINS = select(FrameOrigin.origin).distinct()
_PLATFORM_ORIGINS = _ALL_ORIGINS.where(FrameOrigin.platform_id == bindparam("platform"))


def _frame_ancestors() -> str:
    return " ".join(["'self'", *frame_origins()])


def _parsed_json():
    """The request's JSON body parsed apart from Flask's cached parse (None when it does not parse: the API's own
    parser then answers it as it always did)."""
    try:
        return json.loads(request.get_data(cache=True))
    except (ValueError, RecursionError):
        return None


def _encodable(value) -> bool:
    """Whether every string in a parsed JSON value (keys included) has a UTF-8 form (walked without recursion: the
    parser takes nesting deeper than a recursive walk could follow)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return False
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return True


def register_security(app: Flask) -> None:
    if app.config["TRUST_PROXY_HEADERS"]:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1, x_port=1)
    secure = app.config["TINKER_BASE_URL"].startswith("https://")
    app.config.update(
        SESSION_COOKIE_SECURE=secure,
        SESSION_COOKIE_SAMESITE="None" if secure else "Lax",
        SESSION_COOKIE_PARTITIONED=secure,
    )

    @app.before_request
    def _refuse_nul_characters():
        # No page or API field takes a NUL character, and PostgreSQL refuses one in any text it is asked to compare:
        # a query string or form value holding one (%00) is a bad request here, not a server error in a query.
        if "\x00" in request.path or any(
                "\x00" in value for values in (request.args, request.form) for _key, value in values.items(multi=True)):
            raise BadRequest("A form field or the address holds a NUL character, which no field takes.")
        # JSON may escape half of a UTF-16 pair ("\ud800"): a string no database can store (the driver failed on it,
        # a server error), and no text anyone typed.
        if request.is_json and not _encodable(_parsed_json()):
            raise BadRequest("The JSON holds half of a UTF-16 surrogate pair (\\ud800-\\udfff alone), which is no "
                             "character: send the text as UTF-8.")

    @app.before_request
    def _write_intent():
        view = app.view_functions.get(request.endpoint or "")
        if request.method in UNSAFE or getattr(view, "tinker_writes", False):
            g._write_token = set_write_intent(True)

    @app.teardown_request
    def _end_write_intent(_exc):
        token = g.pop("_write_token", None)
        if token is not None:
            reset_write_intent(token)

    @app.after_request
    def _headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        # The launch token travels in URLs; never leak it to other sites.
        response.headers.setdefault("Referrer-Policy", "same-origin")
        # a view that set its own, stricter policy (a public page with no script or style at all) keeps it
        if response.mimetype == "text/html" and "Content-Security-Policy" not in response.headers:
            response.headers["Content-Security-Policy"] = (
                "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                f"object-src 'none'; base-uri 'none'; form-action 'self'{_extra('form-action')}; "
                f"frame-ancestors {_frame_ancestors()}{_extra('frame-ancestors')}"
            )
        if response.mimetype == "text/html":
            response.headers.setdefault("Cache-Control", "no-store")
        return response
