"""The state cookie that binds a launch to the browser that started its login: one cookie per login, so two
launches at once in one browser (two tabs, or two Tinker frames in one course page) both complete; each
expires with its state, is sent to the LMS frame (SameSite=None; Secure; Partitioned over HTTPS) and is
cleared by its own launch."""
from urllib.parse import parse_qs, urlsplit

from plugin.lti.views import state_cookie
from tests.lti.test_launch_rejections import assert_rejected
from tests.support.platform import token_from

HTTPS = "https://localhost"


def _set_cookie_for(response, state: str) -> str:
    headers = [h for h in response.headers.getlist("Set-Cookie") if h.startswith(f"{state_cookie(state)}=")]
    assert len(headers) == 1, response.headers.getlist("Set-Cookie")
    return headers[0]


def test_two_logins_in_one_browser_both_launch(client, platform):
    first = platform.login(client)
    second = platform.login(client)  # a second tab, or a second Tinker link on the same course page
    assert client.get_cookie(state_cookie(first.state)).value == first.state
    assert client.get_cookie(state_cookie(second.state)).value == second.state
    token_from(client.post("/lti/launch", data={"id_token": platform.sign(platform.claims(first.nonce)),
                                                "state": first.state}))
    token_from(client.post("/lti/launch", data={"id_token": platform.sign(platform.claims(second.nonce)),
                                                "state": second.state}))


def test_the_later_of_two_launches_can_come_first(client, platform):
    first, second = platform.login(client), platform.login(client)
    for flow in (second, first):
        token_from(client.post("/lti/launch", data={"id_token": platform.sign(platform.claims(flow.nonce)),
                                                    "state": flow.state}))


def test_a_cookie_vouches_only_for_the_state_it_holds(client, platform, app):
    mine = platform.login(client)
    other = platform.login(app.test_client())
    client.set_cookie(state_cookie(other.state), mine.state)  # a cookie under the other state's name
    response = client.post("/lti/launch", data={"id_token": platform.sign(platform.claims(other.nonce)),
                                                "state": other.state})
    assert_rejected(response, "does not belong to the login this browser started")


def test_over_https_each_state_cookie_reaches_the_lms_frame_and_expires_with_its_state(client, platform, app):
    login = {"iss": platform.issuer, "client_id": platform.client_id, "login_hint": "user-1"}
    response = client.post("/lti/login", data=login, base_url=HTTPS)
    state = parse_qs(urlsplit(response.headers["Location"]).query)["state"][0]
    cookie = _set_cookie_for(response, state)
    assert cookie.startswith(f"{state_cookie(state)}={state};")
    attributes = {part.strip().split("=")[0] for part in cookie.split(";")[1:]}
    assert {"Secure", "HttpOnly", "SameSite", "Partitioned", "Max-Age"} <= attributes
    assert "SameSite=None" in cookie and f"Max-Age={app.config['LTI_STATE_TTL']}" in cookie


def test_a_launch_clears_its_own_state_cookie_and_no_other(client, platform):
    login = {"iss": platform.issuer, "client_id": platform.client_id, "login_hint": "user-1"}
    flows = []
    for _ in range(2):
        query = parse_qs(urlsplit(client.post("/lti/login", data=login, base_url=HTTPS).headers["Location"]).query)
        flows.append((query["state"][0], query["nonce"][0]))
    (state, nonce), (other_state, _other_nonce) = flows
    launched = client.post("/lti/launch", data={"id_token": platform.sign(platform.claims(nonce)), "state": state},
                           base_url=HTTPS)
    token_from(launched)
    cleared = _set_cookie_for(launched, state)
    # A partitioned SameSite=None cookie is only replaced by one with the same attributes.
    assert "Max-Age=0" in cleared and "Partitioned" in cleared and "Secure" in cleared and "SameSite=None" in cleared
    assert client.get_cookie(state_cookie(state), domain="localhost") is None
    assert client.get_cookie(state_cookie(other_state), domain="localhost").value == other_state
