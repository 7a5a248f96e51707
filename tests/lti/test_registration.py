"""LTI Dynamic Registration against a Moodle-shaped platform over real HTTP: only with the operator's
single-use token, issuer bound to the configuration URL, a registration that then launches for real."""
import html
import threading
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select, update

from tests.support.dynreg import (
    CANVAS,
    CANVAS_CONFIG_PATH,
    CANVAS_REGISTER_PATH,
    CONFIG_PATH,
    PLATFORM_CONFIGURATION,
    REGISTER_PATH,
    TOOL_CONFIGURATION,
    CanvasRegistrationServer,
    MoodleRegistrationServer,
)
from tests.support.platform import token_from

TOOL = "http://localhost"


@pytest.fixture
def moodle():
    server = MoodleRegistrationServer()
    yield server
    server.close()


@pytest.fixture
def registration_url(cli):
    """registration_url(org=...) -> the link `flask lti registration-token` prints (stdout only), the
    organisation started by it when there is none yet."""

    def make(org: str = "Moodle University", *extra: str) -> str:
        result = cli("lti", "registration-token", "--org", org, "--create-org", *extra)
        assert result.exit_code == 0, result.output
        url = result.stdout.strip()
        assert url.startswith(f"{TOOL}/lti/register?tinker_token=") and "\n" not in url
        return url

    return make


