"""LTI platform storage (1EdTech client-side postMessages): when the LMS offers lti_storage_target, the
login keeps state and nonce in the LMS frame too, and a launch whose browser dropped the state cookie reads
the state back from there before it is validated."""
import html
import re
from urllib.parse import parse_qs, urlsplit

from plugin.lti.views import state_cookie
from tests.support.platform import token_from


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
    completed = browser.post("/lti/launch", data={"id_token": id_token, "state": state, "platform_state": state})
    token_from(completed)


def test_a_state_from_another_browsers_storage_is_refused(client, platform):
    page = _login(client, platform, lti_storage_target="_parent").get_data(as_text=True)
    state, nonce = _attr(page, "state"), _attr(page, "nonce")
    browser = client.application.test_client()
    response = browser.post("/lti/launch", data={"id_token": platform.sign(platform.claims(nonce)), "state": state,
                                                 "platform_state": "state-of-someone-else"})
    assert response.status_code == 400
    assert "does not belong to the login this browser started" in html.unescape(response.get_data(as_text=True))


def test_a_target_that_is_not_a_frame_name_falls_back_to_the_cookie(client, platform):
    response = _login(client, platform, lti_storage_target="<script>alert(1)</script>")
    assert response.status_code == 302


def test_without_a_storage_target_the_login_redirects_as_before(client, platform):
    assert _login(client, platform).status_code == 302
