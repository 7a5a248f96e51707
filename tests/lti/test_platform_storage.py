"""LTI platform storage (1EdTech client-side postMessages): when the LMS offers lti_storage_target, the
login keeps state and nonce in the LMS frame too, and a launch whose browser dropped the state cookie reads
the state back from there before it is validated. The state read back counts only when Tinker's own page
posts it, for a login that kept its state there: anything else could be another site's login CSRF."""
import html
import re
from urllib.parse import parse_qs, urlsplit

import pytest

from plugin.lti.views import state_cookie
from tests.lti.test_launch_rejections import assert_rejected, sessions
from tests.support.platform import token_from

TINKER_PAGE = {"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"}  # as lti/storage_get.html posts
UNCONFIRMED = "could not confirm that this launch was started in this browser"


def _login(client, platform, **extra):
    return client.post("/lti/login", data={"iss": platform.issuer, "client_id": platform.client_id,
                                           "login_hint": "user-1", **extra})


def _attr(page: str, name: str) -> str:
    return html.unescape(re.search(rf'data-{name}="([^"]*)"', page).group(1))


def test_login_with_storage_target_stores_state_and_nonce_in_the_platform_frame(client, platform):
    response = _login(client, platform, lti_storage_target="_parent")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert _attr(page, "target") == "_parent" and _attr(page, "origin") == "https://lms.example.edu"
    query = parse_qs(urlsplit(_attr(page, "next")).query)
    assert _attr(page, "state") == query["state"][0] and _attr(page, "nonce") == query["nonce"][0]
    assert f"{state_cookie(_attr(page, 'state'))}=" in response.headers["Set-Cookie"]  # the cookie is still offered


def test_a_cookieless_launch_reads_the_state_back_then_completes(client, platform):
    page = _login(client, platform, lti_storage_target="post_message_forwarding").get_data(as_text=True)
    state, nonce = _attr(page, "state"), _attr(page, "nonce")
    id_token = platform.sign(platform.claims(nonce))
    browser = client.application.test_client()  # third-party cookies dropped: no state cookie here
    first = browser.post("/lti/launch", data={"id_token": id_token, "state": state})
    body = first.get_data(as_text=True)
    assert first.status_code == 200 and 'name="platform_state" value=""' in body
    assert _attr(body, "target") == "post_message_forwarding" and _attr(body, "state") == state
    completed = browser.post("/lti/launch", data={"id_token": id_token, "state": state, "platform_state": state},
                             headers=TINKER_PAGE)
    token_from(completed)


def test_a_state_from_another_browsers_storage_is_refused(client, platform):
    page = _login(client, platform, lti_storage_target="_parent").get_data(as_text=True)
    state, nonce = _attr(page, "state"), _attr(page, "nonce")
    browser = client.application.test_client()
    response = browser.post("/lti/launch", data={"id_token": platform.sign(platform.claims(nonce)), "state": state,
                                                 "platform_state": "state-of-someone-else"}, headers=TINKER_PAGE)
    assert response.status_code == 400
    assert "does not belong to the login this browser started" in html.unescape(response.get_data(as_text=True))


def test_a_target_that_is_not_a_frame_name_falls_back_to_the_cookie(client, platform):
    response = _login(client, platform, lti_storage_target="<script>alert(1)</script>")
    assert response.status_code == 302


def test_without_a_storage_target_the_login_redirects_as_before(client, platform):
    assert _login(client, platform).status_code == 302


@pytest.mark.parametrize("page", [
    {"Origin": "http://localhost:8080"},  # Tinker's own page is what storage_get.html runs in: same origin
    {"Origin": "null", "Sec-Fetch-Site": "same-site"},
], ids=["other-port", "null-origin-same-site"])
def test_the_storage_page_of_another_origin_cannot_post_the_state_read_back(client, platform, page):
    page_html = _login(client, platform, lti_storage_target="_parent").get_data(as_text=True)
    state, nonce = _attr(page_html, "state"), _attr(page_html, "nonce")
    browser = client.application.test_client()
    response = browser.post("/lti/launch", data={"id_token": platform.sign(platform.claims(nonce)), "state": state,
                                                 "platform_state": state}, headers=page)
    assert_rejected(response, UNCONFIRMED)


