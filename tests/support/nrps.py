"""A fake LMS serving OAuth2 client-credentials tokens, Names and Role Provisioning and course groups over
real HTTP, shaped like Moodle and Canvas answers.

The token endpoint checks the tool's client assertion against the tool's public keys, fetched from the tool's
own /lti/jwks, with aud exactly this token URL. Rosters are served in pages whose next-page tokens are
case-sensitive (`page=AbC`): a lower-cased URL gets a 404, as a strict platform would answer.

Canvas group rosters are served as Canvas documents them
(https://developerdocs.instructure.com/services/canvas/resources/names_and_role): GET
/api/lti/groups/:group_id/names_and_roles with the NRPS scope, a membership container whose context is the
group (opaque id, title = the group's name, no label), members with group roles, paged by Link rel="next";
an unknown group is a 404 ("Context not found").
"""
from __future__ import annotations

import json
import secrets
import threading
from urllib.parse import parse_qs

import jwt
import requests
from jwt.algorithms import RSAAlgorithm
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

NRPS_CLAIM = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
GROUPS_CLAIM = "https://purl.imsglobal.org/spec/lti-gs/claim/groupsservice"
NRPS_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
LIS = "http://purl.imsglobal.org/vocab/lis/v2/"
PAGE_TOKENS = ["", "AbC", "dEf", "GhI", "jKl"] + [f"mN{i}oP" for i in range(5, 200)]


def moodle_member(user_id: str, role: str = "Learner", name: str | None = None, **extra) -> dict:
    member = {"user_id": user_id, "roles": [f"{LIS}membership#{role}"], "status": "Active", **extra}
    if name:
        given, _, family = name.partition(" ")
        member.update(name=name, given_name=given, family_name=family, email=f"{given.lower()}@moodle.example")
    return member


def canvas_member(user_id: str, name: str, roles: list[str] | None = None, **extra) -> dict:
    return {"status": "Active", "name": name, "picture": "https://canvas.example/avatar.png",
            "given_name": name.split()[0], "family_name": name.split()[-1], "user_id": user_id,
            "lti11_legacy_user_id": secrets.token_hex(20), "lis_person_sourcedid": None,
            "roles": roles or [f"{LIS}institution/person#Student", f"{LIS}membership#Learner",
                               f"{LIS}system/person#User"], **extra}


