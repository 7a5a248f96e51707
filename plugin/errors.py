"""Errors by type: one DomainError family, rendered as a page inside the LMS frame or one JSON envelope."""
from __future__ import annotations

import logging

from flask import Flask, g, jsonify, render_template, request
from marshmallow import ValidationError as SchemaValidationError
from sqlalchemy import exc as sa_exc
from werkzeug.exceptions import HTTPException

from plugin.field_messages import HTTP_TEXTS, localise_field_errors
from plugin.i18n import gettext as _
from plugin.i18n import lazy_gettext as _l

log = logging.getLogger(__name__)


class DomainError(Exception):
    status = 400
    code = "bad_request"
    title = _l("Something is not right")

    def __init__(self, message: str, *, errors: dict | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.errors = errors or {}
        self.hint = hint

    def form_errors(self) -> dict:
        """For re-rendering a form: the message under "_" (the page's summary), then the field messages."""
        return {"_": [self.message], **self.errors}


class NotFound(DomainError):
    status, code, title = 404, "not_found", _l("Not found")


class Forbidden(DomainError):
    status, code, title = 403, "forbidden", _l("Not allowed")


class Unauthenticated(DomainError):
    status, code, title = 401, "unauthenticated", _l("Please launch Tinker from your course")


class Conflict(DomainError):
    status, code, title = 409, "conflict", _l("Already done")


class InvalidInput(DomainError):
    status, code, title = 422, "invalid", _l("Please check the form")


class RateLimited(DomainError):
    """Too many requests from one API token in the current window; retry_after in seconds."""

    status, code, title = 429, "rate_limited", _l("Too many requests")

    def __init__(self, message: str, *, retry_after: int):
        super().__init__(message)
        self.headers = {"Retry-After": str(retry_after)}


class SharedStoreUnavailable(Exception):
    """The shared cache (Redis, when TINKER_REDIS_URL is set) cannot be reached: a 503, like a database outage."""


class LaunchRejected(DomainError):
    """An LTI message that fails validation; the hint tells the LMS admin what to check."""

    status, code, title = 400, "launch_rejected", _l("This launch could not be accepted")


def wants_json() -> bool:
    if request.path.startswith("/api/") or request.is_json:
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


def render_error(status: int, code: str, title: str, message: str, errors=None, hint=None):
    if wants_json():
        body = {"error": {"code": code, "message": str(message)}}
        if errors:
            body["error"]["errors"] = errors
        return jsonify(body), status
    return (
        render_template("errors/error.html", status=status, title=title, message=message, hint=hint,
                        errors=localise_field_errors(errors) if errors else errors),
        status,
    )


def _flatten_locations(messages: dict) -> dict:
    """{"json": {"title": [...]}, "query": {...}} -> {"title": [...], ...}: field names are unique across
    locations in this API, and a client fixes a field, not a location."""
    flat: dict = {}
    for location, fields in messages.items():
        if isinstance(fields, dict):
            flat.update(fields)
        else:
            flat[location] = fields
    return flat


OUTAGE_ERRORS = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError, sa_exc.DisconnectionError)


def _caused_by_outage(err: BaseException) -> bool:
    """Whether a database outage is behind this error: the error itself, or one it was raised from or while
    handling (a PendingRollbackError after a cut connection, a driver error SQLAlchemy did not wrap)."""
    seen: set[int] = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        if isinstance(err, OUTAGE_ERRORS) or (isinstance(err, sa_exc.PendingRollbackError)) or (
                type(err).__name__ == "OperationalError" and type(err).__module__.split(".")[0] in ("psycopg", "sqlite3")):
            return True
        err = err.__cause__ or err.__context__
    return False


