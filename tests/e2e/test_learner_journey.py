"""The foundation journey in a real browser: launch from the development LMS into its iframe, log a
failed experiment with a reflection, see points, the badge and the leaderboard."""
import re

from playwright.sync_api import expect

from plugin.devlms.roster import PEOPLE


def launch_from_dev_lms(page, base: str, person: str, course: str = "dev-course-101", language: str | None = None):
    """Launch as a person of the dev LMS; with `language`, Tinker is then shown in it (the header's switch,
    used as a person whose LMS speaks another language would)."""
    page.goto(f"{base}/dev/lms/?course={course}")
    sub = next(p.sub for p in PEOPLE if p.name == person)
    page.get_by_label("Person").select_option(value=sub)
    page.get_by_test_id("launch").click()
    frame = page.frame_locator("iframe[name=tool-frame]")
    if language:
        expect(frame.locator("main h1").first).to_be_visible()
        switch = frame.locator(f'form.lang-switch button[value="{language}"]')
        if switch.count():
            switch.click()
        expect(frame.locator(f'html[lang="{language}"]')).to_have_count(1)
    return frame


def until_fitted(page) -> None:
    """Until the LMS's frame has the height of the page it shows (at least the 400 px it starts at), within 24 px:
    the tool posts its height after loading and again as it resizes, and the LMS applies it when it gets there.
    (The dev LMS and the tool share an origin, so the frame's document is readable from the page.)"""
    page.wait_for_function("""() => {
        const f = document.querySelector('iframe[name=tool-frame]');
        if (!f || !f.contentDocument || !f.contentDocument.body) return false;
        const c = Math.ceil(f.contentDocument.body.getBoundingClientRect().height);
        return Math.abs(f.getBoundingClientRect().height - Math.max(400, c)) <= 24;
    }""")


def log_experiment_in(frame, title: str, *, tried: str, outcome: str, learned: str, minutes: str | None = None):
    """Open the form from the dashboard, fill it in as a person would (Claude, Assessment design, no confidential
    data, shared with the course) and save it."""
    frame.get_by_role("link", name="Log an AI experiment").click()
    frame.get_by_label("Title").fill(title)
    frame.get_by_label("AI tool").select_option(label="Claude")
    frame.get_by_label("Task category").select_option(label="Assessment design")
    frame.get_by_label("What I tried").fill(tried)
    frame.get_by_label(outcome, exact=True).check()
    frame.get_by_role("textbox", name=re.compile("What I learned")).fill(learned)
    if minutes is not None:
        frame.get_by_label("Estimated minutes saved").fill(minutes)
    frame.get_by_role("group", name="confidential").get_by_label("No", exact=True).check()
    frame.get_by_label("My course").check()
    frame.get_by_role("button", name="Save experiment").click()


def test_learner_logs_a_failed_experiment_and_is_recognised(live_server, page, artifacts):
    assert live_server.test_cli_runner().invoke(args=["demo", "seed"]).exit_code == 0
    base = live_server.base_url
    frame = launch_from_dev_lms(page, base, "Naz Kurt", course="dev-course-202")
    expect(frame.get_by_role("heading", name="Panom")).to_be_visible()  # her LMS speaks Turkish to Tinker
    frame.get_by_role("button", name="English").click()  # she picks English in the header
    expect(frame.get_by_role("heading", name="My dashboard")).to_be_visible()
    points_before = int(frame.get_by_test_id("points-total").inner_text())

    log_experiment_in(frame, "Asked an AI to mark essays", tried="Gave it the rubric and three anonymised essays.",
                      outcome="It did not work", learned="It was too generous; rubrics need worked examples.",
                      minutes="0")

    status = frame.get_by_role("status")
    expect(status).to_contain_text("points for trying.")
    earned = int(re.search(r"\+(\d+) points for trying", status.inner_text()).group(1))
    assert earned >= 10  # the same 10 as a success, plus Fail Forward the first time a failure is shared
    page.screenshot(path=str(artifacts / "experiment-saved.png"), full_page=True)

    frame.get_by_role("link", name="Back to my dashboard").click()
    expect(frame.get_by_test_id("points-total")).to_have_text(str(points_before + earned))
    expect(frame.get_by_role("table", name=re.compile("Top learners"))).to_contain_text("Naz Kurt")
    page.screenshot(path=str(artifacts / "learner-dashboard.png"), full_page=True)
    # The whole dashboard as the frame renders it, for the record (the frame itself scrolls).
    tool_url = next(f.url for f in page.frames if "/app/" in f.url)
    whole = page.context.new_page()
    whole.set_viewport_size({"width": 900, "height": 900})
    whole.goto(tool_url)
    expect(whole.get_by_test_id("points-total")).to_have_text(str(points_before + earned))
    whole.screenshot(path=str(artifacts / "learner-dashboard-full.png"), full_page=True)


