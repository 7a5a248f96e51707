"""Insights in the LMS frame, in a real browser: a manager answers "how many hours did my team save this
quarter, in which tasks, and is it still the same two people?" from the demo data, and a team of three
shows no aggregate."""
import re

from playwright.sync_api import expect

from tests.e2e.test_learner_journey import launch_from_dev_lms


def test_manager_reads_team_insights_in_the_frame(live_server, page, artifacts):
    assert live_server.test_cli_runner().invoke(args=["demo", "seed"]).exit_code == 0
    frame = launch_from_dev_lms(page, live_server.base_url, "Fatma Korkmaz", language="en")
    frame.get_by_role("link", name="Insights", exact=True).click()
    expect(frame.get_by_role("heading", name=re.compile("^Insights: "))).to_be_visible()
    frame.get_by_label("Team", exact=True).select_option(label="Sales Enablement")
    frame.get_by_role("button", name="Apply").click()
    expect(frame.get_by_role("heading", name="Insights: Sales Enablement")).to_be_visible()
    expect(frame.get_by_test_id("hours")).to_have_text(re.compile(r"^\d+\.\d h$"))
    expect(frame.get_by_test_id("adoption")).to_have_text(re.compile(r"%$"))
    tasks = frame.get_by_role("table", name=re.compile("by task category"))
    expect(tasks.locator("tbody tr").first.locator("td").first).to_have_text(re.compile(r"^\d+\.\d$"))
    expect(frame.get_by_role("img", name=re.compile("Hours saved by task category"))).to_be_visible()
    page.screenshot(path=str(artifacts / "insights-team-in-frame.png"), full_page=True)

    frame.get_by_label("Team", exact=True).select_option(label="Data Protection Pilot")
    frame.get_by_role("button", name="Apply").click()
    expect(frame.get_by_role("heading", name="Insights: Data Protection Pilot")).to_be_visible()
    expect(frame.get_by_test_id("hours")).to_have_count(0)
    expect(frame.locator("main")).to_contain_text("Not enough people to report without identifying them")