class FakeNrps:
    def __init__(self, client_id: str, tool_jwks_url: str, page_size: int = 3, max_page_size: int | None = None):
        self.client_id = client_id
        self.tool_jwks_url = tool_jwks_url
        # Members per page when the request names no `limit` (Canvas: 10), and the most a `limit` gets
        # (Canvas: 50; a larger limit is cut to it, as Canvas's pagination does).
        self.page_size = page_size
        self.max_page_size = max_page_size or page_size
        self.rosters: dict[str, list[dict]] = {}
        self.groups: dict[str, list[dict]] = {}
        self.canvas_groups: dict[str, tuple[str, list[dict] | None]] = {}  # group id -> (name, members; None: 500)
        self.tokens: dict[str, str] = {}  # issued token -> scope
        self.token_requests = 0
        self.token_errors: list[str] = []
        self.requests: list[str] = []  # roster and group URLs as received, query included
        self.next_base: str | None = None  # set to point next-page links at another site
        self.token_refusal: str | None = None  # set: the token endpoint refuses every request with this text
        self.server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self.base = f"http://127.0.0.1:{self.server.server_port}"
        self.token_url = f"{self.base}/login/oauth2/token"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    # --- URLs a launch announces -----------------------------------------------------------------
    def memberships_url(self, context_id: str) -> str:
        return f"{self.base}/api/lti/courses/{context_id}/names_and_roles"

    def groups_url(self, context_id: str) -> str:
        return f"{self.base}/api/lti/courses/{context_id}/groups"

    def claims(self, context_id: str, groups: bool = True) -> dict:
        out = {NRPS_CLAIM: {"context_memberships_url": self.memberships_url(context_id),
                            "service_versions": ["2.0"]}}
        if groups:
            out[GROUPS_CLAIM] = {"context_groups_url": self.groups_url(context_id), "service_versions": ["1.0"],
                                 "scope": ["https://purl.imsglobal.org/spec/lti-gs/scope/contextgroup.readonly"]}
        return out

    # --- HTTP ------------------------------------------------------------------------------------
    def _app(self, environ, start_response):
        request = Request(environ)
        if request.path == "/login/oauth2/token" and request.method == "POST":
            response = self._token(request)
        elif request.path.startswith("/api/lti/groups/") and request.path.endswith("/names_and_roles"):
            response = self._canvas_group(request)
        elif request.path.endswith("/names_and_roles"):
            response = self._paged(request, "members", self.rosters, "/names_and_roles", NRPS_SCOPE)
        elif request.path.endswith("/groups"):
            response = self._paged(request, "groups", self.groups, "/groups", "contextgroup.readonly")
        else:
            response = Response("not found", status=404)
        return response(environ, start_response)

    def _error(self, message: str) -> Response:
        self.token_errors.append(message)
        return Response(json.dumps({"error": "invalid_client", "error_description": message}), status=400,
                        mimetype="application/json")

    def _token(self, request: Request) -> Response:
        self.token_requests += 1
        if self.token_refusal is not None:
            return Response(self.token_refusal, status=400, mimetype="text/plain")
        form = request.form
        if form.get("grant_type") != "client_credentials":
            return self._error("grant_type")
        if form.get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer":
            return self._error("client_assertion_type")
        assertion = form.get("client_assertion", "")
        try:
            kid = jwt.get_unverified_header(assertion)["kid"]
            jwks = requests.get(self.tool_jwks_url, timeout=5).json()["keys"]
            key = RSAAlgorithm.from_jwk(json.dumps(next(k for k in jwks if k["kid"] == kid)))
            claims = jwt.decode(assertion, key, algorithms=["RS256"], audience=self.token_url,
                                issuer=self.client_id, options={"require": ["exp", "iat", "jti", "sub"]})
        except Exception as exc:  # any failure is the client's
            return self._error(f"assertion: {exc!r}")
        if claims["sub"] != self.client_id:
            return self._error("sub")
        token = secrets.token_urlsafe(16)
        self.tokens[token] = form.get("scope", "")
        return Response(json.dumps({"access_token": token, "token_type": "Bearer", "expires_in": 3600,
                                    "scope": self.tokens[token]}), mimetype="application/json")

    def _paged(self, request: Request, key: str, store: dict, suffix: str, scope: str) -> Response:
        context_id = request.path.split("/")[-2]
        if context_id not in store:
            self.requests.append(request.url)
            return Response("no such course", status=404)
        return self._page(request, key, store[context_id], f"/api/lti/courses/{context_id}{suffix}", scope,
                          {"id": context_id, "title": f"Course {context_id}"} if key == "members" else None)

    def _canvas_group(self, request: Request) -> Response:
        group_id = request.path.split("/")[-2]
        if group_id not in self.canvas_groups:
            self.requests.append(request.url)
            return Response(json.dumps({"errors": [{"message": "Context not found"}]}), status=404,
                            mimetype="application/json")
        name, members = self.canvas_groups[group_id]
        if members is None:  # a group whose roster the LMS fails to serve
            self.requests.append(request.url)
            return Response("internal error", status=500)
        context = {"id": f"opaque-{group_id}", "label": None, "title": name}
        return self._page(request, "members", members, f"/api/lti/groups/{group_id}/names_and_roles", NRPS_SCOPE,
                          context)

    def _page(self, request: Request, key: str, items: list, path: str, scope: str, context: dict | None) -> Response:
        self.requests.append(request.url)
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if scope not in self.tokens.get(token, ""):
            return Response("unauthorised", status=401)
        query = parse_qs(request.query_string.decode())
        page_token = query.get("page", [""])[0]
        if page_token not in PAGE_TOKENS:  # case matters: 'abc' is not 'AbC'
            return Response("unknown page", status=404)
        limit = query.get("limit", [""])[0]
        size = min(int(limit), self.max_page_size) if limit.isdigit() and int(limit) > 0 else self.page_size
        index = PAGE_TOKENS.index(page_token)
        chunk = items[index * size:(index + 1) * size]
        body = {"id": request.base_url, key: chunk}
        if context is not None:
            body["context"] = context
        response = Response(json.dumps(body), mimetype=f"application/vnd.ims.lti-nrps.v2.{key}+json")
        url = f"{self.next_base or self.base}{path}"
        kept = f"&limit={limit}" if limit else ""  # the next page keeps the page size asked for, as Canvas's do
        links = [f'<{url}?page={PAGE_TOKENS[index]}{kept}>; rel="current"', f'<{url}>; rel="first"']
        if (index + 1) * size < len(items):
            links.insert(1, f'<{url}?page={PAGE_TOKENS[index + 1]}{kept}>; rel="next"')
        response.headers["Link"] = ",".join(links)  # Canvas-style: several relations in one header
        return response

    def close(self):
        self.server.shutdown()