def _identify_reader() -> None:
    """An error outside any view (an unknown address, a wrong method): find who is reading from their launch
    token or session, so the page speaks their language and keeps their navigation. Nobody, quietly, if none."""
    if g.get("actor") is not None or wants_json():
        return
    try:
        from plugin.web.auth import resolve_actor  # the page adapter's way of finding the reader

        resolve_actor()
    except Exception:  # noqa: BLE001 - no launch (or no database): the page is shown without one
        g.pop("actor", None)
        g.pop("launch", None)
        g.pop("launch_token", None)
        from plugin.extensions import db

        db.session.rollback()


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def _domain(err: DomainError):
        body, status = render_error(err.status, err.code, err.title, err.message, err.errors, err.hint)
        return body, status, getattr(err, "headers", {})

    @app.errorhandler(SchemaValidationError)
    def _schema(err: SchemaValidationError):
        messages = err.messages if isinstance(err.messages, dict) else {"_schema": err.messages}
        return render_error(422, "invalid", InvalidInput.title, _("Some fields need attention."), messages)

    @app.errorhandler(HTTPException)
    def _http(err: HTTPException):
        original = getattr(err, "original_exception", None)  # an error outside the view (after_request hooks)
        if original is not None and _caused_by_outage(original):
            return _database_unavailable(original)
        if err.code is not None and err.code < 400:  # 304 Not Modified (ETag): no body at all
            return err.get_response()
        _identify_reader()
        code = (err.name or "error").lower().replace(" ", "_")
        # webargs (the API's argument parser) puts field messages, keyed by location, in err.data.
        messages = (getattr(err, "data", None) or {}).get("messages")
        errors = _flatten_locations(messages) if isinstance(messages, dict) else None
        if errors is not None:
            return render_error(err.code or 422, "invalid", InvalidInput.title, _("Some fields need attention."), errors)
        title, message = HTTP_TEXTS.get(err.code, (None, None))
        if wants_json() or title is None:  # the JSON envelope keeps werkzeug's words; pages get the reader's language
            title, message = err.name, err.description or err.name
        body, status = render_error(err.code or 500, code, str(title), str(message))
        return body, status, [(k, v) for k, v in err.get_headers() if k == "Allow"]

    @app.errorhandler(sa_exc.OperationalError)
    @app.errorhandler(sa_exc.InterfaceError)
    @app.errorhandler(sa_exc.TimeoutError)
    @app.errorhandler(sa_exc.DisconnectionError)
    def _database_unavailable(err: Exception):
        """The database is unreachable, restarting, out of connections or (SQLite) locked for too long: a
        503 the LMS frame can show, and the app reconnects by itself once it is back (a pooled connection the
        server closed is replaced at checkout: core.db.watch_connections)."""
        if app.config.get("RAISE_UNEXPECTED") and not app.config.get("DATABASE_OUTAGE_PAGES"):
            raise err
        log.warning("database unavailable on %s %s: %s", request.method, request.path, str(err).splitlines()[0])
        try:
            from plugin.extensions import db

            db.session.rollback()
        except Exception:  # noqa: BLE001 - the connection is already gone
            pass
        g.pop("launch", None)  # an expired row after the rollback: reading it would go back to the database
        actor = g.pop("actor", None)  # the page must not ask the database for the navigation
        if actor is not None:  # ...but stays frameable by the actor's LMS (plugin.web.security.frame_origins)
            g.outage_platform_id = actor.platform_id
        response = render_error(
            503, "database_unavailable", _("Tinker is briefly unavailable"),
            _("Tinker cannot reach its database right now. Please try again in a minute: if what you sent was "
              "already saved, sending it again will not save it twice."))
        response = app.make_response(response)
        response.headers["Retry-After"] = "30"
        return response

    @app.errorhandler(SharedStoreUnavailable)
    def _shared_store_unavailable(err: SharedStoreUnavailable):
        log.warning("shared cache unavailable on %s %s: %s", request.method, request.path, str(err).splitlines()[0])
        response = app.make_response(render_error(
            503, "shared_store_unavailable", _("Tinker is briefly unavailable"),
            _("Tinker cannot reach its shared cache right now. Please try again in a minute.")))
        response.headers["Retry-After"] = "30"
        return response

    @app.errorhandler(Exception)
    def _unexpected(err: Exception):
        if _caused_by_outage(err):  # e.g. a session left unusable by a connection cut mid-transaction
            return _database_unavailable(err)
        if app.config.get("RAISE_UNEXPECTED"):  # tests see the real traceback, not a generic page
            raise err
        log.exception("unhandled error on %s %s", request.method, request.path)
        return render_error(
            500, "server_error", _("Something went wrong on our side"),
            _("The error has been logged. Nothing you entered was saved twice; please try again."),
        )