def relative(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def body(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def count(app, model) -> int:
    with app.app_context():
        from plugin.extensions import db

        return db.session.scalar(select(func.count()).select_from(model))


# --- the token gate: 403 before anything is fetched -------------------------------------------

@pytest.mark.parametrize("token_query", ["", "?tinker_token=", "?tinker_token=not-a-token-we-issued"])
def test_missing_or_unknown_token_is_refused_before_fetching(client, moodle, token_query):
    response = client.get(relative(moodle.register_url(f"{TOOL}/lti/register{token_query}")))
    assert response.status_code == 403
    assert "registration link" in body(response)
    assert moodle.requests == []
    # The refusal is readable inside the platform's registration frame.
    assert moodle.base in response.headers["Content-Security-Policy"].split("frame-ancestors", 1)[1]


def test_platform_registration_token_alone_is_not_ours(client, moodle):
    """The platform's own registration_token never stands in for the operator's token."""
    response = client.get(relative(moodle.register_url(f"{TOOL}/lti/register?tinker_token={moodle.registration_token}")))
    assert response.status_code == 403 and moodle.requests == []


def test_expired_token_is_refused_before_fetching(client, moodle, registration_url, app):
    from plugin.extensions import db
    from plugin.lti.models import RegistrationToken

    url = registration_url()
    with app.app_context():
        db.session.execute(update(RegistrationToken).values(expires_at=datetime(2000, 1, 1, tzinfo=timezone.utc)))
        db.session.commit()
    response = client.get(relative(moodle.register_url(url)))
    assert response.status_code == 403 and "expired" in body(response)
    assert moodle.requests == []


def test_token_is_stored_only_as_a_hash(registration_url, app):
    from plugin.extensions import db
    from plugin.lti.models import RegistrationToken
    from plugin.tenancy.models import Organisation

    token = parse_qs(urlsplit(registration_url("Hash Org")).query)["tinker_token"][0]
    with app.app_context():
        row = db.session.scalar(select(RegistrationToken))
        assert token not in row.token_hash and len(row.token_hash) == 64
        assert db.session.get(Organisation, row.organisation_id).name == "Hash Org"
        assert (row.expires_at - row.created_at) == timedelta(hours=24) and row.used_at is None


def test_a_mistyped_organisation_is_refused_not_created(cli, app):
    """A typo in --org must not start a second organisation that the LMS's people would silently land in."""
    from plugin.core.clock import utcnow
    from plugin.extensions import db
    from plugin.lti.models import RegistrationToken
    from plugin.tenancy.models import Organisation
    from plugin.tenancy.service import get_or_create_organisation

    with app.app_context():
        get_or_create_organisation("Example University", utcnow())
        db.session.commit()
    result = cli("lti", "registration-token", "--org", "Example Universty")
    assert result.exit_code != 0
    assert "no organisation named 'Example Universty'" in result.output and "--create-org" in result.output
    assert count(app, RegistrationToken) == 0
    with app.app_context():
        assert db.session.scalars(select(Organisation.name)).all() == ["Example University"]

    existing = cli("lti", "registration-token", "--org", "Example University")
    assert existing.exit_code == 0, existing.output
    assert count(app, Organisation) == 1 and count(app, RegistrationToken) == 1


def test_a_new_organisation_only_with_create_org(cli, app):
    from plugin.tenancy.models import Organisation

    result = cli("lti", "registration-token", "--org", "New University", "--create-org")
    assert result.exit_code == 0, result.output
    assert "'New University'" in result.stderr
    again = cli("lti", "registration-token", "--org", "New University", "--create-org")  # exists now: kept
    assert again.exit_code == 0, again.output
    assert count(app, Organisation) == 1


def test_cli_refuses_silly_lifetimes(cli):
    assert cli("lti", "registration-token", "--org", "X", "--expires-in", "5").exit_code != 0
    assert cli("lti", "registration-token", "--expires-in", "600").exit_code != 0  # --org is required


# --- a full registration -----------------------------------------------------------------------

def test_full_registration_then_a_real_launch(client, moodle, registration_url, app):
    from plugin.extensions import db
    from plugin.lti.models import RegistrationToken
    from plugin.tenancy.models import Deployment, Platform

    url = registration_url("Moodle University", "--expires-in", "600")
    response = client.get(relative(moodle.register_url(url)))
    page = body(response)
    assert response.status_code == 200, page[:2000]
    assert "Tinker is registered" in page

    # What the platform saw: its configuration read, then one registration with its Bearer token.
    assert [(r.method, r.path) for r in moodle.requests] == [("GET", CONFIG_PATH), ("POST", REGISTER_PATH)]
    assert all(r.authorization == "Bearer moodle-reg-jwt" for r in moodle.requests)
    (sent,) = [r["payload"] for r in moodle.registrations]
    assert sent["application_type"] == "web"
    assert sent["response_types"] == ["id_token"]
    assert set(sent["grant_types"]) == {"implicit", "client_credentials"}
    assert sent["initiate_login_uri"] == f"{TOOL}/lti/login"
    assert sent["redirect_uris"] == [f"{TOOL}/lti/launch"]
    assert sent["jwks_uri"] == f"{TOOL}/lti/jwks"
    assert sent["token_endpoint_auth_method"] == "private_key_jwt"
    assert set(sent["scope"].split()) == {
        "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
        "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
        "https://purl.imsglobal.org/spec/lti-ags/scope/score",
        "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"}
    tool = sent[TOOL_CONFIGURATION]
    assert tool["domain"] == "localhost" and tool["target_link_uri"] == f"{TOOL}/lti/launch"
    assert set(tool["claims"]) == {"iss", "sub", "name", "given_name", "family_name", "email", "locale"}
    assert isinstance(tool["custom_parameters"], dict)
    messages = {m["type"]: m for m in tool["messages"]}
    assert set(messages) == {"LtiResourceLinkRequest", "LtiDeepLinkingRequest"}
    assert messages["LtiDeepLinkingRequest"]["placements"] == ["AddContentMenu"]  # what Moodle advertises

    # What Tinker stored: the assigned client id and deployment, endpoints from the configuration.
    answer = moodle.registrations[0]["answer"]
    with app.app_context():
        platform = db.session.scalar(select(Platform))
        assert (platform.issuer, platform.client_id) == (moodle.base, answer["client_id"])
        assert platform.auth_login_url == f"{moodle.base}/mod/lti/auth.php"
        assert platform.auth_token_url == f"{moodle.base}/mod/lti/token.php"
        assert platform.key_set_url == f"{moodle.base}/mod/lti/certs.php"
        assert platform.organisation.name == "Moodle University" and not platform.accept_new_deployments
        assert [d.deployment_id for d in db.session.scalars(select(Deployment))] == ["1"]
        token = db.session.scalar(select(RegistrationToken))
        assert token.used_at is not None and token.platform_id == platform.id

    # The close message goes to the platform's origin only, from a static script.
    assert f'data-lti-close-origin="{moodle.base}"' in page
    assert "<script>" not in page and "js/lti-registration.js" in page
    assert moodle.base in response.headers["Content-Security-Policy"].split("frame-ancestors", 1)[1]

    # And the platform can now launch Tinker for real (keys fetched from its certs.php).
    launcher = moodle.launcher()
    launched, _ = launcher.launch(client, role="learner", sub="3", context_id="2")
    assert launched.headers["Location"].startswith("/app/")
    assert client.get("/app/", query_string={"lt": token_from(launched)}).status_code == 200
    assert ("GET", "/mod/lti/certs.php") in [(r.method, r.path) for r in moodle.requests]


def test_used_token_is_refused_before_fetching(client, moodle, registration_url):
    url = registration_url()
    assert client.get(relative(moodle.register_url(url))).status_code == 200
    seen = len(moodle.requests)
    again = client.get(relative(moodle.register_url(url)))
    assert again.status_code == 403 and "already been used" in body(again)
    assert len(moodle.requests) == seen


def test_platform_without_deployment_id_records_deployments_at_first_launch(client, registration_url, app):
    from plugin.extensions import db
    from plugin.tenancy.models import Deployment, Platform

    server = MoodleRegistrationServer(deployment_id=False)
    try:
        assert client.get(relative(server.register_url(registration_url()))).status_code == 200
        with app.app_context():
            assert db.session.scalar(select(Platform.accept_new_deployments)) is True
            assert count(app, Deployment) == 0
        launcher = server.launcher()
        token_from(launcher.launch(client)[0])
        assert count(app, Deployment) == 1
    finally:
        server.close()


# --- what is refused after the token was accepted ------------------------------------------------

@pytest.mark.parametrize("issuer", [
    "https://evil.example.com",          # another host
    "http://127.0.0.1:1",                # same host, another port
    "{base}/moodle",                     # a path the configuration URL is not under
    "{base}/mod/lti/openid-configuration.php.evil",
])
def test_issuer_not_matching_the_configuration_url_is_refused(client, registration_url, app, issuer):
    from plugin.lti.models import RegistrationToken
    from plugin.tenancy.models import Platform

    server = MoodleRegistrationServer()
    server.issuer = issuer.format(base=server.base)
    try:
        url = registration_url()
        response = client.get(relative(server.register_url(url)))
        assert response.status_code == 400
        assert "issuer it does not belong to" in body(response)
        assert [(r.method, r.path) for r in server.requests] == [("GET", CONFIG_PATH)]  # never registered
        assert count(app, Platform) == 0
        with app.app_context():
            from plugin.extensions import db

            assert db.session.scalar(select(RegistrationToken.used_at)) is None  # the token is given back
    finally:
        server.close()


def test_issuer_may_be_a_path_prefix_of_the_configuration_url(app):
    from plugin.lti.registration import issuer_matches

    assert issuer_matches("https://lms.example.edu/moodle", "https://lms.example.edu/moodle/mod/lti/openid-configuration.php")
    assert issuer_matches("https://lms.example.edu", "https://LMS.example.edu:443/mod/lti/openid-configuration.php")
    assert not issuer_matches("https://lms.example.edu/moodle", "https://lms.example.edu/moodle2/x.php")
    assert not issuer_matches("http://lms.example.edu", "https://lms.example.edu/x.php")
    assert not issuer_matches("https://lms.example.edu?x=1", "https://lms.example.edu/x.php")


@pytest.mark.parametrize("overrides, fragment", [
    ({"registration_endpoint": None}, "registration_endpoint"),
    ({"jwks_uri": "file:///etc/passwd"}, "jwks_uri"),
    ({"token_endpoint_auth_methods_supported": ["client_secret_basic"]}, "private_key_jwt"),
    ({"id_token_signing_alg_values_supported": ["HS256"]}, "no algorithm Tinker accepts"),
])
def test_incomplete_configuration_is_refused(client, registration_url, app, overrides, fragment):
    from plugin.tenancy.models import Platform

    server = MoodleRegistrationServer(config_overrides=overrides)
    try:
        response = client.get(relative(server.register_url(registration_url())))
        assert response.status_code == 400 and fragment in body(response)
        assert REGISTER_PATH not in [r.path for r in server.requests]
        assert count(app, Platform) == 0
    finally:
        server.close()


def test_platform_refusing_the_registration_is_reported_and_the_token_given_back(client, moodle, registration_url,
                                                                                 app):
    from plugin.tenancy.models import Platform

    link = relative(moodle.register_url(registration_url()))
    moodle.refuse = (400, "invalid_redirect_uris")
    response = client.get(link)
    assert response.status_code == 400 and "refused Tinker's registration" in body(response)
    assert "HTTP 400" in body(response) and "invalid_redirect_uris" in body(response)
    assert count(app, Platform) == 0
    moodle.refuse = None  # the admin fixes the platform and retries the same link
    assert client.get(link).status_code == 200 and count(app, Platform) == 1


def test_a_link_stops_working_after_ten_failed_registrations(client, moodle, registration_url, app):
    """Each try calls the URLs the request names and shows what they answered: a failure gives the link back, but not
    for ever, or one link would probe whatever Tinker can reach as often as its holder liked."""
    from plugin.lti.registration_tokens import MAX_FAILED_REGISTRATIONS

    link = relative(moodle.register_url(registration_url()))
    moodle.refuse = (400, "invalid_redirect_uris")
    for _ in range(MAX_FAILED_REGISTRATIONS):
        assert client.get(link).status_code == 400
    tried = len(moodle.requests)
    moodle.refuse = None
    refused = client.get(link)
    assert refused.status_code == 403 and "failed too many times" in body(refused)
    assert len(moodle.requests) == tried  # nothing more was fetched


def test_unreachable_configuration_is_a_clear_error(client, registration_url, app):
    url = registration_url() + "&openid_configuration=http%3A%2F%2F127.0.0.1%3A1%2Fmod%2Flti%2Fopenid-configuration.php"
    response = client.get(relative(url))
    assert response.status_code == 502 and "could not be reached" in body(response)


def test_where_lmss_are_kept_to_public_addresses_a_private_configuration_url_is_never_called(
        client, moodle, registration_url, app, monkeypatch, caplog):
    """A registration link's holder names the URL Tinker reads, and sees what answered there: with LMSs kept to public
    addresses (production's default), one on the server's own network (here loopback) is refused before any request,
    and nothing it could have answered is shown, nor the address the name has here (the operator's log says it). The
    same link works once the operator allows private LMSs."""
    from plugin.tenancy.models import Platform

    link = relative(moodle.register_url(registration_url()))
    monkeypatch.setitem(app.config, "LTI_ALLOW_PRIVATE_PLATFORMS", False)
    response = client.get(link)
    page = body(response)
    assert response.status_code == 400 and "is on a private network address, which Tinker does not call" in page
    assert "127.0.0.1" not in page.replace(link, "")  # the link itself names it
    assert "private network address (127.0.0.1)" in caplog.text
    assert "TINKER_LTI_ALLOW_PRIVATE_PLATFORMS" in page
    assert moodle.requests == [] and count(app, Platform) == 0
    monkeypatch.setitem(app.config, "LTI_ALLOW_PRIVATE_PLATFORMS", True)
    assert client.get(link).status_code == 200 and count(app, Platform) == 1  # the failure gave the link back


def test_missing_openid_configuration_with_a_valid_token(client, registration_url):
    response = client.get(relative(registration_url()))
    assert response.status_code == 400 and "openid_configuration" in body(response)


# --- concurrency ---------------------------------------------------------------------------------

def test_two_concurrent_uses_of_one_token_register_once(app, moodle, registration_url):
    from plugin.tenancy.models import Platform

    link = relative(moodle.register_url(registration_url()))
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def use():
        client = app.test_client()
        barrier.wait()
        statuses.append(client.get(link).status_code)

    threads = [threading.Thread(target=use) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(statuses) == [200, 403]
    assert count(app, Platform) == 1
    assert len(moodle.registrations) == 1


def test_an_answer_nested_beyond_the_json_parser_is_a_failed_registration_not_a_crash(app):
    from plugin.lti.registration import RegistrationFailed, _Answer, _json_object

    nested = _Answer(status=200, body=b"[" * 100_000 + b"]" * 100_000, url="https://moodle.example/config")
    with app.test_request_context(), pytest.raises(RegistrationFailed, match="did not answer with a JSON object"):
        _json_object(nested, "OpenID configuration")


GROUPS_SCOPE = "https://purl.imsglobal.org/spec/lti-gs/scope/contextgroup.readonly"


@pytest.mark.parametrize("advertised", [True, False])
def test_the_groups_scope_is_asked_for_exactly_when_the_platform_lists_it(client, registration_url, app, advertised):
    """A platform offering LTI Course Groups sends a groups service claim at launch, and the roster sync asks a
    token for its scope: that scope must have been granted at registration, or every sync fails on the token."""
    server = MoodleRegistrationServer()
    if advertised:
        server.config_overrides = {"scopes_supported": server.configuration()["scopes_supported"] + [GROUPS_SCOPE]}
    try:
        assert client.get(relative(server.register_url(registration_url()))).status_code == 200
        [registration] = server.registrations
        sent = registration["payload"]
        assert (GROUPS_SCOPE in sent["scope"].split()) is advertised
        assert "https://purl.imsglobal.org/spec/lti-ags/scope/score" in sent["scope"].split()
    finally:
        server.close()


@pytest.mark.parametrize("field", ["product", "authorization_endpoint"])
def test_a_nul_character_in_the_platforms_configuration_is_not_a_server_error(client, registration_url, app, field):
    """A platform's OpenID configuration whose product name or an endpoint holds a NUL character (JSON \\u0000): on
    PostgreSQL storing it was a server error in the middle of the registration. The character is left out, as in a
    launch's text, and the platform is registered."""
    from plugin.extensions import db
    from plugin.lti.registration import PLATFORM_CONFIGURATION
    from plugin.tenancy.models import Platform

    server = MoodleRegistrationServer()
    if field == "product":
        server.config_overrides = {PLATFORM_CONFIGURATION: {
            "product_family_code": "moo\x00dle", "version": "4.4",
            "messages_supported": ["LtiResourceLinkRequest", "LtiDeepLinkingRequest"], "placements": [], "variables": []}}
    else:
        server.config_overrides = {"authorization_endpoint": f"{server.base}/mod/lti/auth.php\x00"}
    try:
        response = client.get(relative(server.register_url(registration_url())))
        assert response.status_code == 200, body(response)[:300]
        with app.app_context():
            platform = db.session.scalar(select(Platform))
            assert "\x00" not in platform.name + platform.auth_login_url
    finally:
        server.close()


# --- Canvas --------------------------------------------------------------------------------------

@pytest.fixture
def canvas():
    server = CanvasRegistrationServer(account_domain="canvas.school.example")
    yield server
    server.close()


def test_canvas_registration_in_its_own_dialect_then_a_real_launch(client, canvas, registration_url, app):
    """Canvas advertises placements as https://canvas.instructure.com/lti/<name> URIs per message type, names the
    school's host that frames the registration, and answers with the deployment id at the top level: Tinker is
    asked into the course navigation and the module and assignment pickers, at the privacy level that sends names
    and e-mail addresses, and the deployment Canvas made is recorded."""
    from plugin.extensions import db
    from plugin.lti import install
    from plugin.tenancy.models import Deployment, FrameOrigin, Platform

    response = client.get(relative(canvas.register_url(registration_url("Canvas University"))))
    page = body(response)
    assert response.status_code == 200, page[:2000]
    assert [(r.method, r.path) for r in canvas.requests] == [("GET", CANVAS_CONFIG_PATH),
                                                             ("POST", CANVAS_REGISTER_PATH)]
    (sent,) = [r["payload"] for r in canvas.registrations]
    tool = sent[TOOL_CONFIGURATION]
    messages = {m["type"]: m["placements"] for m in tool["messages"]}
    # Canvas's own placements (those of canvas.json), not the IMS ContentArea it also lists
    assert messages == {"LtiResourceLinkRequest": [CANVAS + "course_navigation"],
                        "LtiDeepLinkingRequest": [CANVAS + "link_selection", CANVAS + "assignment_selection"]}
    assert tool[CANVAS + "privacy_level"] == "public"
    assert tool["custom_parameters"][install.CUSTOM_COURSE_GROUPS] == "$com.instructure.Course.groupIds"

    answer = canvas.registrations[0]["answer"]
    with app.app_context():
        platform = db.session.scalar(select(Platform))
        assert (platform.issuer, platform.client_id) == (canvas.base, "10000000000043")
        assert platform.auth_login_url == f"{canvas.base}/api/lti/authorize_redirect"
        assert platform.key_set_url == f"{canvas.base}/api/lti/security/jwks"
        assert [d.deployment_id for d in db.session.scalars(select(Deployment))] == [answer["deployment_id"]]
        assert platform.accept_new_deployments  # Canvas makes one per account, sub-account or course install
        assert ("http://canvas.school.example", "registration") in {
            (o.origin, o.source) for o in db.session.scalars(select(FrameOrigin))}

    # The school's page frames the registration: the answer may be framed there and closes it there.
    assert 'data-lti-close-origin="http://canvas.school.example"' in page
    assert "http://canvas.school.example" in response.headers["Content-Security-Policy"].split("frame-ancestors", 1)[1]

    launcher = canvas.launcher()
    launched, _ = launcher.launch(client, role="learner", sub="canvas-user-1", context_id="course-1")
    assert launched.headers["Location"].startswith("/app/")
    assert client.get("/app/", query_string={"lt": token_from(launched)}).status_code == 200
    # Tinker installed in a sub-account too: Canvas launches with that install's deployment id
    launcher.deployment_id = "2:0123456789abcdef0123456789abcdef01234567"
    token_from(launcher.launch(client, role="learner", sub="canvas-user-2", context_id="course-2")[0])
    with app.app_context():
        assert count(app, Deployment) == 2


def test_canvas_advertising_none_of_tinkers_placements_gets_none_asked(client, registration_url):
    """A message type whose advertised placements include none Tinker offers is sent without placements (the
    platform's default), never with names it did not advertise."""
    server = CanvasRegistrationServer()
    server.config_overrides = {PLATFORM_CONFIGURATION: {
        **server.configuration()[PLATFORM_CONFIGURATION],
        "messages_supported": [{"type": "LtiResourceLinkRequest", "placements": [CANVAS + "user_navigation"]},
                               {"type": "LtiDeepLinkingRequest", "placements": [CANVAS + "editor_button"]}]}}
    try:
        assert client.get(relative(server.register_url(registration_url()))).status_code == 200
        messages = server.registrations[0]["payload"][TOOL_CONFIGURATION]["messages"]
        assert [("placements" in m) for m in messages] == [False, False]
    finally:
        server.close()


HOSTED = {"issuer": "https://canvas.instructure.com",
          "authorization_endpoint": "https://sso.canvaslms.com/api/lti/authorize_redirect",
          "token_endpoint": "https://sso.canvaslms.com/login/oauth2/token",
          "jwks_uri": "https://sso.canvaslms.com/api/lti/security/jwks",
          "registration_endpoint": "https://canvas.instructure.com/api/lti/registrations",
          PLATFORM_CONFIGURATION: {"product_family_code": "canvas", "version": "cloud",
                                   CANVAS + "account_domain": "school.instructure.com"}}
HOSTED_CONFIG = "https://canvas.instructure.com/api/lti/security/openid-configuration?registration_token=x"


def test_hosted_canvas_configuration_on_the_issuers_host_is_taken_framed_by_the_schools_host(app):
    """Hosted Canvas serves its configuration from the shared issuer's host and names the school's host, which
    frames the registration."""
    from plugin.lti.registration import parse_platform_configuration

    with app.test_request_context():
        platform = parse_platform_configuration(dict(HOSTED), HOSTED_CONFIG)
    assert platform.issuer == "https://canvas.instructure.com"
    assert platform.jwks_uri == "https://sso.canvaslms.com/api/lti/security/jwks"
    assert platform.frame_origin == "https://school.instructure.com"


@pytest.mark.parametrize("url", [
    "https://school.instructure.com/api/lti/security/openid-configuration",   # a school's host: not the issuer's
    "https://canvas.school.example/api/lti/security/openid-configuration",
    "https://evil.example\\.canvas.instructure.com/api/lti/security/openid-configuration",  # ends at the backslash
    "https://canvas.instructure.com.evil.example/api/lti/security/openid-configuration",
    # urlsplit reads canvas.instructure.com, the HTTP client connects to evil.example
    "https://evil.example\\@canvas.instructure.com/api/lti/security/openid-configuration",
])
def test_a_configuration_naming_the_hosted_canvas_issuer_elsewhere_is_refused(app, url):
    """No exception for the issuer every hosted school shares: a configuration served from any other host could
    name Instructure's issuer with keys of its own."""
    from plugin.lti.registration import RegistrationFailed, parse_platform_configuration

    with app.test_request_context(), pytest.raises(RegistrationFailed, match="issuer it does not belong to"):
        parse_platform_configuration(dict(HOSTED), url)


@pytest.mark.parametrize("domain", ["school.example/evil", "a b", "a;b", "*.example", "", 42, "école.example", "x" * 300])
def test_an_account_domain_that_is_not_a_host_frames_nothing(app, domain):
    from plugin.lti.registration import parse_platform_configuration

    document = {**HOSTED, PLATFORM_CONFIGURATION: {"product_family_code": "canvas", CANVAS + "account_domain": domain}}
    with app.test_request_context():
        assert parse_platform_configuration(document, HOSTED_CONFIG).frame_origin is None


def test_a_refusal_before_anything_is_fetched_shows_in_a_hosted_canvas_schools_frame(client):
    """Hosted Canvas's configuration URL is on the shared issuer's host, the page framing Tinker on the school's:
    a refused link is still readable in the frame."""
    configuration = "https://canvas.instructure.com/api/lti/security/openid-configuration?registration_token=x"
    response = client.get("/lti/register", query_string={"tinker_token": "not-ours", "openid_configuration": configuration})
    assert response.status_code == 403
    ancestors = response.headers["Content-Security-Policy"].split("frame-ancestors", 1)[1].split(";", 1)[0].split()
    assert "https://*.instructure.com" in ancestors and "https://canvas.instructure.com" in ancestors


@pytest.mark.parametrize("configuration", ["https://a *.evil.example/x", "https://a%20*%20b/",
                                           "https://a;report-uri https:/x", "https://lms.example.edu'"])
def test_a_configuration_url_cannot_add_sources_or_directives_to_the_csp(client, configuration):
    """The configuration URL's origin is allowed to frame the answer: a host with spaces, "*" or ";" in it would
    have let any site frame it, or added directives."""
    response = client.get("/lti/register", query_string={"tinker_token": "not-ours", "openid_configuration": configuration})
    assert response.status_code == 403
    policy = response.headers["Content-Security-Policy"]
    ancestors = policy.split("frame-ancestors", 1)[1].split(";", 1)[0].split()
    assert ancestors == ["'self'"]  # no registration yet: nothing else may frame it
    assert "report-uri" not in policy


def test_a_registration_link_never_changes_an_existing_registration(client, canvas, cli, registration_url, app):
    """The client id the platform assigns is already registered (by the operator, with other keys): the link is
    refused and given back, and the registration keeps its key set and endpoints."""
    from plugin.extensions import db
    from plugin.lti.models import RegistrationToken
    from plugin.tenancy.models import Platform

    link = registration_url("Canvas University")
    added = cli("lti", "add-platform", "--issuer", canvas.base, "--client-id", "10000000000043",
                "--auth-url", "https://lms.example/auth", "--token-url", "https://lms.example/token",
                "--jwks-url", "https://lms.example/jwks", "--org", "Canvas University")
    assert added.exit_code == 0, added.output
    response = client.get(relative(canvas.register_url(link)))
    assert response.status_code == 409 and "already has a registration" in body(response)
    with app.app_context():
        (platform,) = db.session.scalars(select(Platform)).all()
        assert (platform.key_set_url, platform.auth_login_url) == ("https://lms.example/jwks", "https://lms.example/auth")
        assert db.session.scalar(select(RegistrationToken.used_at)) is None


def test_a_platform_registering_again_with_the_client_id_it_gave_before_is_the_same_registration(
        client, canvas, registration_url, app):
    """A platform that answers a second registration (a retry, another link for the same organisation) with the
    client id it assigned before, its endpoints and key set unchanged, has registered the same thing again: taken,
    its new deployment recorded, nothing duplicated."""
    from plugin.extensions import db
    from plugin.tenancy.models import Deployment, Platform

    assert client.get(relative(canvas.register_url(registration_url("Canvas University")))).status_code == 200
    canvas.next_key -= 1  # Canvas answers with the same developer key
    again = client.get(relative(canvas.register_url(registration_url("Canvas University"))))
    assert again.status_code == 200, body(again)[:500]
    with app.app_context():
        assert [p.client_id for p in db.session.scalars(select(Platform))] == ["10000000000043"]
        assert sorted(d.deployment_id for d in db.session.scalars(select(Deployment))) == [
            r["answer"]["deployment_id"] for r in canvas.registrations]
    canvas.next_key -= 1  # and the same key once more, for another organisation: refused
    other = client.get(relative(canvas.register_url(registration_url("Other University", "--create-org"))))
    assert other.status_code == 409
