"""Registration and deep linking in a real browser, inside a platform page on another origin: the CSP
lets exactly that platform frame Tinker and receive its answers, which a test client cannot show."""
from urllib.parse import quote, urlsplit

import jwt
import requests
from playwright.sync_api import expect

from tests.support.dynreg import RETURN_PATH, CanvasRegistrationServer, MoodleRegistrationServer
from tests.support.platform import deep_linking_request

DL = "https://purl.imsglobal.org/spec/lti-dl/claim/"


def registration_link(live_server, moodle) -> str:
    result = live_server.test_cli_runner().invoke(
        args=["lti", "registration-token", "--org", "Browser Org", "--create-org"])
    assert result.exit_code == 0, result.output
    return moodle.register_url(result.stdout.strip())


def open_in_platform_frame(page, moodle, url: str):
    page.goto(f"{moodle.base}/admin/frame.php?url={quote(url, safe='')}")
    return page.frame_locator("iframe[name=tool]")


def registered_and_closed(live_server, page, frame, platform) -> None:
    """The registration answered in the platform's frame, its close message received by the framing page."""
    expect(frame.get_by_role("heading", name="Tinker is registered")).to_be_visible()
    tool_origin = "http://" + urlsplit(live_server.base_url).netloc
    expect(page.locator("#messages li")).to_have_text([f'{tool_origin} {{"subject":"org.imsglobal.lti.close"}}'])
    assert len(platform.registrations) == 1


def test_dynamic_registration_in_the_platform_frame_posts_lti_close(live_server, page):
    moodle = MoodleRegistrationServer()
    try:
        frame = open_in_platform_frame(page, moodle, registration_link(live_server, moodle))
        registered_and_closed(live_server, page, frame, moodle)
    finally:
        moodle.close()


def test_canvas_registration_framed_by_the_schools_host_shows_and_posts_lti_close_there(live_server, page):
    """Canvas frames the registration in the school's page (its account_domain), on another origin than its
    configuration URL: the answer must be allowed in that frame and its close message go to that page."""
    canvas = CanvasRegistrationServer()
    school = f"localhost:{canvas.server.server_port}"  # the same server, another origin than 127.0.0.1
    canvas.account_domain = school
    try:
        link = registration_link(live_server, canvas)
        page.goto(f"http://{school}/admin/frame.php?url={quote(link, safe='')}")
        registered_and_closed(live_server, page, page.frame_locator("iframe[name=tool]"), canvas)
    finally:
        canvas.close()


def test_deep_linking_answer_is_posted_from_the_frame_to_the_platform(live_server, page):
    moodle = MoodleRegistrationServer()
    try:
        assert requests.get(registration_link(live_server, moodle), timeout=10).status_code == 200
        platform = moodle.launcher()
        launched, _ = platform.launch(live_server.test_client(), role="instructor", sub="teacher", overrides=
                                      deep_linking_request(deep_link_return_url=moodle.base + RETURN_PATH))
        assert launched.status_code == 303, launched.get_data(as_text=True)[:1000]

        frame = open_in_platform_frame(page, moodle, live_server.base_url + launched.headers["Location"])
        frame.get_by_label("Leaderboard").check()
        frame.get_by_role("button", name="Add to the course").click()
        expect(frame.locator("#received")).to_have_text("Content received")

        (answer,) = moodle.deep_link_answers
        published = {k["kid"]: k for k in requests.get(f"{live_server.base_url}/lti/jwks", timeout=10).json()["keys"]}
        key = jwt.PyJWK(published[jwt.get_unverified_header(answer)["kid"]]).key
        claims = jwt.decode(answer, key, algorithms=["RS256"], audience=moodle.base)
        assert claims["iss"] == platform.client_id
        assert [item["custom"] for item in claims[DL + "content_items"]] == [{"tinker_view": "leaderboard"}]
    finally:
        moodle.close()
