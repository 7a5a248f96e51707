"""Every forged, replayed or malformed launch is refused with a 4xx page, never a way into the app."""
import base64
import html
import json
import time

import pytest
from sqlalchemy import func, select, update

from tests.support.platform import DROP, LTI, FakePlatform, new_key, token_from


def assert_rejected(response, fragment: str, status: int = 400):
    body = html.unescape(response.get_data(as_text=True))
    assert response.status_code == status, body[:1500]
    assert fragment in body, body[:1500]
    assert "Traceback" not in body and "Location" not in response.headers
    return body


def sessions(app) -> int:
    with app.app_context():
        from plugin.extensions import db
        from plugin.lti.models import LaunchSession

        return db.session.scalar(select(func.count()).select_from(LaunchSession))


# --- signature and algorithm --------------------------------------------------------------------

def test_signature_by_another_key_with_the_right_kid(client, platform, app):
    response, _ = platform.launch(client, sign=lambda c: platform.sign(c, key=new_key(5)))
    assert_rejected(response, "signature is not valid")
    assert sessions(app) == 0


def test_unknown_kid(client, platform):
    response, _ = platform.launch(client, sign=lambda c: platform.sign(c, kid="not-published"))
    assert_rejected(response, "key the platform does not publish")


def _unsigned(claims: dict, header: dict) -> str:
    enc = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()
    return f"{enc(header)}.{enc(claims)}."


def test_alg_none(client, platform):
    response, _ = platform.launch(client, sign=lambda c: _unsigned(c, {"alg": "none", "kid": platform.kid}))
    assert_rejected(response, "algorithm Tinker refuses")


def test_hs256_signed_with_the_public_key(client, platform):
    from cryptography.hazmat.primitives import serialization

    public_pem = platform.keys[platform.kid].public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    def forge(claims):
        header = {"alg": "HS256", "kid": platform.kid, "typ": "JWT"}
        signing_input = _unsigned(claims, header)[:-1]
        import hashlib
        import hmac
        sig = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
        return signing_input + "." + base64.urlsafe_b64encode(sig).rstrip(b"=").decode()

    response, _ = platform.launch(client, sign=forge)
    assert_rejected(response, "algorithm Tinker refuses")


# --- time -----------------------------------------------------------------------------------

def test_expired(client, platform):
    now = int(time.time())
    response, _ = platform.launch(client, overrides={"iat": now - 600, "exp": now - 300})
    assert_rejected(response, "expired")


def test_no_exp(client, platform):
    response, _ = platform.launch(client, overrides={"exp": DROP})
    assert_rejected(response, "'exp'")


def test_iat_an_hour_ahead(client, platform):
    response, _ = platform.launch(client, overrides={"iat": int(time.time()) + 3600})
    assert_rejected(response, "dated in the future")


def test_platform_clock_three_seconds_ahead_is_accepted(client, platform):
    now = int(time.time())
    response, _ = platform.launch(client, overrides={"iat": now + 3, "exp": now + 63})
    token_from(response)


# --- audience and authorised party --------------------------------------------------------------

def test_wrong_aud(client, platform):
    response, _ = platform.launch(client, overrides={"aud": "somebody-else"})
    assert_rejected(response, "meant for another tool")


@pytest.fixture
def second_client_id(cli, platform):
    """The same issuer with a second registered client id (hosted Canvas has many)."""
    other = FakePlatform(issuer=platform.issuer, client_id="client-456", deployment_id="deployment-2")
    other.server.close()
    args = other.register_args()
    args[args.index("--jwks-url") + 1] = platform.server.url
    assert cli(*args).exit_code == 0
    return "client-456"


def test_extra_trusted_audience_without_azp(client, platform, second_client_id):
    response, _ = platform.launch(client, overrides={"aud": [platform.client_id, second_client_id]})
    assert_rejected(response, "no authorised party (azp)")


def test_extra_trusted_audience_with_matching_azp_is_accepted(client, platform, second_client_id):
    response, _ = platform.launch(client, overrides={"aud": [platform.client_id, second_client_id],
                                                     "azp": platform.client_id})
    token_from(response)


