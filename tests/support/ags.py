"""A fake AGS platform over real HTTP: an OAuth2 token endpoint that checks the tool's client assertion
(signature against the tool's published keys, aud exactly the token URL, granted scopes), and Moodle-shaped
line items (`...?type_id=1` on every URL) with a scores endpoint that can be told how to answer."""
from __future__ import annotations

import json
import secrets
import threading
from urllib.parse import urlsplit

import jwt
from jwt.algorithms import RSAAlgorithm
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

SCOPES = {"https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
          "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly",
          "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
          "https://purl.imsglobal.org/spec/lti-ags/scope/score"}
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


class FakeAgs:
    def __init__(self, client_id: str, tool_jwks):
        """tool_jwks() returns the tool's public key set (as its /lti/jwks serves it)."""
        self.client_id = client_id
        self.tool_jwks = tool_jwks
        self.lock = threading.Lock()
        self.token_requests: list[dict] = []
        self.token_errors: list[str] = []
        self.tokens: set[str] = set()
        self.lineitems: dict[int, dict] = {}
        self.lineitem_posts = 0
        self.scores: list[dict] = []  # every score POST, with the status answered
        self.score_answers: list[int] = []  # statuses to answer next (then 200)
        self.lineitems_answers: list[int] = []  # statuses the line items container answers next (then 200)
        self.page_size: int | None = None
        self.new_lineitem_id = None  # the id the next line item made gets (None: Moodle's shape)
        self.after_lineitems_get = None  # called (outside the lock) before a line items listing is sent  # page the line items container (Link rel="next"), as Moodle and Canvas do
        self.server = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        self.base = f"http://127.0.0.1:{self.server.server_port}"
        self.token_url = f"{self.base}/mod/lti/token.php"
        self.lineitems_url = f"{self.base}/mod/lti/services.php/2/lineitems?type_id=1"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()

    def claim(self) -> dict:
        return {"scope": sorted(SCOPES), "lineitems": self.lineitems_url}

    def close(self):
        self.server.shutdown()

    # --- HTTP ----------------------------------------------------------------------------------------
    def _wsgi(self, environ, start_response):
        request = Request(environ)
        with self.lock:
            response = self._route(request)
        hook = self.after_lineitems_get
        if hook is not None and request.method == "GET" and request.path == "/mod/lti/services.php/2/lineitems":
            hook()  # answered, not yet sent: another caller can act meanwhile (the lock is free)
        return response(environ, start_response)

    def _route(self, request: Request) -> Response:
        path = request.path
        if path == "/mod/lti/token.php" and request.method == "POST":
            return self._token(request)
        if not self._authorised(request):
            return Response("unauthorised", 401)
        if path == "/mod/lti/services.php/2/lineitems":
            if request.args.get("type_id") != "1":
                return Response("type_id missing", 400)
            if request.method == "GET":
                if self.lineitems_answers:  # e.g. 429, or Canvas's 403 "Rate Limit Exceeded"
                    return Response("refused", self.lineitems_answers.pop(0))
                return self._lineitems_page(request)
            if request.method == "POST":
                return self._create_lineitem(request)
        parts = path.split("/")
        if len(parts) >= 7 and parts[5] == "lineitems" and parts[6].isdigit() and int(parts[6]) in self.lineitems:
            item = self.lineitems[int(parts[6])]
            if request.args.get("type_id") != "1":
                return Response("type_id missing", 400)
            if path.endswith("/lineitem/scores") and request.method == "POST":
                return self._score(request, item)
            if path.endswith("/lineitem") and request.method == "PUT":
                item.update({k: v for k, v in request.get_json().items() if k != "id"})
                return self._json(item, 200)
            if path.endswith("/lineitem") and request.method == "GET":
                return self._json(item, 200)
        return Response("not found", 404)

    def _lineitems_page(self, request: Request) -> Response:
        items = list(self.lineitems.values())
        if self.page_size is None:
            return self._json(items, 200)
        start = int(request.args.get("from", "0"))
        response = self._json(items[start:start + self.page_size], 200)
        if start + self.page_size < len(items):
            response.headers["Link"] = (f'<{self.lineitems_url}&from={start + self.page_size}>; rel="next", '
                                        f'<{self.lineitems_url}>; rel="first"')
        return response

    def _json(self, body, status: int) -> Response:
        return Response(json.dumps(body), status, mimetype="application/json")

    def _authorised(self, request: Request) -> bool:
        header = request.headers.get("Authorization", "")
        return header.startswith("Bearer ") and header[7:] in self.tokens

    def _token(self, request: Request) -> Response:
        form = request.form
        self.token_requests.append(dict(form))

        def refuse(why: str) -> Response:
            self.token_errors.append(why)
            return self._json({"error": "invalid_request", "error_description": why}, 400)

        if form.get("grant_type") != "client_credentials" or form.get("client_assertion_type") != ASSERTION_TYPE:
            return refuse("grant")
        assertion = form.get("client_assertion", "")
        try:
            kid = jwt.get_unverified_header(assertion)["kid"]
            jwk = next(k for k in self.tool_jwks()["keys"] if k["kid"] == kid)
            claims = jwt.decode(assertion, RSAAlgorithm.from_jwk(json.dumps(jwk)), algorithms=["RS256"],
                                audience=self.token_url, options={"require": ["iss", "sub", "aud", "exp", "iat", "jti"]})
        except (jwt.InvalidTokenError, StopIteration, KeyError) as exc:
            return refuse(f"assertion: {exc}")
        if not (claims["iss"] == claims["sub"] == self.client_id):
            return refuse("iss/sub")
        if claims["aud"] != self.token_url:  # exactly the token URL, as Canvas insists
            return refuse("aud")
        requested = set((form.get("scope") or "").split())
        if not requested or not requested <= SCOPES:
            return refuse("scope")
        token = secrets.token_hex(16)
        self.tokens.add(token)
        return self._json({"access_token": token, "token_type": "Bearer", "expires_in": 3600,
                           "scope": " ".join(sorted(requested))}, 200)

    def _create_lineitem(self, request: Request) -> Response:
        body = request.get_json()
        if not body.get("label") or not body.get("scoreMaximum"):
            return Response("label and scoreMaximum required", 400)
        number = len(self.lineitems) + 1
        item = {**body, "id": self.new_lineitem_id or
                f"{self.base}/mod/lti/services.php/2/lineitems/{number}/lineitem?type_id=1"}
        self.lineitems[number] = item
        self.lineitem_posts += 1
        return self._json(item, 201)

    def _score(self, request: Request, item: dict) -> Response:
        status = self.score_answers.pop(0) if self.score_answers else 200
        self.scores.append({"lineitem": item["id"], "status": status, "path": urlsplit(request.url).path,
                            "content_type": request.content_type, "body": request.get_json()})
        if status == 400:
            return self._json([], 400)  # Moodle: a user who cannot be graded (teacher)
        if status == 409:
            return Response("Refusing score with an earlier timestamp", 409)
        if status == 422:  # Canvas: a user it does not grade here (Test Student, a dropped enrolment)
            return self._json({"errors": {"type": "unprocessable_entity",
                                          "message": "User not found in course or is not a student"}}, 422)
        if status == 4221:  # Canvas: the course is over
            return self._json({"errors": {"type": "unprocessable_entity", "message": "This course has concluded. "
                                          "AGS requests will no longer be accepted for this course."}}, 422)
        if status >= 500:
            return Response("server error", status)
        return Response("", 200)

    def accepted(self) -> list[dict]:
        return [s["body"] for s in self.scores if s["status"] == 200]
