"""flask-smorest wired to Tinker: the app's own error envelope, bearer schemes, paths relative to /api/v1."""
from __future__ import annotations

import copy
import hashlib
import hmac
import json

import flask_smorest
from flask import Response, current_app, g, request
from flask_smorest import Api
from flask_smorest.exceptions import NotModified
from marshmallow import Schema, fields
from webargs.flaskparser import FlaskParser, is_json_request
from werkzeug.exceptions import UnsupportedMediaType

from plugin.core.ids import MAX_ID, IdConverter
from plugin.i18n import gettext as _
from plugin.i18n import locale

SECURITY_SCHEMES = {
    "launchToken": {"type": "http", "scheme": "bearer", "bearerFormat": "Tinker launch token",
                    "description": "The signed launch token a page receives after an LTI launch: the same person, "
                                   "role and course as in the LMS."},
    "apiToken": {"type": "http", "scheme": "bearer", "bearerFormat": "tkn_...",
                 "description": "An API token an administrator issued for the organisation, with scopes and "
                                "an expiry."},
}


class ErrorBody(Schema):
    code = fields.String(required=True, metadata={"example": "not_found"})
    message = fields.String(required=True)
    errors = fields.Dict(keys=fields.String(), metadata={"description": "Field name -> messages (422 only)"})


class ErrorOut(Schema):
    error = fields.Nested(ErrorBody, required=True)


def _link(operation_id: str, **parameters: str) -> dict:
    return {"operationId": operation_id, "parameters": {"course_id": "$request.path.course_id", **parameters}}


# OpenAPI links: what a client (and Schemathesis's stateful phase) can do next with what an operation returned.
LINKS = {
    "create_experiment": {"201": {
        "ReadExperiment": _link("read_experiment", experiment_id="$response.body#/id"),
        "UpdateExperiment": _link("update_experiment", experiment_id="$response.body#/id"),
        "ShareExperiment": _link("share_experiment", experiment_id="$response.body#/id")}},
    "award_badge": {"201": {"RevokeAward": _link("revoke_award", award_id="$response.body#/id")}},
    "give_kudos": {"201": {"RevokeKudos": _link("revoke_kudos", kudos_id="$response.body#/id")}},
    "create_challenge": {"201": {"UpdateChallenge": _link("update_challenge", challenge_id="$response.body#/id")}},
    "create_team": {"201": {
        "RenameTeam": _link("rename_team", team_id="$response.body#/id"),
        "AddTeamMembers": _link("add_team_members", team_id="$response.body#/id")}},
    "create_rule": {"201": {
        "ReadRule": {"operationId": "read_rule", "parameters": {"rule_id": "$response.body#/id"}},
        "DeleteRule": {"operationId": "delete_rule", "parameters": {"rule_id": "$response.body#/id"}}}},
    "create_webhook": {"201": {
        "SetWebhookState": {"operationId": "set_webhook_state", "parameters": {"webhook_id": "$response.body#/id"}},
        "RotateWebhookSecret": {"operationId": "rotate_webhook_secret",
                                "parameters": {"webhook_id": "$response.body#/id"}},
        "DeleteWebhook": {"operationId": "delete_webhook", "parameters": {"webhook_id": "$response.body#/id"}}}},
}


class TinkerApi(Api):
    ERROR_SCHEMA = ErrorOut

    def __init__(self, app):
        app.config.setdefault("API_TITLE", "Tinker API")
        app.config.setdefault("API_VERSION", "1")
        app.config.setdefault("OPENAPI_VERSION", "3.0.3")
        app.url_map.converters["id"] = IdConverter
        super().__init__(app, spec_kwargs={"servers": [{"url": "/api/v1"}],
                                           "components": {"securitySchemes": SECURITY_SCHEMES}})
        self.register_converter(IdConverter, lambda _c: {"type": "integer", "minimum": 1, "maximum": MAX_ID})

    def _register_error_handlers(self):
        """Errors are the app's (plugin.errors): one envelope for the API, pages for the iframe."""

    def document(self, prefix: str) -> dict:
        """The OpenAPI document with paths relative to the `servers` entry."""
        spec = copy.deepcopy(self.spec.to_dict())
        spec["paths"] = {(path[len(prefix):] or "/"): item for path, item in spec["paths"].items()
                         if path.startswith(prefix + "/")}
        # Tags are the blueprints' names ("api_experiments", unique in the app); readers see "Experiments".
        for item in spec["paths"].values():
            for op in item.values():
                if isinstance(op, dict) and "tags" in op:
                    op["tags"] = [_tag(t) for t in op["tags"]]
                for status, links in LINKS.get(op.get("operationId") if isinstance(op, dict) else None, {}).items():
                    op["responses"][status]["links"] = links
        for tag in spec.get("tags", []):
            tag["name"] = _tag(tag["name"])
        return spec


def _tag(name: str) -> str:
    return name.removeprefix("api_").replace("_", " ").capitalize()


class Parser(FlaskParser):
    """webargs' parser, where JSON nested deeper than Python's parser goes (RecursionError) is an invalid body,
    400 in the envelope, like any other; it was a 500. A body that is not JSON (a form, text/plain, no
    Content-Type) is 415: webargs would ignore it, so `required` fields were reported missing and an optional
    body read as empty (a resend of one delivery sent every failed one again)."""

    def _raw_load_json(self, req):
        if not is_json_request(req) and (req.content_length or req.get_data(cache=True)):
            raise UnsupportedMediaType(_("Send the body as JSON, with the header Content-Type: application/json."))
        try:
            return super()._raw_load_json(req)
        except RecursionError:
            return self._handle_invalid_json_error(json.JSONDecodeError("nested too deeply", "", 0), req)


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest's blueprint with Tinker's argument parser, and weak ETags from a data version (under
    `@blp.etag`, which documents If-None-Match, 304 and the ETag header). Every API blueprint is one."""

    ARGUMENTS_PARSER = Parser()

    def weak_etag(self, *version) -> None:
        """Call first thing in a GET: answers 304 at once when the client's tag is current (nothing else is
        computed), else tags the response. The tag covers the path, the query, the language the answer is in
        (labels and texts follow Accept-Language) and `version` (who asks and the data version); it names the
        content's version, not its bytes: weak."""
        parts = [request.path, sorted(request.args.items(multi=True)), str(locale()), *version]
        # Keyed: a tag cannot be guessed, so only someone who received it in a 200 can get a 304 with it.
        tag = hmac.new(current_app.config["SECRET_KEY"].encode(), json.dumps(parts, default=str).encode(),
                       hashlib.sha256).hexdigest()[:32]
        if request.if_none_match.contains_weak(tag):
            unchanged = Response(status=304)
            unchanged.set_etag(tag, weak=True)
            raise NotModified(response=unchanged)
        g.api_weak_etag = tag

    def _set_etag_in_response(self, response):
        tag = g.pop("api_weak_etag", None)
        if tag is None:  # no data version given: the body's hash, as flask-smorest does
            return super()._set_etag_in_response(response)
        response.set_etag(tag, weak=True)
