"""Launching from an LMS on another site, over HTTPS, in a browser that drops the tool's cookies inside the
LMS page (as Safari does; partitioned cookies too) and an LMS without platform storage (as Moodle 4.4):
the frame offers "Open Tinker in a new window", and the new window's launch lands in Tinker.

Chromium is told to block the tool's cookies when embedded in the LMS site by a content setting in its
profile (the same thing as the user's "Sites not allowed to use third-party cookies" list); the test first
shows the cookie the tool sets inside the frame really is dropped."""
import json
import re
import socket
import threading

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import CHROMIUM_ARGS, chromium_path
from tests.support.lms_site import CrossSiteLms
from tests.support.tls import make_certificates, server_context


@pytest.fixture(scope="module")
def certificates(tmp_path_factory):
    return make_certificates(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def https_tool(app, db_url, certificates, tmp_path_factory):
    """The tool on https://127.0.0.1:<port> (its own site), sharing the test database."""
    from werkzeug.serving import make_server

    from plugin import create_app

    _ca, cert, key = certificates
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = f"https://127.0.0.1:{port}"
    tool = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": db_url, "TINKER_BASE_URL": base,
                       "DEV_LMS_ENABLED": False, "RAISE_UNEXPECTED": False})
    server = make_server("127.0.0.1", port, tool, threaded=True, ssl_context=server_context(cert, key))
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    tool.base_url = base
    yield tool
    server.shutdown()


@pytest.fixture
def lms(https_tool, certificates):
    _ca, cert, key = certificates
    site = CrossSiteLms(https_tool.base_url, cert, key)
    result = https_tool.test_cli_runner().invoke(args=site.platform.register_args(org="Cross-site Org"))
    assert result.exit_code == 0, result.output
    yield site
    site.close()


def _context_blocking_the_tool_in(browser, lms, tool_base: str, folder):
    """A Chromium profile whose cookie settings block the tool's cookies when it is embedded in the LMS."""
    profile = folder / "profile"
    (profile / "Default").mkdir(parents=True)
    pattern = f"https://{tool_base.split('//')[1].split(':')[0]}:*,https://localhost:*"
    (profile / "Default" / "Preferences").write_text(json.dumps(
        {"profile": {"content_settings": {"exceptions": {"cookies": {pattern: {"setting": 2}}}}}}))
    return browser.browser_type.launch_persistent_context(
        str(profile), executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS,
        ignore_https_errors=True, viewport={"width": 1280, "height": 900}, locale="en-GB")


def test_blocked_cookies_and_no_storage_open_tinker_in_a_new_window(browser, https_tool, lms, tmp_path, artifacts):
    context = _context_blocking_the_tool_in(browser, lms, https_tool.base_url, tmp_path)
    try:
        page = context.new_page()
        logins = []
        page.on("response", lambda r: logins.append(r) if r.url.endswith("/lti/login") else None)
        page.goto(lms.course_url("learner-7"))
        frame = page.frame_locator("iframe[name=tool-frame]")
        expect(frame.get_by_role("heading", name="Open Tinker in a new window")).to_be_visible()
        # A screen reader hears the offer (the "Opening Tinker…" line it replaces went silently) and starts on it.
        expect(frame.get_by_role("alert")).to_have_text("Open Tinker in a new window")
        assert frame.locator("#new-window-h").evaluate("h => h.ownerDocument.activeElement === h")

        # The tool did set its state cookie inside the frame, and the browser kept nothing of it.
        assert len(logins) == 1 and "tinker_lti_state_" in (logins[0].header_value("set-cookie") or "")
        assert "Partitioned" in logins[0].header_value("set-cookie")
        assert [c for c in context.cookies() if c["name"].startswith("tinker_lti_state")] == []
        assert lms.auth_requests == []  # the platform's one-time login hint is still unused
        page.screenshot(path=str(artifacts / "lti-new-window-offer.png"))

        with context.expect_page() as opened:
            frame.get_by_role("button", name="Open Tinker in a new window").click()
        tab = opened.value
        expect(tab.get_by_role("heading", name="My dashboard")).to_be_visible()
        assert tab.url.startswith(https_tool.base_url + "/app/")
        expect(frame.get_by_role("status")).to_have_text("Tinker opened in a new window or tab.")
        assert len(lms.auth_requests) == 1 and lms.auth_requests[0]["login_hint"] == "learner-7"
        tab.screenshot(path=str(artifacts / "lti-new-window-landed.png"))
    finally:
        context.close()


def test_partitioned_state_cookie_keeps_the_launch_in_the_frame(browser, https_tool, lms):
    """Chromium's own default drops unpartitioned third-party cookies; the state cookie is partitioned
    (CHIPS), comes back to the frame, and the launch completes there without a new window."""
    context = browser.new_context(ignore_https_errors=True, viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.goto(lms.course_url("learner-8"))
        frame = page.frame_locator("iframe[name=tool-frame]")
        expect(frame.get_by_role("heading", name="My dashboard")).to_be_visible()
        assert len(context.pages) == 1
    finally:
        context.close()


def test_with_every_tool_cookie_blocked_the_learner_journey_works_in_the_frame(browser, https_tool, lms, tmp_path,
                                                                               artifacts):
    """Cookies blocked for the tool inside the LMS (partitioned ones too), and an LMS that offers platform
    storage: the launch keeps its state in the LMS page, and everything after it (links, forms) travels with
    the launch token, so the learner's whole first visit works inside the frame."""
    context = _context_blocking_the_tool_in(browser, lms, https_tool.base_url, tmp_path)
    try:
        page = context.new_page()
        set_cookies = []
        page.on("response", lambda r: set_cookies.append(r.header_value("set-cookie"))
                if r.url.startswith(https_tool.base_url) and r.header_value("set-cookie") else None)
        page.goto(lms.course_url("learner-9", storage=True))
        frame = page.frame_locator("iframe[name=tool-frame]")
        expect(frame.get_by_role("heading", name="My dashboard")).to_be_visible(timeout=20_000)  # a busy CI machine
        assert set_cookies, "the tool set no cookie at all: the blocking would prove nothing"
        assert [c for c in context.cookies() if c["domain"] == "127.0.0.1"] == []  # every one of them was dropped
        assert [p.url for p in context.pages if p.url != "about:blank"] == [page.url]  # no new window was needed

        frame.get_by_role("link", name="Log an AI experiment").first.click()
        frame.get_by_label("Title").fill("Asked an AI to summarise a policy")
        frame.get_by_label("AI tool").select_option(index=1)
        frame.get_by_label("Task category").select_option(index=1)
        frame.get_by_label("What I tried").fill("Pasted the public policy text and asked for five bullet points.")
        frame.get_by_label("It did not work", exact=True).check()
        frame.get_by_role("textbox", name=re.compile("What I learned")).fill("It missed the exceptions; I now ask for them.")
        frame.get_by_label("Estimated minutes saved").fill("0")
        frame.get_by_role("group", name="confidential").get_by_label("No", exact=True).check()
        frame.get_by_label("My course").check()
        frame.get_by_role("button", name="Save experiment").click()
        expect(frame.get_by_role("status")).to_contain_text("points for trying")

        frame.locator("header nav").get_by_role("link", name="Leaderboard", exact=True).click()
        expect(frame.locator('header nav a[aria-current="page"]')).to_have_text("Leaderboard")
        expect(frame.locator("main")).to_contain_text("Ada Learner")
        page.screenshot(path=str(artifacts / "lti-cookies-blocked-journey.png"), full_page=True)
    finally:
        context.close()