def test_untrusted_extra_audience_even_with_azp(client, platform):
    response, _ = platform.launch(client, overrides={"aud": [platform.client_id, "https://evil.example"],
                                                     "azp": platform.client_id})
    assert_rejected(response, "parties Tinker does not trust")


def test_wrong_azp(client, platform):
    response, _ = platform.launch(client, overrides={"azp": "client-999"})
    assert_rejected(response, "authorised party (azp)")


def test_only_first_aud_entry_is_not_enough(client, platform):
    """pylti1p3 compares only aud[0]; here the client id is second and the first is a stranger."""
    response, _ = platform.launch(client, overrides={"aud": ["https://evil.example", platform.client_id],
                                                     "azp": platform.client_id})
    assert_rejected(response, "parties Tinker does not trust")


# --- issuer ---------------------------------------------------------------------------------

def test_unknown_issuer(client, platform):
    response, _ = platform.launch(client, overrides={"iss": "https://unknown.example"})
    assert_rejected(response, "not registered with Tinker")


def test_unknown_issuer_at_login(client, platform):
    response = client.post("/lti/login", data={"iss": "https://unknown.example", "login_hint": "x",
                                               "target_link_uri": "http://localhost/lti/launch"})
    assert_rejected(response, "not registered with Tinker")


@pytest.mark.parametrize("registered, sent", [("https://lms.example.org/", "https://lms.example.org"),
                                              ("https://lms.example.org", "https://lms.example.org/")],
                         ids=["registered-with-slash", "sent-with-slash"])
def test_an_issuer_differing_by_a_trailing_slash_is_refused_naming_both(client, cli, registered, sent):
    """The spec wants iss matched exactly; the operator must see both spellings to correct the registration."""
    other = FakePlatform(issuer=registered, client_id="client-slash")
    assert cli(*other.register_args()).exit_code == 0
    try:
        response = client.post("/lti/login", data={"iss": sent, "login_hint": "x", "client_id": "client-slash",
                                                   "target_link_uri": "http://localhost/lti/launch"})
        body = assert_rejected(response, "not registered with Tinker")
        assert repr(sent) in body and repr(registered) in body and "exactly" in body
        # A launch token naming the other spelling (whatever the login said) is refused the same way.
        response, _ = other.launch(client, overrides={"iss": sent})
        body = assert_rejected(response, "not registered with Tinker")
        assert repr(sent) in body and repr(registered) in body and "exactly" in body
    finally:
        other.close()


def test_login_without_login_hint(client, platform):
    response = client.post("/lti/login", data={"iss": platform.issuer, "client_id": platform.client_id})
    assert_rejected(response, "login_hint")


def test_target_link_uri_is_never_a_redirect_target(client, platform):
    flow = platform.login(client, target_link_uri="https://evil.example/steal")
    assert flow.redirect_uri == "http://localhost/lti/launch"
    response = client.post("/lti/launch", data={"id_token": platform.sign(platform.claims(flow.nonce)),
                                                "state": flow.state})
    assert token_from(response) and response.headers["Location"].startswith("/app/")


# --- nonce and state ------------------------------------------------------------------------

def test_nonce_not_issued(client, platform):
    response, _ = platform.launch(client, overrides={"nonce": "made-up-nonce"})
    assert_rejected(response, "nonce was not issued")


def test_replay_of_the_same_id_token(client, platform, app):
    response, flow = platform.launch(client)
    token_from(response)
    again = client.post("/lti/launch", data={"id_token": flow.id_token, "state": flow.state})
    assert_rejected(again, "already used")
    assert sessions(app) == 1


def test_wrong_state_with_state_cookie(client, platform):
    """The browser holds the cookie of its own login, which says nothing about another state."""
    response, _ = platform.launch(client, state="state-that-was-never-issued")
    assert_rejected(response, "state is unknown")


def test_wrong_state_when_cookies_are_blocked(client, platform):
    flow = platform.login(client)
    cookieless = client.application.test_client()
    response = cookieless.post("/lti/launch", data={"id_token": platform.sign(platform.claims(flow.nonce)),
                                                    "state": "state-that-was-never-issued"})
    assert_rejected(response, "state is unknown")


