"""The journeys of issue 9, each run in chromium inside the development LMS's frame, by people whose LMS
speaks English (the Turkish pages have their own checks): what a learner, a manager and an admin do in a
first week with Tinker (one of them switches from Turkish with the header's switch)."""
from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from playwright.sync_api import expect

from tests.e2e.test_learner_journey import launch_from_dev_lms

pytestmark = pytest.mark.e2e


def _ready(frame):
    expect(frame.locator("main h1").first).to_be_visible()
    return frame


def _nav(frame, name: str):
    frame.locator("header nav").get_by_role("link", name=name, exact=True).click()
    expect(frame.locator('header nav a[aria-current="page"]')).to_have_text(name)  # the new page, not the old one
    return _ready(frame)


def test_learner_reads_the_vision_reacts_and_confirms_help(live_server, page, artifacts):
    assert live_server.test_cli_runner().invoke(args=["demo", "seed"]).exit_code == 0
    base = live_server.base_url
    # A colleague says they helped James; James is asked to confirm.
    colleague = _ready(launch_from_dev_lms(page, base, "Olivia Bennett"))
    _nav(colleague, "Peer help")
    colleague.get_by_label("I helped someone (they will be asked to confirm)").check()
    colleague.get_by_label("Colleague").select_option(label="James Carter")
    colleague.get_by_label("What was the help?").fill("Showed how to ask for a rubric-based marking scheme.")
    colleague.get_by_role("button", name="Save").click()
    # Saved, not only sent: James's launch below takes the same page, and would cancel a form still on its way.
    expect(colleague.locator("p.toast[role=status]")).to_have_text("Saved.")
    expect(colleague.locator("section[aria-labelledby=hist-h]")).to_contain_text(
        "Olivia Bennett helped James Carter: Showed how to ask for a rubric-based marking scheme.")

    frame = _ready(launch_from_dev_lms(page, base, "James Carter"))
    _nav(frame, "AI vision")
    acknowledge = frame.get_by_role("button", name="I have read our AI vision")
    if acknowledge.count():
        acknowledge.click()  # recorded, then the dashboard (the vision page is still showing until then)
        expect(frame.locator('header nav a[aria-current="page"]')).to_have_text("My dashboard")
        _nav(frame, "AI vision")
    expect(frame.get_by_test_id("acked")).to_be_visible()

    # A colleague's shared experiment: react to it, and the count and the pressed state show it.
    _nav(frame, "Shared experiments")
    links = frame.locator("main a[href*='/app/experiments/']").evaluate_all("as => as.map(a => a.href)")
    links = [href for href in links if re.search(r"/app/experiments/\d+", href)]
    reaction = None
    for href in links:  # the first colleague's experiment he has not reacted to yet (his own offer no reactions)
        next(f for f in page.frames if "/app/" in f.url).goto(href)
        _ready(frame)
        candidate = frame.locator("section[aria-labelledby=react-h] button[aria-pressed=false]").first
        if candidate.count():
            reaction = candidate
            break
    assert reaction is not None, f"no colleague's experiment offered a reaction among {links}"
    label = reaction.inner_text()
    before = int(re.search(re.escape(label) + r": (\d+)", frame.locator("section[aria-labelledby=react-h]").inner_text()).group(1))
    reaction.click()
    _ready(frame)
    section = frame.locator("section[aria-labelledby=react-h]")
    expect(section.get_by_role("button", name=label)).to_have_attribute("aria-pressed", "true")
    expect(section).to_contain_text(f"{label}: {before + 1}")
    # Pressed, it looks pressed (not only to a screen reader), and pressing it again takes the reaction back.
    pressed = section.get_by_role("button", name=label)
    other = section.locator("form:has(input[name=kind]) button[aria-pressed=false]").first
    background = "b => getComputedStyle(b).backgroundColor"
    assert pressed.evaluate(background) != other.evaluate(background)
    pressed.click()
    _ready(frame)
    section = frame.locator("section[aria-labelledby=react-h]")
    expect(section.get_by_role("button", name=label)).to_have_attribute("aria-pressed", "false")
    expect(section).to_contain_text(f"{label}: {before}")
    expect(frame.locator("p.toast[role=status]")).to_have_text("Your reaction was taken back.")
    # "I reused this" is said once for good: before, it looks like a reaction not given (not filled as if pressed);
    # after, pressed at full strength (disabled, not a form still sending).
    reuse = section.get_by_role("button", name="I reused this")
    unpressed = section.locator("form:has(input[name=kind]) button[aria-pressed=false]").first
    if reuse.get_attribute("aria-pressed") == "false":
        assert reuse.evaluate(background) == unpressed.evaluate(background)
        reuse.click()
        _ready(frame)
        section = frame.locator("section[aria-labelledby=react-h]")
        reuse = section.get_by_role("button", name="I reused this")
    expect(reuse).to_have_attribute("aria-pressed", "true")
    unpressed = section.locator("form:has(input[name=kind]) button[aria-pressed=false]").first
    assert reuse.evaluate(background) != unpressed.evaluate(background)
    assert reuse.evaluate("b => getComputedStyle(b).opacity") == "1"
    section.screenshot(path=str(artifacts / "journey-learner-reactions.png"))

    # The help Olivia recorded: confirm it.
    _nav(frame, "Peer help")
    waiting = frame.locator("section[aria-labelledby=await-h]")
    expect(waiting).to_contain_text("Olivia Bennett")
    waiting.get_by_role("button", name="Yes, they helped me").first.click()
    _ready(frame)
    expect(frame.locator("section[aria-labelledby=await-h]")).to_have_count(0)
    page.screenshot(path=str(artifacts / "journey-learner-help-confirmed.png"), full_page=True)


