"""Leaderboards in a real browser inside the development LMS's iframe: a learner hides their name and a
colleague never sees it; team-only mode shows no individuals; the board's controls work from the keyboard."""
import re

from playwright.sync_api import expect
from sqlalchemy import select

from plugin.core.clock import utcnow
from plugin.devlms.roster import PEOPLE
from plugin.extensions import db
from plugin.ledger.service import Posting, post_entry
from plugin.tenancy.models import Course, User
from tests.e2e.test_learner_journey import launch_from_dev_lms

COURSE = "dev-course-101"
LEARNER_NAMES = [p.name for p in PEOPLE if p.sub.startswith("dev-learner-")]


def seeded(live_server) -> None:
    assert live_server.test_cli_runner().invoke(args=["demo", "seed"]).exit_code == 0


def give_points(live_server, name: str, points: int, course: str = COURSE) -> None:
    """Points through the ledger's writer, now, so the person leads this week's board."""
    sub = next(p.sub for p in PEOPLE if p.name == name)
    with live_server.app_context():
        course = db.session.scalar(select(Course).where(Course.context_id == course))
        user = db.session.scalar(select(User).where(User.sub == sub))
        post_entry(Posting(organisation_id=course.organisation_id, course_id=course.id, user_id=user.id, amount=points,
                           dimension="sharing", source_type="manual", source_id=None, key=f"e2e-board:{sub}"), utcnow())
        db.session.commit()


def tool_frame(page):
    return next(f for f in page.frames if "/app/" in f.url)


def test_a_learner_who_hides_their_name_is_anonymous_to_a_colleague(live_server, page, artifacts):
    seeded(live_server)
    give_points(live_server, "Ayşe Yılmaz", 500)

    frame = launch_from_dev_lms(page, live_server.base_url, "Ayşe Yılmaz", course=COURSE, language="en")
    frame.get_by_role("link", name="Leaderboard", exact=True).click()
    expect(frame.get_by_role("heading", name="Leaderboard", exact=True)).to_be_visible()
    frame.get_by_label("Hide my name on leaderboards").check()
    frame.get_by_role("button", name="Save privacy choice").click()
    expect(frame.get_by_role("status")).to_contain_text("Your name is now hidden")
    mine = frame.locator("table.board tr[aria-current=true]")
    expect(mine).to_contain_text("Ayşe Yılmaz (you)")  # she still sees herself, at her rank
    expect(mine.locator("td").first).to_have_text("1")
    page.screenshot(path=str(artifacts / "board-opted-out-own-view.png"), full_page=True)

    frame = launch_from_dev_lms(page, live_server.base_url, "James Carter", course=COURSE, language="en")
    frame.get_by_role("link", name="Leaderboard", exact=True).click()
    board = frame.get_by_role("table", name=re.compile("Top 20"))
    expect(board).to_be_visible()
    expect(board.locator("tbody tr").first).to_contain_text("Anonymous participant")
    expect(frame.locator("main")).not_to_contain_text("Ayşe Yılmaz")
    frame.get_by_label("Who", exact=True).select_option(label="Whole organisation")
    frame.get_by_role("button", name="Show board").click()
    expect(frame.get_by_role("heading", name=re.compile("Whole organisation"))).to_be_visible()
    expect(frame.locator("main")).not_to_contain_text("Ayşe Yılmaz")
    page.screenshot(path=str(artifacts / "board-colleague-view.png"), full_page=True)


