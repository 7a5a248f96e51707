"""Who calls the API: a launch token (the same person, role and course as the pages) or an API token
(the organisation's integration account, limited to its scopes and rate limited), both as Bearer credentials.

No cookie is ever read here, so a cross-site page cannot ride on a browser session: no CSRF token needed.
"""
from __future__ import annotations

from functools import wraps

from flask import current_app, g, request

from plugin.core.actor import Actor
from plugin.core.clock import utcnow
from plugin.core.db import set_write_intent
from plugin.errors import Forbidden, NotFound, RateLimited, Unauthenticated
from plugin.extensions import db
from plugin.lti import shared_store
from plugin.lti.session import load_actor, session_id_from_token
from plugin.tenancy.models import Course
from plugin.tokens import service as tokens
from plugin.tokens.models import ApiToken

LAUNCH = "launchToken"
API = "apiToken"
ANY = "*"  # any API token, whatever its scopes (who am I, which courses)


def _bearer() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, credential = header.partition(" ")
    if scheme.lower() != "bearer" or not credential.strip():
        raise Unauthenticated("Send a launch token or an API token as 'Authorization: Bearer ...'.")
    return credential.strip()


def _api_token(secret: str) -> ApiToken:
    if "_write_token" not in g:  # the counter below writes: SQLite must open the transaction as a writer
        g._write_token = set_write_intent(True)
    now = utcnow()
    token = tokens.authenticate(secret, now)
    count = shared_store.current().count_request(token, now)
    db.session.commit()  # the request counts even when the call itself fails
    limit = current_app.config["API_RATE_LIMIT"]
    if count > limit:
        raise RateLimited(f"More than {limit} requests this minute; try again shortly.", retry_after=60 - now.second)
    return token


def caller() -> tuple[Actor | None, ApiToken | None]:
    """(launch actor, None) or (None, API token); cached for the request."""
    if "api_caller" not in g:
        secret = _bearer()
        if secret.startswith(tokens.TOKEN_PREFIX):
            g.api_caller = (None, _api_token(secret))
        else:
            cfg = current_app.config
            session_id = session_id_from_token(cfg["SECRET_KEY"], secret, cfg["LAUNCH_TOKEN_TTL"])
            g.api_caller = (load_actor(session_id, utcnow())[0], None)
    return g.api_caller


def _grants(token: ApiToken, scope) -> bool:
    wanted = (scope,) if isinstance(scope, str) else tuple(scope)
    return ANY in wanted or bool(token.scope_set & set(wanted))


def actor_in(course_id: int | None, scope) -> Actor:
    """The actor for a call on course_id (None: the caller's own course, launch tokens only).

    A launch actor reaches its own course only; an API token reaches the courses of its organisation and
    only endpoints open to one of its scopes. Anything else is 404 (courses) or 403 (scopes)."""
    actor, token = caller()
    if token is not None:
        if scope is None:
            raise Forbidden("API tokens cannot call this endpoint; it acts for a person launched from the LMS.")
        if not _grants(token, scope):
            raise Forbidden(f"This API token lacks the scope {describe(scope)}.")
        if course_id is None:
            return tokens.token_actor(token, None)
        course = db.session.get(Course, course_id)
        if course is None or course.organisation_id != token.organisation_id:
            raise NotFound("No such course in your organisation.")
        return tokens.token_actor(token, course.id)
    if course_id is not None and course_id != actor.course_id:
        raise NotFound("No such course, or not the course you launched from.")
    return actor


def describe(scope) -> str:
    return scope if isinstance(scope, str) else " or ".join(scope)


def authorised(scope=None):
    """View decorator: passes the actor first; `course_id` in the URL selects (and checks) the course."""

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            actor = actor_in(kwargs.pop("course_id", None), scope)
            return view(actor, *args, **kwargs)

        wrapper._tinker_scope = scope
        return wrapper

    return decorator


def guard(blp, scope=None):
    """authorised(scope) and its OpenAPI security requirement, in one decorator (under the response one)."""

    def decorator(view):
        # operationId = the view's name: stable names an external client looks operations up by.
        return blp.doc(security=security(scope), operationId=view.__name__)(authorised(scope)(view))

    return decorator


def security(scope=None) -> list[dict]:
    """The OpenAPI security requirement of an operation (bearer schemes carry no scope list in OpenAPI 3.0;
    the scope an API token needs is named in the operation's description)."""
    return [{LAUNCH: []}, {API: []}] if scope else [{LAUNCH: []}]
