"""Pictures of the main pages for each role, in English and Turkish, as they look inside the LMS frame.

Every run writes them to test-artifacts/screenshots/; `make screenshots` runs this module alone with
TINKER_SCREENSHOTS_DIR=docs/images, which regenerates the pictures docs/screenshots.md and the README show.
A picture is taken only once the page is there in the right language, so a broken page fails here instead
of landing in the docs.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.e2e.test_learner_journey import launch_from_dev_lms, until_fitted

pytestmark = pytest.mark.e2e

# (picture, person, the link that leads to the page: its path in the tool, followed from the page before)
SHOTS = [
    ("learner-dashboard", "James Carter", None),
    ("learner-log-experiment", "James Carter", "/app/experiments/new"),
    ("learner-shared-experiments", "James Carter", "/app/experiments"),
    ("learner-leaderboard", "James Carter", "/app/leaderboard"),
    ("learner-badges", "James Carter", "/app/badges"),
    ("learner-challenges", "James Carter", "/app/challenges/"),
    ("manager-overview", "Fatma Korkmaz", None),
    ("manager-team-progress", "Fatma Korkmaz", "/app/teams/manage"),
    ("manager-insights", "Fatma Korkmaz", "/app/insights/"),
    ("admin-rules", "Alex Morgan", "/app/admin/rules/"),
]
LANGUAGES = ("en", "tr")


def _target() -> Path:
    configured = os.environ.get("TINKER_SCREENSHOTS_DIR")
    return Path(configured) if configured else Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


def _follow(page, frame, path: str) -> None:
    frame.locator(f'a[href^="{path}?"], a[href="{path}"]').first.click()
    tool = next(f for f in page.frames if "/app/" in f.url)
    tool.wait_for_url(re.compile(re.escape(path) + r"(\?|$)"))  # the new page, not the one before it
    expect(frame.locator("main h1").first).to_be_visible()


@pytest.mark.parametrize("language", LANGUAGES)
def test_screenshots_of_the_main_pages(live_server, browser, language):
    assert live_server.test_cli_runner().invoke(args=["demo", "seed"]).exit_code == 0
    target = _target()
    target.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1200, "height": 820}, locale="en-GB")
    page = context.new_page()
    try:
        person = None
        for name, who, path in SHOTS:
            if who != person:
                frame = launch_from_dev_lms(page, live_server.base_url, who)
                expect(frame.locator("main h1").first).to_be_visible()
                switch = frame.locator(f'form.lang-switch button[value="{language}"]')
                if switch.count():  # the launch's locale was the other language: the header's switch
                    switch.click()
                    # its page first: a link clicked while the switch still loads is lost when its page replaces
                    # the frame's (the next shot's link waited 30 s for a navigation that never came)
                    expect(frame.locator(f'html[lang="{language}"]')).to_have_count(1)
                person = who
            if path:
                _follow(page, frame, path)
            if name == "manager-team-progress":  # from the teams list, the first team's progress page
                _follow(page, frame, "/app/teams/1")
            expect(frame.locator(f'html[lang="{language}"]')).to_have_count(1)
            until_fitted(page)  # the frame has taken its content's height (lti.frameResize)
            page.screenshot(path=str(target / f"{name}.{language}.png"))
    finally:
        context.close()