def test_manager_gives_kudos_runs_a_challenge_and_follows_the_team(live_server, page, artifacts):
    assert live_server.test_cli_runner().invoke(args=["demo", "seed"]).exit_code == 0
    # Fatma's LMS speaks Turkish; she prefers English in Tinker and says so with the header's switch.
    frame = _ready(launch_from_dev_lms(page, live_server.base_url, "Fatma Korkmaz"))
    frame.locator('form.lang-switch button[value="en"]').click()
    expect(frame.locator('html[lang="en"]')).to_have_count(1)

    _nav(frame, "Recognise")
    kudos = frame.locator("form").filter(has=frame.get_by_role("heading", name="Give kudos"))
    kudos.get_by_label("To").select_option(index=1)
    kudos.get_by_label("Message").fill("Your prompt library saved the whole team an afternoon.")
    kudos.get_by_label("Points (optional)").fill("5")
    kudos.get_by_role("button", name="Send kudos").click()
    expect(frame.get_by_role("status")).to_contain_text("Kudos sent.")
    expect(frame.locator("section[aria-labelledby=recent-h]")).to_contain_text("Your prompt library saved")

    _nav(frame, "Challenges")
    frame.locator("main").get_by_role("link", name=re.compile("New challenge")).click()
    expect(frame.get_by_role("heading", name="New challenge", level=1)).to_be_visible()
    frame.get_by_label("Title").fill("Five experiments on feedback this week")
    frame.get_by_label(re.compile("Count: how many experiments")).check()
    frame.get_by_label(re.compile("Goal \\(a number")).fill("5")
    now = datetime.now()
    frame.get_by_label("Starts").fill((now - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"))
    frame.get_by_label("Ends (not included)").fill((now + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M"))
    frame.get_by_role("button", name="Create challenge").click()
    expect(frame.locator("main h1").first).to_contain_text("Five experiments on feedback this week")
    expect(frame.get_by_role("progressbar").first).to_be_visible()

    _nav(frame, "Teams")
    # The pilot team of three is below the organisation's minimum group size: its page names why it shows nothing.
    frame.locator("main a[href*='/app/teams/']").filter(has_text="Data Protection Pilot").first.click()
    _ready(frame)
    expect(frame.get_by_test_id("figures-withheld")).to_contain_text("minimum group size")
    expect(frame.locator("main svg[role=img]")).to_have_count(0)
    _nav(frame, "Teams")
    frame.locator("main a[href*='/app/teams/']").filter(has_text="People & Culture").first.click()
    _ready(frame)
    expect(frame.locator("main svg[role=img]").first).to_be_visible()  # participation over time...
    frame.locator("main details.chart-table summary").first.click()  # ...and the same numbers as a table
    expect(frame.get_by_test_id("participation-table")).to_be_visible()

    _nav(frame, "Insights")
    expect(frame.locator("main h1").first).to_be_visible()
    expect(frame.locator("main")).to_contain_text(re.compile("Adoption|Hours saved"))
    page.screenshot(path=str(artifacts / "journey-manager-insights.png"), full_page=True)


def test_admin_builds_a_rule_in_the_editor_and_sees_it_apply(live_server, page, artifacts):
    assert live_server.test_cli_runner().invoke(args=["demo", "seed"]).exit_code == 0
    frame = _ready(launch_from_dev_lms(page, live_server.base_url, "Alex Morgan"))
    _nav(frame, "Admin")
    frame.locator("main").get_by_role("link", name=re.compile("New rule")).first.click()
    expect(frame.get_by_role("heading", name="New rule", level=1)).to_be_visible()
    frame.get_by_label("What earns it").select_option(label="Different AI tools tried")
    frame.get_by_role("button", name="Choose").click()  # the page reloads for it (on the button, not on change)
    expect(frame.locator('form.form input[name="condition"]')).to_have_value("distinct_tools")
    frame.get_by_label("Name", exact=True).fill("Tool explorer")
    frame.get_by_label("Description").fill("Tried two different AI tools.")
    count = frame.locator("fieldset").filter(has_text="Condition details").locator("input[type=number]").first
    count.fill("2")
    frame.get_by_label("Points", exact=True).fill("15")
    frame.get_by_label("Active").check()
    frame.get_by_role("button", name="Preview who qualifies").click()
    preview = frame.get_by_test_id("preview")
    expect(preview).to_contain_text(re.compile(r"Preview: \d+ (person qualifies|people qualify) now"))
    qualify = int(re.search(r"Preview: (\d+)", preview.inner_text()).group(1))
    assert qualify > 0  # the demo's learners have tried several tools
    frame.get_by_role("button", name="Save and award to those who qualify").click()
    expect(frame.get_by_role("status")).to_contain_text(f"awarded now to {qualify} people who already qualify")
    expect(frame.locator("main")).to_contain_text("Tool explorer")
    page.screenshot(path=str(artifacts / "journey-admin-rule-applied.png"), full_page=True)
