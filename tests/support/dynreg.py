"""A platform's side of LTI Dynamic Registration, over real HTTP, shaped like Moodle 4.x:

- GET  {issuer}/mod/lti/openid-configuration.php   the platform's OpenID configuration
- POST {issuer}/mod/lti/openid-registration.php    needs `Authorization: Bearer <registration_token>`;
  answers 200 with a 15-character client_id and the deployment id (the tool type id, "1", "2", ...)
  inside https://purl.imsglobal.org/spec/lti-tool-configuration, as Moodle's registration_helper does
- GET  {issuer}/mod/lti/certs.php                  the platform's JWKS (a FakePlatform's keys)
- POST {issuer}/mod/lti/contentitem_return.php     receives a deep-linking answer (form field JWT)
- GET  {issuer}/admin/frame.php?url=...            a platform page framing the tool, listing the
                                                   postMessages it receives (for browser tests)

Every request is recorded, so tests can prove the tool fetched nothing.
"""
from __future__ import annotations

import html
import json
import secrets
import string
import threading
from dataclasses import dataclass

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from tests.support.platform import FakePlatform

TOOL_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-tool-configuration"
PLATFORM_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-platform-configuration"
CONFIG_PATH = "/mod/lti/openid-configuration.php"
REGISTER_PATH = "/mod/lti/openid-registration.php"
RETURN_PATH = "/mod/lti/contentitem_return.php"
FRAME_PAGE = """<!doctype html><title>Moodle: manage tools</title>
<ul id="messages"></ul>
<iframe name="tool" src="{url}" width="900" height="600"></iframe>
<script>
window.addEventListener("message", function (event) {
  var item = document.createElement("li");
  item.textContent = event.origin + " " + JSON.stringify(event.data);
  document.getElementById("messages").appendChild(item);
});
</script>"""


@dataclass
class Seen:
    method: str
    path: str
    authorization: str | None
    body: dict | None


class MoodleRegistrationServer:
    config_path, register_path, certs_path = CONFIG_PATH, REGISTER_PATH, "/mod/lti/certs.php"

    def __init__(self, *, issuer: str | None = None, registration_token: str = "moodle-reg-jwt",
                 config_overrides: dict | None = None, deployment_id: bool = True):
        self.registration_token = registration_token
        self.config_overrides = config_overrides or {}
        self.return_deployment_id = deployment_id
        self.refuse: tuple[int, str] | None = None  # (status, body) to answer registrations with
        self.requests: list[Seen] = []
        self.registrations: list[dict] = []  # what the tool posted, with what we answered
        self.deep_link_answers: list[str] = []  # JWTs posted back by the tool
        self._lock = threading.Lock()
        self.server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self.base = f"http://127.0.0.1:{self.server.server_port}"
        self.issuer = issuer or self.base
        self.platform = FakePlatform(issuer=self.base, client_id="", deployment_id="")
        self.platform.server.close()  # certs.php serves its keys here instead
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    @property
    def configuration_url(self) -> str:
        return self.base + self.config_path

    def register_url(self, tool_url: str) -> str:
        """What Moodle opens: the tool URL the admin pasted plus its own two parameters."""
        from urllib.parse import urlencode

        separator = "&" if "?" in tool_url else "?"
        return tool_url + separator + urlencode({"openid_configuration": self.configuration_url,
                                                 "registration_token": self.registration_token})

    def configuration(self) -> dict:
        conf = {
            "issuer": self.issuer,
            "token_endpoint": f"{self.base}/mod/lti/token.php",
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": ["RS256"],
            "jwks_uri": self.base + self.certs_path,
            "authorization_endpoint": f"{self.base}/mod/lti/auth.php",
            "registration_endpoint": self.base + self.register_path,
            "scopes_supported": ["https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
                                 "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
                                 "https://purl.imsglobal.org/spec/lti-ags/scope/score",
                                 "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly",
                                 "openid"],
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public", "pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "claims_supported": ["sub", "iss", "name", "given_name", "family_name", "email"],
            PLATFORM_CONFIGURATION: {"product_family_code": "moodle", "version": "4.4",
                                     "messages_supported": ["LtiResourceLinkRequest", "LtiDeepLinkingRequest"],
                                     "placements": ["AddContentMenu"], "variables": []},
        }
        conf.update(self.config_overrides)
        return conf

    def _register(self, request: Request) -> Response:
        auth = request.headers.get("Authorization", "")
        if auth != f"Bearer {self.registration_token}":
            return Response("missing_registration_token", status=401)
        if self.refuse:
            return Response(self.refuse[1], status=self.refuse[0])
        payload = request.get_json(silent=True)
        required = ("response_types", "initiate_login_uri", "redirect_uris", "client_name", "jwks_uri",
                    "token_endpoint_auth_method", TOOL_CONFIGURATION)
        missing = [k for k in required if not (payload or {}).get(k)]
        if missing:
            return Response(f"missing required attribute {missing[0]}", status=400)
        with self._lock:
            type_id = len(self.registrations) + 1
            client_id = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(15))
            answer = self.answer(payload, type_id, client_id)
            self.registrations.append({"payload": payload, "answer": answer})
        return Response(json.dumps(answer), mimetype="application/json")

    def answer(self, payload: dict, type_id: int, client_id: str) -> dict:
        """Moodle's: the deployment id (the tool type id) inside the tool configuration."""
        tool = {"target_link_uri": payload[TOOL_CONFIGURATION].get("target_link_uri"),
                "domain": payload[TOOL_CONFIGURATION].get("domain"), "claims": ["sub", "iss", "name", "email"]}
        if self.return_deployment_id:
            tool["deployment_id"] = str(type_id)
        return {"client_id": client_id, "response_types": ["id_token"], "jwks_uri": payload["jwks_uri"],
                "initiate_login_uri": payload["initiate_login_uri"], "token_endpoint_auth_method": "private_key_jwt",
                "redirect_uris": payload["redirect_uris"], "application_type": ["web"],
                "client_name": payload["client_name"], "scope": payload.get("scope", ""), TOOL_CONFIGURATION: tool}

    def deployment_of(self, answer: dict) -> str | None:
        return answer[TOOL_CONFIGURATION].get("deployment_id")

    def _app(self, environ, start_response):
        request = Request(environ)
        body = request.get_json(silent=True) if request.method == "POST" else None
        with self._lock:
            self.requests.append(Seen(request.method, request.path, request.headers.get("Authorization"), body))
        if request.method == "GET" and request.path == self.config_path:
            response = Response(json.dumps(self.configuration()), mimetype="application/json")
        elif request.method == "POST" and request.path == self.register_path:
            response = self._register(request)
        elif request.method == "GET" and request.path == self.certs_path:
            response = Response(json.dumps(self.platform.jwks()), mimetype="application/json")
        elif request.method == "POST" and request.path == RETURN_PATH:
            with self._lock:
                self.deep_link_answers.append(request.form.get("JWT", ""))
            response = Response("<!doctype html><title>Moodle</title><p id=received>Content received</p>",
                                mimetype="text/html")
        elif request.method == "GET" and request.path == "/admin/frame.php":
            response = Response(FRAME_PAGE.replace("{url}", html.escape(request.args.get("url", ""))),
                                mimetype="text/html")
        else:
            response = Response("not found", status=404)
        return response(environ, start_response)

    def launcher(self) -> FakePlatform:
        """The platform as the last registration left it, ready to launch the tool for real."""
        answer = self.registrations[-1]["answer"]
        self.platform.client_id = answer["client_id"]
        self.platform.deployment_id = self.deployment_of(answer) or "moodle-type-1"
        return self.platform

    def close(self):
        self.server.shutdown()


