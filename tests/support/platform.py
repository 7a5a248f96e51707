"""An independent LTI 1.3 platform for tests: its own keys, its JWKS served over real HTTP, and a
launch helper that walks login -> signed id_token -> POST exactly as an LMS does."""
from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from werkzeug.serving import make_server
from werkzeug.wrappers import Response

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
ROLE = {
    "learner": ["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"],
    "instructor": ["http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"],
    "ta": ["http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant"],
    "admin": ["http://purl.imsglobal.org/vocab/lis/v2/institution/person#Administrator",
              "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"],
    "mentor": ["http://purl.imsglobal.org/vocab/lis/v2/membership#Mentor"],
}
DROP = object()  # claim override value meaning "remove this claim"
DEEP_LINKING_SETTINGS = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"
RETURN_URL = "https://lms.example.edu/mod/lti/contentitem_return.php?course=1&id=1"


def deep_linking_request(**settings) -> dict:
    """Claim overrides turning a launch into an LtiDeepLinkingRequest (Moodle's "Select content");
    a setting given as DROP is left out."""
    merged = {
        "deep_link_return_url": RETURN_URL,
        "accept_types": ["ltiResourceLink"],
        "accept_presentation_document_targets": ["iframe", "window"],
        "accept_multiple": True,
        "auto_create": True,
        "data": "moodle-opaque-42",
        **settings,
    }
    return {
        LTI + "message_type": "LtiDeepLinkingRequest",
        LTI + "resource_link": DROP,
        DEEP_LINKING_SETTINGS: {k: v for k, v in merged.items() if v is not DROP},
    }


_KEYS: list = []


def new_key(index: int | None = None):
    """RSA keys are slow to make; tests draw from a small pool (index picks a distinct one)."""
    if index is None:
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    while len(_KEYS) <= index:
        _KEYS.append(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    return _KEYS[index]


@dataclass
class Flow:
    """The pieces of one launch, for tests that tamper with them."""

    state: str
    nonce: str
    redirect_uri: str
    login_response: object
    claims: dict = field(default_factory=dict)
    id_token: str = ""


class JwksServer:
    """Serves the platform's current key set over HTTP on 127.0.0.1 and counts fetches."""

    def __init__(self, platform: "FakePlatform"):
        self.platform = platform
        self.fetches = 0
        self.hold: threading.Event | None = None  # set: each fetch waits for it (a slow or hanging LMS)
        self.failing = False  # True: answer 503, as an LMS down for maintenance
        self.trickle: float | None = None  # seconds between the bytes of the key set (a platform stalling on purpose)
        self.padding = 0  # bytes of white space added to the key set (a huge answer)
        self.server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}/jwks"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    def _app(self, environ, start_response):
        self.fetches += 1
        if self.hold is not None:
            self.hold.wait(30)
        if self.failing:
            return Response("down for maintenance", status=503)(environ, start_response)
        body = json.dumps(self.platform.jwks()) + " " * self.padding
        if self.trickle is not None:
            delay = self.trickle

            def slowly():
                for byte in body.encode():
                    time.sleep(delay)
                    yield bytes([byte])
            return Response(slowly(), mimetype="application/json")(environ, start_response)
        return Response(body, mimetype="application/json")(environ, start_response)

    def close(self):
        self.server.shutdown()


class FakePlatform:
    def __init__(self, issuer: str = "https://lms.example.edu", client_id: str = "client-123",
                 deployment_id: str = "deployment-1"):
        self.issuer = issuer
        self.client_id = client_id
        self.deployment_id = deployment_id
        self.keys = {"platform-key-1": new_key(0)}
        self.kid = "platform-key-1"
        self.server = JwksServer(self)

    # --- platform side -------------------------------------------------------------------------
    def jwks(self) -> dict:
        out = []
        for kid, key in self.keys.items():
            jwk = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
            jwk.update({"kid": kid, "alg": "RS256", "use": "sig"})
            out.append(jwk)
        return {"keys": out}

    def rotate(self, kid: str) -> None:
        self.keys[kid] = new_key(len(self.keys))
        self.kid = kid

    def register_args(self, org: str = "Test Org", **extra) -> list[str]:
        args = ["lti", "add-platform", "--issuer", self.issuer, "--client-id", self.client_id,
                "--deployment-id", self.deployment_id, "--auth-url", f"{self.issuer}/auth",
                "--token-url", f"{self.issuer}/token", "--jwks-url", self.server.url, "--org", org]
        for k, v in extra.items():
            args += [f"--{k.replace('_', '-')}", v]
        return args

    def claims(self, nonce: str, *, sub: str = "user-1", role: str = "learner", context_id: str = "course-1",
               name: str | None = "Test Person", now: float | None = None) -> dict:
        now = time.time() if now is None else now
        claims = {
            "iss": self.issuer, "aud": self.client_id, "sub": sub, "nonce": nonce,
            "iat": int(now), "exp": int(now) + 300,
            LTI + "message_type": "LtiResourceLinkRequest", LTI + "version": "1.3.0",
            LTI + "deployment_id": self.deployment_id,
            LTI + "target_link_uri": "http://localhost/lti/launch",
            LTI + "resource_link": {"id": f"rl-{context_id}"},
            LTI + "roles": ROLE[role],
            LTI + "context": {"id": context_id, "title": f"Course {context_id}", "label": context_id.upper()},
            LTI + "launch_presentation": {"return_url": "https://lms.example.edu/course/view.php?id=1",
                                          "locale": "en"},
        }
        if name:
            claims["name"] = name
        return claims

    def sign(self, claims: dict, *, key=None, kid: str | None = None, alg: str = "RS256",
             headers: dict | None = None) -> str:
        key = key if key is not None else self.keys[self.kid]
        hdr = {"kid": kid if kid is not None else self.kid, **(headers or {})}
        return jwt.encode(claims, key, algorithm=alg, headers=hdr)

    # --- driving the tool --------------------------------------------------------------------
    def login(self, client, *, sub: str = "user-1", method: str = "post", **params) -> Flow:
        data = {"iss": self.issuer, "login_hint": sub, "target_link_uri": "http://localhost/lti/launch",
                "client_id": self.client_id, "lti_deployment_id": self.deployment_id,
                "lti_message_hint": uuid.uuid4().hex, **params}
        response = client.post("/lti/login", data=data) if method == "post" else client.get("/lti/login", query_string=data)
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        query = parse_qs(urlsplit(response.headers["Location"]).query)
        return Flow(state=query["state"][0], nonce=query["nonce"][0], redirect_uri=query["redirect_uri"][0],
                    login_response=response)

    def launch(self, client, *, sub: str = "user-1", role: str = "learner", context_id: str = "course-1",
               overrides: dict | None = None, sign=None, state: str | None = None, name: str | None = "Test Person"):
        """Full launch; returns (response, flow). `overrides` sets claims (DROP removes one)."""
        flow = self.login(client, sub=sub)
        claims = self.claims(flow.nonce, sub=sub, role=role, context_id=context_id, name=name)
        for k, v in (overrides or {}).items():
            if v is DROP:
                claims.pop(k, None)
            else:
                claims[k] = v
        flow.claims = claims
        flow.id_token = sign(claims) if sign else self.sign(claims)
        response = client.post("/lti/launch", data={"id_token": flow.id_token,
                                                     "state": flow.state if state is None else state})
        return response, flow

    def close(self):
        self.server.close()


def token_from(response) -> str:
    """The launch token from the tool's post-launch redirect."""
    assert response.status_code == 303, response.get_data(as_text=True)[:800]
    return parse_qs(urlsplit(response.headers["Location"]).query)["lt"][0]