def test_the_state_read_back_can_come_with_fetch_metadata_alone(client, platform):
    """A browser whose privacy settings send "Origin: null" even to the page's own origin still says
    Sec-Fetch-Site: same-origin: the platform storage launch completes."""
    page = _login(client, platform, lti_storage_target="_parent").get_data(as_text=True)
    state, nonce = _attr(page, "state"), _attr(page, "nonce")
    browser = client.application.test_client()
    completed = browser.post("/lti/launch", data={"id_token": platform.sign(platform.claims(nonce)), "state": state,
                                                  "platform_state": state},
                             headers={"Origin": "null", "Sec-Fetch-Site": "same-origin"})
    token_from(completed)


# --- login CSRF: an attacker's own launch posted from the victim's browser ------------------------------------

def _attackers_launch(app, platform, **login_params) -> tuple:
    """The attacker runs a login in their own browser and keeps what the platform posts back (id_token, state)."""
    attacker = app.test_client()
    if login_params:
        page = _login(attacker, platform, **login_params).get_data(as_text=True)
        state, nonce = _attr(page, "state"), _attr(page, "nonce")
    else:
        flow = platform.login(attacker, sub="attacker")
        state, nonce = flow.state, flow.nonce
    return attacker, platform.sign(platform.claims(nonce, sub="attacker")), state


@pytest.mark.parametrize("login_params", [{}, {"lti_storage_target": "_parent"}], ids=["cookie-login", "storage-login"])
@pytest.mark.parametrize("headers", [
    {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
    {"Origin": "null", "Sec-Fetch-Site": "cross-site"},  # from a sandboxed frame or a data: page
    {"Origin": "https://evil.example"},  # a browser without Fetch Metadata
    {},  # nothing said at all
], ids=["cross-site", "null-origin", "origin-only", "no-headers"])
def test_a_forged_launch_from_another_site_is_refused_and_the_honest_flows_still_work(app, platform, login_params,
                                                                                      headers):
    attacker, id_token, state = _attackers_launch(app, platform, **login_params)
    victim = app.test_client()  # never started this login: no state cookie for it
    forged = victim.post("/lti/launch", data={"id_token": id_token, "state": state, "platform_state": state},
                         headers=headers)
    assert_rejected(forged, UNCONFIRMED)
    assert sessions(app) == 0 and victim.get_cookie("tinker_session") is None  # nobody was signed in
    # The refusal spent nothing: the browser that did start the login launches with its cookie.
    token_from(attacker.post("/lti/launch", data={"id_token": id_token, "state": state}))


def test_tinker_page_cannot_vouch_for_a_login_that_kept_nothing_in_platform_storage(app, platform):
    """platform_state is what lti/storage_get.html read back from platform storage; a login without a storage
    target put nothing there, so a platform_state for it is refused even when posted same-origin."""
    attacker, id_token, state = _attackers_launch(app, platform)
    victim = app.test_client()
    forged = victim.post("/lti/launch", data={"id_token": id_token, "state": state, "platform_state": state},
                         headers=TINKER_PAGE)
    assert_rejected(forged, UNCONFIRMED)
    assert sessions(app) == 0
    token_from(attacker.post("/lti/launch", data={"id_token": id_token, "state": state}))


def test_the_honest_storage_flow_after_a_refused_forgery_still_completes(client, platform, app):
    """The launch page of a browser that dropped its cookie asks the platform frame, then posts what it read
    from Tinker's own origin: that launch completes."""
    page = _login(client, platform, lti_storage_target="post_message_forwarding").get_data(as_text=True)
    state, nonce = _attr(page, "state"), _attr(page, "nonce")
    id_token = platform.sign(platform.claims(nonce))
    browser = app.test_client()
    assert_rejected(browser.post("/lti/launch", data={"id_token": id_token, "state": state, "platform_state": state},
                                 headers={"Origin": "https://evil.example"}), UNCONFIRMED)
    asked = browser.post("/lti/launch", data={"id_token": id_token, "state": state})
    assert asked.status_code == 200 and _attr(asked.get_data(as_text=True), "mode") == "get"
    token_from(browser.post("/lti/launch", data={"id_token": id_token, "state": state, "platform_state": state},
                            headers=TINKER_PAGE))
