"""A login inside a frame of an LMS that offers no platform storage: the login page first checks that the
state cookie comes back to the frame, and otherwise offers "Open Tinker in a new window" with the same login
parameters, so the OIDC flow runs first-party there. (The browser side is in tests/e2e/test_lti_new_window.py.)"""
import html
import re
from urllib.parse import parse_qs, urlsplit

from plugin.lti.views import state_cookie
from tests.support.platform import token_from

FRAMED = {"Sec-Fetch-Dest": "iframe"}


def _login(client, platform, headers=None, **extra):
    data = {"iss": platform.issuer, "client_id": platform.client_id, "login_hint": "user-1",
            "lti_message_hint": "hint-42", "lti_deployment_id": platform.deployment_id,
            "target_link_uri": "http://localhost/lti/launch", **extra}
    return client.post("/lti/login", data=data, headers=headers or {})


def _attr(page: str, name: str) -> str:
    return html.unescape(re.search(rf'data-{name}="([^"]*)"', page).group(1))


def _new_window_fields(page: str) -> dict[str, str]:
    form = re.search(r'<form method="post" action="/lti/login" target="_blank"[^>]*>(.*?)</form>', page, re.S).group(1)
    return {html.unescape(n): html.unescape(v) for n, v in re.findall(r'name="([^"]+)" value="([^"]*)"', form)}


def test_a_framed_login_checks_its_cookie_and_can_offer_a_new_window(client, platform):
    response = _login(client, platform, headers=FRAMED, lti_storage_target="_parent")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "Open Tinker in a new window" in page
    assert f"{state_cookie(_attr(page, 'state'))}=" in response.headers["Set-Cookie"]
    assert _new_window_fields(page) == {  # the same login again, minus the frame the new window will not have
        "iss": platform.issuer, "client_id": platform.client_id, "login_hint": "user-1",
        "lti_message_hint": "hint-42", "lti_deployment_id": platform.deployment_id,
        "target_link_uri": "http://localhost/lti/launch"}


def test_without_storage_a_framed_login_checks_its_cookie_before_going_on(client, platform):
    page = _login(client, platform, headers=FRAMED).get_data(as_text=True)
    assert _attr(page, "mode") == "check"
    state = _attr(page, "state")
    assert parse_qs(urlsplit(_attr(page, "next")).query)["state"] == [state]
    probe = _attr(page, "probe")
    assert client.get(probe).get_json() == {"cookie": True}  # this browser kept the cookie: go on in the frame
    assert client.application.test_client().get(probe).get_json() == {"cookie": False}  # a browser that dropped it
    assert client.get("/lti/login/probe?state=another").get_json() == {"cookie": False}


def test_a_top_level_login_redirects_straight_to_the_platform(client, platform):
    response = _login(client, platform, headers={"Sec-Fetch-Dest": "document"})
    state = parse_qs(urlsplit(response.headers["Location"]).query)["state"][0]
    assert response.status_code == 302 and f"{state_cookie(state)}=" in response.headers["Set-Cookie"]


def test_the_new_window_launch_completes_first_party(client, platform):
    framed = client.application.test_client()  # its cookie is dropped in the frame
    fields = _new_window_fields(_login(framed, platform, headers=FRAMED).get_data(as_text=True))
    response = client.post("/lti/login", data=fields, headers={"Sec-Fetch-Dest": "document"})
    query = parse_qs(urlsplit(response.headers["Location"]).query)
    assert query["login_hint"] == ["user-1"] and query["lti_message_hint"] == ["hint-42"]
    launched = client.post("/lti/launch", data={"id_token": platform.sign(platform.claims(query["nonce"][0])),
                                                "state": query["state"][0]})
    token_from(launched)


def test_storage_that_answers_nothing_is_not_a_proof(client, platform):
    """The platform named a storage frame but it kept nothing: the launch is refused, not taken on trust."""
    page = _login(client, platform, lti_storage_target="_parent").get_data(as_text=True)
    state, nonce = _attr(page, "state"), _attr(page, "nonce")
    browser = client.application.test_client()
    response = browser.post("/lti/launch", data={"id_token": platform.sign(platform.claims(nonce)), "state": state,
                                                 "platform_state": ""})
    assert response.status_code == 400
    assert "could not confirm that this launch was started in this browser" in html.unescape(response.get_data(as_text=True))


SAFARI_15 = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
             "Version/15.6.1 Safari/605.1.15")
SAFARI_16_3_IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 16_3 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                      "Version/16.3 Mobile/15E148 Safari/604.1")
SAFARI_17 = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
             "Version/17.4 Safari/605.1.15")
CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"


def test_safari_before_16_4_cannot_say_it_is_framed_so_the_login_page_checks(client, platform):
    """Old Safari sends no Sec-Fetch-Dest and drops cookies in frames: the login page checks its cookie (and
    offers a new window when it is gone) instead of redirecting into a launch that would be refused."""
    for agent in (SAFARI_15, SAFARI_16_3_IPHONE):
        response = _login(client, platform, headers={"User-Agent": agent})
        page = response.get_data(as_text=True)
        assert response.status_code == 200 and _attr(page, "mode") == "check", agent
        assert "Open Tinker in a new window" in page
    for agent in (SAFARI_17, CHROME):  # these say where they are (or are too new to need the check)
        assert _login(client, platform, headers={"User-Agent": agent}).status_code == 302, agent
    top_level = _login(client, platform, headers={"User-Agent": SAFARI_15, "Sec-Fetch-Dest": "document"})
    assert top_level.status_code == 302  # a Fetch Metadata header, when there is one, decides