def test_launch_without_state_cookie_is_refused(client, platform):
    """A state row alone does not show the launch is this browser's: an id_token and state obtained by someone
    else could be posted from a victim's browser (login CSRF). Without the cookie or platform storage, refuse
    (the login page offers a new window before it comes to this)."""
    flow = platform.login(client)
    cookieless = client.application.test_client()
    response = cookieless.post("/lti/launch", data={"id_token": platform.sign(platform.claims(flow.nonce)),
                                                    "state": flow.state})
    assert_rejected(response, "could not confirm that this launch was started in this browser")
    token_from(client.post("/lti/launch", data={"id_token": platform.sign(platform.claims(flow.nonce)),
                                                "state": flow.state}))  # the browser that logged in still can


def test_missing_state(client, platform):
    response, flow = platform.launch(client, state="")
    assert_rejected(response, "has no state")


def test_state_from_another_browser_login(client, platform, app):
    """The posted state is another browser's login: this browser's cookie is for its own login only."""
    mine = platform.login(client)
    theirs = platform.login(app.test_client())
    response = client.post("/lti/launch", data={"id_token": platform.sign(platform.claims(theirs.nonce)),
                                                "state": theirs.state})
    assert_rejected(response, "could not confirm that this launch was started in this browser")
    assert sessions(app) == 0 and mine.state != theirs.state


def _database_backend_only(app):
    if app.config.get("REDIS_URL"):
        pytest.skip("edits oidc_state rows; tests/lti/test_shared_store_redis.py covers expiry in Redis")


def test_expired_state(client, platform, app):
    _database_backend_only(app)
    flow = platform.login(client)
    with app.app_context():
        from datetime import datetime, timezone

        from plugin.extensions import db
        from plugin.lti.models import OidcState

        db.session.execute(update(OidcState).where(OidcState.state == flow.state)
                           .values(expires_at=datetime(2000, 1, 1, tzinfo=timezone.utc)))
        db.session.commit()
    response = client.post("/lti/launch", data={"id_token": platform.sign(platform.claims(flow.nonce)),
                                                "state": flow.state})
    assert_rejected(response, "state is unknown or has expired")


def test_state_issued_for_another_platform(client, platform, cli):
    other = FakePlatform(issuer="https://other-lms.example", client_id="other", deployment_id="d")
    try:
        assert cli(*other.register_args(org="Other")).exit_code == 0
        flow = other.login(client)
        claims = platform.claims(flow.nonce)
        fresh = client.application.test_client()  # no state cookie in this browser
        response = fresh.post("/lti/launch", data={"id_token": platform.sign(claims), "state": flow.state})
        assert_rejected(response, "issued for another LMS")
    finally:
        other.close()


# --- deployment -----------------------------------------------------------------------------

def test_unknown_deployment_names_the_id_to_add(client, platform):
    response, _ = platform.launch(client, overrides={LTI + "deployment_id": "99:newdeployment"})
    assert_rejected(response, "'99:newdeployment'")


def test_missing_deployment(client, platform):
    response, _ = platform.launch(client, overrides={LTI + "deployment_id": DROP})
    assert_rejected(response, "no deployment")


def test_new_deployment_recorded_when_registration_allows(client, platform, cli, app):
    assert cli(*platform.register_args(), "--accept-new-deployments").exit_code == 0
    response, _ = platform.launch(client, overrides={LTI + "deployment_id": "12:abc"})
    token_from(response)
    with app.app_context():
        from plugin.extensions import db
        from plugin.tenancy.models import Deployment

        assert db.session.scalar(select(func.count()).select_from(Deployment)
                                 .where(Deployment.deployment_id == "12:abc")) == 1


# --- message --------------------------------------------------------------------------------

def test_wrong_message_type(client, platform):
    response, _ = platform.launch(client, overrides={LTI + "message_type": "LtiSubmissionReviewRequest"})
    assert_rejected(response, "message type")


def test_wrong_version(client, platform):
    response, _ = platform.launch(client, overrides={LTI + "version": "1.1"})
    assert_rejected(response, "LTI 1.3.0")


def test_missing_roles(client, platform):
    response, _ = platform.launch(client, overrides={LTI + "roles": DROP})
    assert_rejected(response, "no roles claim")


def test_roles_tinker_does_not_serve(client, platform):
    response, _ = platform.launch(client, overrides={
        LTI + "roles": ["http://purl.imsglobal.org/vocab/lis/v2/system/person#User"]})
    assert_rejected(response, "does not give access", status=403)