def test_manager_sees_course_overview_in_the_frame(live_server, page, artifacts):
    live_server.test_cli_runner().invoke(args=["demo", "seed"])
    frame = launch_from_dev_lms(page, live_server.base_url, "Fatma Korkmaz")  # her LMS speaks Turkish
    expect(frame.get_by_role("heading", name="Kursa genel bakış")).to_be_visible()
    expect(frame.get_by_role("heading", name="Katılım")).to_be_visible()
    page.screenshot(path=str(artifacts / "manager-overview.png"), full_page=True)


def test_observer_reads_without_a_log_button(live_server, page, artifacts):
    live_server.test_cli_runner().invoke(args=["demo", "seed"])
    frame = launch_from_dev_lms(page, live_server.base_url, "Pat Observer")
    expect(frame.get_by_text("Observer", exact=True)).to_be_visible()
    expect(frame.get_by_role("link", name="Log an AI experiment")).to_have_count(0)


def test_the_tool_tells_the_lms_its_height_with_lti_frame_resize(live_server, page):
    live_server.test_cli_runner().invoke(args=["demo", "seed"])
    frame = launch_from_dev_lms(page, live_server.base_url, "James Carter")
    expect(frame.get_by_role("heading", name="My dashboard")).to_be_visible()
    iframe = page.locator("iframe[name=tool-frame]")
    expect(iframe).to_have_attribute("data-resized", re.compile(r"^[1-9]\d+$"))
    height = int(iframe.get_attribute("data-resized"))
    assert height > 600  # the dashboard is taller than the frame's default, so the LMS grows the frame


def test_launch_succeeds_when_the_state_cookie_is_dropped_using_platform_storage(live_server, page):
    """The browser keeps no cookie from the tool's login (as with third-party cookies blocked): the state
    goes through the LMS's platform storage instead, and the launch still completes."""
    live_server.test_cli_runner().invoke(args=["demo", "seed"])

    def drop_cookies(route):  # between the tool's login and the launch, as a blocking browser would
        page.context.clear_cookies()
        route.continue_()

    page.route("**/dev/lms/auth*", drop_cookies)
    frame = launch_from_dev_lms(page, live_server.base_url, "Olivia Bennett")
    expect(frame.get_by_role("heading", name="My dashboard")).to_be_visible()
    assert not any(c["name"].startswith("tinker_lti_state") for c in page.context.cookies())
    served = int(page.locator("iframe[name=tool-frame]").get_attribute("data-storage-served"))
    assert served >= 3  # state and nonce put at login, state read back at launch


def test_a_long_unbroken_reflection_wraps_inside_its_card_in_the_shared_feed(live_server, page):
    """A pasted URL or a word without spaces in "What I learned" ran past its card's edge in the feed."""
    assert live_server.test_cli_runner().invoke(args=["demo", "seed"]).exit_code == 0
    frame = launch_from_dev_lms(page, live_server.base_url, "Naz Kurt", course="dev-course-202", language="en")
    learned = "https://intranet.example.org/wiki?page=" + "Summaries" * 16  # no space or hyphen to break at
    log_experiment_in(frame, "Summaries of long threads", tried="Pasted a long thread and asked for the decisions taken.",
                      outcome="It worked", learned=learned)
    expect(frame.get_by_role("status")).to_be_visible()

    frame.get_by_role("link", name="Shared experiments").click()
    mine = frame.locator("article.experiment", has_text="Summaries of long threads")
    expect(mine).to_have_count(1)
    overflow = mine.evaluate("""card => [...card.querySelectorAll('p')].map(p => p.scrollWidth - p.clientWidth)""")
    assert max(overflow) <= 0, overflow
    box, text = mine.bounding_box(), mine.locator("p.learned").bounding_box()
    assert text["x"] + text["width"] <= box["x"] + box["width"]