CANVAS = "https://canvas.instructure.com/lti/"
CANVAS_CONFIG_PATH = "/api/lti/security/openid-configuration"
CANVAS_REGISTER_PATH = "/api/lti/registrations"


class CanvasRegistrationServer(MoodleRegistrationServer):
    """A self-hosted Canvas's side, shaped like a 2026 Canvas (OpenSource) answered: its configuration at
    /api/lti/security/openid-configuration, placements advertised per message type as
    https://canvas.instructure.com/lti/<name> URIs, the school's host in .../lti/account_domain; the registration
    answered with a developer-key client id and the deployment id at the answer's top level, not in the tool
    configuration."""

    config_path, register_path, certs_path = CANVAS_CONFIG_PATH, CANVAS_REGISTER_PATH, "/api/lti/security/jwks"

    def __init__(self, *, account_domain: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.account_domain = account_domain or self.base.split("://", 1)[1]
        self.next_key = 10000000000042

    def register_url(self, tool_url: str) -> str:
        from urllib.parse import urlencode

        separator = "&" if "?" in tool_url else "?"
        return tool_url + separator + urlencode({
            "openid_configuration": f"{self.configuration_url}?registration_token={self.registration_token}",
            "registration_token": self.registration_token})

    def configuration(self) -> dict:
        conf = super().configuration()
        conf.update({
            "authorization_endpoint": f"{self.base}/api/lti/authorize_redirect",
            "token_endpoint": f"{self.base}/login/oauth2/token",
            "authorization_server": self.account_domain,
            PLATFORM_CONFIGURATION: {
                "product_family_code": "canvas", "version": "OpenSource",
                "messages_supported": [
                    {"type": "LtiResourceLinkRequest",
                     "placements": [CANVAS + "account_navigation", CANVAS + "assignment_selection",
                                    CANVAS + "course_navigation", CANVAS + "link_selection", "ContentArea"]},
                    {"type": "LtiDeepLinkingRequest",
                     "placements": [CANVAS + "assignment_selection", CANVAS + "editor_button",
                                    CANVAS + "link_selection", "ContentArea", "RichTextEditor"]},
                    {"type": "LtiEulaRequest"}],
                "variables": ["Context.id.history", "com.instructure.Course.groupIds"],
                CANVAS + "account_name": "Canvas University",
                CANVAS + "account_domain": self.account_domain,
            },
        })
        conf.update(self.config_overrides)
        return conf

    def answer(self, payload: dict, type_id: int, client_id: str) -> dict:
        self.next_key += 1
        tool = {k: payload[TOOL_CONFIGURATION].get(k) for k in ("domain", "messages", "claims", "target_link_uri",
                                                                   "custom_parameters", "description")}
        tool[CANVAS + "registration_config_url"] = f"{self.base}/api/lti/registrations/{type_id}/view"
        return {"client_id": str(self.next_key), "application_type": "web", "grant_types": ["client_credentials", "implicit"],
                "initiate_login_uri": payload["initiate_login_uri"], "redirect_uris": payload["redirect_uris"],
                "response_types": ["id_token"], "client_name": payload["client_name"], "jwks_uri": payload["jwks_uri"],
                "token_endpoint_auth_method": "private_key_jwt", "scope": payload.get("scope", ""),
                TOOL_CONFIGURATION: tool, "deployment_id": f"{type_id}:8865aa05b4b79b64a91a86042e43af5ea8ae79eb"}

    def deployment_of(self, answer: dict) -> str | None:
        return answer["deployment_id"]