def test_missing_resource_link(client, platform):
    response, _ = platform.launch(client, overrides={LTI + "resource_link": DROP})
    assert_rejected(response, "Resource Link")


def test_missing_sub(client, platform):
    response, _ = platform.launch(client, overrides={"sub": DROP})
    assert_rejected(response, "names no user")


def test_missing_context(client, platform):
    response, _ = platform.launch(client, overrides={LTI + "context": DROP})
    assert_rejected(response, "outside a course")


# --- junk -----------------------------------------------------------------------------------

def test_malformed_token(client, platform):
    flow = platform.login(client)
    assert_rejected(client.post("/lti/launch", data={"id_token": "not.a.jwt", "state": flow.state}), "malformed")


def test_one_mebibyte_junk_token(client, platform):
    flow = platform.login(client)
    junk = "A" * (1024 * 1024)
    assert_rejected(client.post("/lti/launch", data={"id_token": junk, "state": flow.state}), "far too large")


# Read before the signature is checked, so anyone can send them: each is a 400 page, never a server error.
def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@pytest.mark.parametrize("header, fragment", [
    ({"alg": ["RS256"], "kid": "platform-key-1"}, "algorithm Tinker refuses"),
    ({"alg": {"RS256": True}, "kid": "platform-key-1"}, "algorithm Tinker refuses"),
    ({"alg": "RS256", "kid": ["platform-key-1"]}, "names no key (kid)"),
], ids=["alg-list", "alg-object", "kid-list"])
def test_a_header_of_the_wrong_shape(client, platform, header, fragment):
    response, _ = platform.launch(client, sign=lambda c: _unsigned(c, header) + "AAAA")
    assert_rejected(response, fragment)


@pytest.mark.parametrize("azp", [["client-123"], {"client-123": True}], ids=["list", "object"])
def test_an_azp_of_the_wrong_shape(client, platform, azp):
    response, _ = platform.launch(client, sign=lambda c: _unsigned({**c, "azp": azp}, {"alg": "RS256", "kid": "k"}))
    assert_rejected(response, "authorised party (azp)")


@pytest.mark.parametrize("segment", ["header", "claims"])
def test_json_nested_thousands_deep(client, platform, segment):
    flow = platform.login(client)
    nested = _b64(b'{"a":' + b"[" * 20000 + b"]" * 20000 + b"}")
    plain = _b64(json.dumps({"alg": "RS256", "kid": "k"}).encode())
    token = f"{nested}.{plain}.AAAA" if segment == "header" else f"{plain}.{nested}.AAAA"
    assert len(token) < 64 * 1024  # under the size limit: it reaches the JSON parser
    assert_rejected(client.post("/lti/launch", data={"id_token": token, "state": flow.state}), "malformed")


def test_empty_body(client, platform):
    assert_rejected(client.post("/lti/launch"), "has no id_token")


def test_json_body_instead_of_form(client, platform):
    response = client.post("/lti/launch", json={"id_token": "x"})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "launch_rejected"


def test_platform_reports_launch_no_longer_valid(client, platform):
    response = client.post("/lti/launch", data={"error": "launch_no_longer_valid", "state": "x"})
    assert_rejected(response, "launch_no_longer_valid")


def test_get_on_launch_is_refused(client, platform):
    assert client.get("/lti/launch").status_code == 405


# --- platform keys --------------------------------------------------------------------------

def test_rotated_platform_key_is_fetched_on_unknown_kid(client, platform, monkeypatch):
    from plugin.lti import platform_keys

    monkeypatch.setattr(platform_keys, "MIN_REFETCH", 0.0)
    token_from(platform.launch(client)[0])
    platform.rotate("platform-key-2")
    token_from(platform.launch(client, sub="user-2")[0])
    assert platform.server.fetches == 2


def test_platform_keys_are_cached_between_launches(client, platform):
    token_from(platform.launch(client)[0])
    token_from(platform.launch(client, sub="user-2")[0])
    assert platform.server.fetches == 1


def test_unreachable_jwks_is_a_clear_4xx(client, platform):
    platform.server.close()
    response, _ = platform.launch(client)
    assert_rejected(response, "could not be fetched")