def test_team_only_mode_shows_learners_no_individuals(live_server, page, artifacts):
    seeded(live_server)
    frame = launch_from_dev_lms(page, live_server.base_url, "Fatma Korkmaz", course=COURSE)  # her LMS speaks Turkish
    frame.get_by_role("link", name="Lider tablosu ayarları").click()
    frame.get_by_label("Yalnızca ekip tabloları").check()
    frame.get_by_role("button", name="Kaydedin").click()
    expect(frame.get_by_role("status")).to_have_text("Lider tablosu ayarları kaydedildi.")
    page.screenshot(path=str(artifacts / "board-settings.png"), full_page=True)

    frame = launch_from_dev_lms(page, live_server.base_url, "James Carter", course=COURSE, language="en")
    frame.get_by_role("link", name="Leaderboard", exact=True).click()
    expect(frame.get_by_role("heading", name=re.compile(r"^Teams ·"))).to_be_visible()
    teams = frame.get_by_role("table", name=re.compile("Teams ranked by"))
    expect(teams).to_contain_text("People & Culture")
    expect(teams).to_contain_text("Sales Enablement")
    frame.get_by_label("When").select_option(label="All time")
    frame.get_by_label("Rank teams by").select_option(label="Share who experimented")
    frame.get_by_role("button", name="Show board").click()
    expect(frame.get_by_role("heading", name="Teams · All time · Share who experimented")).to_be_visible()
    expect(teams.locator("tbody tr").first).to_contain_text(re.compile(r"\d+% \(\d+ of \d+\)"))
    expect(frame.get_by_label("Who", exact=True)).to_have_count(0)
    main = frame.locator("main").inner_text()
    assert [name for name in LEARNER_NAMES if name in main] == []
    page.screenshot(path=str(artifacts / "board-team-only.png"), full_page=True)

    frame.get_by_role("link", name="My dashboard").click()
    expect(frame.get_by_role("heading", name="Team leaderboard")).to_be_visible()
    # The board card names nobody (James's own recognition history may name who confirmed his help).
    board_card = frame.locator("section", has=frame.get_by_role("heading", name="Team leaderboard")).inner_text()
    assert "People & Culture" in board_card or "Sales Enablement" in board_card
    assert [name for name in LEARNER_NAMES if name in board_card] == []


def test_the_board_controls_work_from_the_keyboard(live_server, page, artifacts):
    seeded(live_server)
    frame = launch_from_dev_lms(page, live_server.base_url, "James Carter", course=COURSE, language="en")
    frame.get_by_role("link", name="Leaderboard", exact=True).click()
    expect(frame.get_by_role("heading", name=re.compile(r"^This course · Week"))).to_be_visible()

    frame.locator(".skip-link").focus()  # the first stop of the page, as a keyboard user arrives
    tool = tool_frame(page)
    for _ in range(30):
        page.keyboard.press("Tab")
        if tool.evaluate("document.activeElement.id") == "b-period":
            break
    assert tool.evaluate("document.activeElement.id") == "b-period"
    page.keyboard.type("All")  # type-ahead picks "All time" in the focused select
    assert tool.evaluate("document.activeElement.value") == "all"
    page.keyboard.press("Tab")
    assert tool.evaluate("document.activeElement.id") == "b-dimension"
    page.keyboard.press("Tab")
    assert tool.evaluate("document.activeElement.textContent") == "Show board"
    page.keyboard.press("Enter")
    expect(frame.get_by_role("heading", name="This course · All time · Total")).to_be_visible()
    page.screenshot(path=str(artifacts / "board-all-time-keyboard.png"), full_page=True)


def test_a_learner_below_the_top_sees_a_gap_and_their_neighbours_in_a_narrow_frame(live_server, page, artifacts):
    seeded(live_server)
    viewer = "Gizem Yıldız"  # in both demo courses
    others = [p for p in PEOPLE if p.sub.startswith("dev-learner-") and p.name != viewer]
    for i, person in enumerate(others[:24]):  # 24 colleagues of the organisation well ahead of the viewer
        give_points(live_server, person.name, 1000 - 30 * i, course=next(iter(person.courses)))
    give_points(live_server, viewer, 5)
    frame = launch_from_dev_lms(page, live_server.base_url, viewer, course=COURSE, language="en")
    frame.get_by_role("link", name="Leaderboard", exact=True).click()
    expect(frame.get_by_role("heading", name=re.compile(r"^This course · Week"))).to_be_visible()
    assert "?lt=" in tool_frame(page).url

    narrow = page.context.new_page()  # the tool alone at a phone's width, as a narrow LMS frame shows it
    narrow.set_viewport_size({"width": 400, "height": 900})
    narrow.goto(tool_frame(page).url + "&scope=organisation")
    around = narrow.get_by_test_id("around-you")
    expect(around).to_contain_text("Around you")
    expect(around.locator("tr[aria-current=true]")).to_contain_text(f"{viewer} (you)")
    rank = int(around.locator("tr[aria-current=true] td").first.inner_text())
    assert rank > 20
    expect(narrow.get_by_test_id("my-rank")).to_contain_text(f"Your rank: {rank} of")
    assert narrow.evaluate("document.documentElement.scrollWidth") <= 400  # no sideways scrolling
    narrow.screenshot(path=str(artifacts / "board-around-you-narrow.png"), full_page=True)
