"""How the tool feels inside the LMS frame: the frame takes the page's height (lti.frameResize) as pages grow
and shrink, pages do not jump about while loading (cumulative layout shift), and they stay light for a slow
phone (what a page needs to download, and no script that blocks the first paint)."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.test_learner_journey import launch_from_dev_lms, until_fitted

pytestmark = pytest.mark.e2e

# Each shift without recent input, with what moved (node, rect before, rect after), so a failure says what jumped.
LAYOUT_SHIFTS_JS = """() => new Promise(resolve => {
  const shifts = [];
  const name = n => !n ? '?' : n.nodeType !== 1 ? n.nodeName : n.nodeName.toLowerCase() + (n.id ? '#' + n.id : '') +
    (n.className && typeof n.className === 'string' ? '.' + n.className.trim().split(/\\s+/).join('.') : '');
  const rect = r => [r.x, r.y, r.width, r.height].map(Math.round).join(',');
  new PerformanceObserver(list => {
    for (const e of list.getEntries()) {
      if (!e.hadRecentInput) shifts.push({value: e.value, at: Math.round(e.startTime),
        moved: (e.sources || []).map(s => `${name(s.node)} ${rect(s.previousRect)} -> ${rect(s.currentRect)}`)});
    }
  }).observe({type: 'layout-shift', buffered: true});
  setTimeout(() => resolve(shifts), 300);
})"""
PAGES = ["/app/experiments/new", "/app/experiments", "/app/leaderboard", "/app/badges", "/app/challenges/",
         "/app/vision/"]
BUDGET_BYTES = 150_000  # HTML + CSS + JS of one page, uncompressed; today's pages need a fraction of it


def tool_frame(page):
    return next(f for f in page.frames if "/app/" in f.url)


def frame_height(page) -> int:
    return page.locator("iframe[name=tool-frame]").evaluate("f => Math.round(f.getBoundingClientRect().height)")


def content_height(frame) -> int:
    return frame.evaluate("() => Math.ceil(document.body.getBoundingClientRect().height)")


def test_the_frame_fits_the_page_as_it_grows_and_shrinks(live_server, page):
    assert live_server.test_cli_runner().invoke(args=["demo", "seed"]).exit_code == 0
    expect(launch_from_dev_lms(page, live_server.base_url, "James Carter").locator("main h1").first).to_be_visible()
    expect(page.locator("iframe[name=tool-frame][data-resized]")).to_have_count(1)
    tall = tool_frame(page)
    expect(tall.locator("main h1").first).to_be_visible()
    until_fitted(page)
    assert abs(frame_height(page) - content_height(tall)) <= 24, (frame_height(page), content_height(tall))
    assert tall.evaluate("() => document.documentElement.scrollHeight <= window.innerHeight + 1")  # no inner scrollbar
    grown = frame_height(page)
    assert grown > 900  # the dashboard is longer than the LMS's first guess

    tall.goto(tall.url.replace("/app/?", "/app/vision/?"))  # a shorter page: the frame must shrink again
    short = tool_frame(page)
    expect(short.locator('header nav a[aria-current="page"]')).to_have_text("AI vision")  # the new page, not the old
    until_fitted(page)
    if content_height(short) < grown - 50:
        assert frame_height(page) < grown, "the frame kept the longer page's height"
    assert abs(frame_height(page) - max(400, content_height(short))) <= 24


def test_pages_do_not_jump_while_loading_and_stay_light(live_server, page):
    assert live_server.test_cli_runner().invoke(args=["demo", "seed"]).exit_code == 0
    expect(launch_from_dev_lms(page, live_server.base_url, "James Carter").locator("main h1").first).to_be_visible()
    frame = tool_frame(page)
    expect(frame.locator("main h1").first).to_be_visible()
    token = frame.url.split("lt=")[1].split("&")[0]
    # What each page needs, as on a first visit: a file the pages before put in the cache (versioned static files are
    # kept for a year) still comes with a response whose body is counted.
    sizes: dict[str, int] = {}
    page.on("response", lambda r: sizes.__setitem__(r.url, len(r.body())) if r.ok and "/dev/lms" not in r.url else None)
    for path in PAGES:
        sizes.clear()
        frame.goto(f"{live_server.base_url}{path}?lt={token}")
        expect(frame.locator("main h1").first).to_be_visible()
        shifts = frame.evaluate(LAYOUT_SHIFTS_JS)
        shift = sum(s["value"] for s in shifts)
        assert shift < 0.1, f"{path}: cumulative layout shift {shift:.3f} (good is below 0.1): {shifts}"
        blocking = frame.evaluate("""() => Array.from(document.querySelectorAll('script[src]'))
            .filter(s => !s.defer && !s.async && s.type !== 'module').map(s => s.src)""")
        assert not blocking, f"{path}: scripts that block the first paint {blocking}"
        weighed = any("/static/css/tinker.css" in url for url in sizes)
        assert weighed, f"{path}: its stylesheet was not weighed {sizes}"
        total = sum(sizes.values())
        assert total < BUDGET_BYTES, f"{path}: {total} bytes to download {sorted(sizes.items(), key=lambda i: -i[1])[:5]}"


def test_a_form_saved_low_on_a_long_page_shows_its_confirmation_and_takes_the_focus(live_server, page):
    """The frame is as tall as the page, so the LMS page scrolls, not the frame: after "Save limits" at the foot of
    the admin's scoring page the reloaded page kept the LMS scrolled down to the form, the "Saved." at the top of
    the frame out of sight (nothing seemed to happen) and the focus on the page's start."""
    assert live_server.test_cli_runner().invoke(args=["demo", "seed"]).exit_code == 0
    frame = launch_from_dev_lms(page, live_server.base_url, "Alex Morgan")
    frame.get_by_role("link", name="Admin", exact=True).click()
    frame.get_by_role("link", name="Dimensions, levels and limits").click()
    expect(frame.get_by_role("button", name="Save limits")).to_be_visible()
    frame.get_by_role("button", name="Save limits").click()  # Playwright scrolls the LMS page down to it, as a person does
    saved = frame.get_by_role("status").filter(has_text="Saved.")
    expect(saved).to_be_visible()
    expect(saved).to_be_in_viewport()
    expect(saved).to_be_focused()


BESIDE_ITS_WORDS_JS = """() => Array.from(document.querySelectorAll('main input[type=checkbox], main input[type=radio]'))
  .filter(i => i.offsetParent !== null).map(i => {
    const label = i.labels && i.labels[0];
    if (!label) return [i.id || i.name, 'no label'];
    const walker = document.createTreeWalker(label, NodeFilter.SHOW_TEXT,
      {acceptNode: n => n.textContent.trim() ? NodeFilter.FILTER_ACCEPT : NodeFilter.FILTER_SKIP});
    const words = walker.nextNode();
    if (!words) return [i.id || i.name, 'no words'];
    const range = document.createRange();
    range.selectNodeContents(words);
    const line = range.getClientRects()[0], box = i.getBoundingClientRect(), middle = (box.top + box.bottom) / 2;
    return [i.id || i.name, middle >= line.top - 2 && middle <= line.bottom + 2 ? 'beside' : 'apart'];
  })"""
ADMIN_PAGES = ["/app/admin/webhooks", "/app/admin/api-tokens", "/app/admin/xapi", "/app/admin/scoring",
               "/app/admin/lists", "/app/admin/privacy", "/app/experiments/new", "/app/manage/grades"]


def test_every_checkbox_and_radio_sits_beside_the_words_that_name_it(live_server, page):
    """A box on a line of its own, its words on the next, reads as two things to a sighted user (the webhook
    events and API key scopes did); each box sits on the first line of its label's words."""
    assert live_server.test_cli_runner().invoke(args=["demo", "seed"]).exit_code == 0
    expect(launch_from_dev_lms(page, live_server.base_url, "Alex Morgan").locator("main h1").first).to_be_visible()
    frame = tool_frame(page)
    token = frame.url.split("lt=")[1].split("&")[0]
    seen = 0
    for path in ADMIN_PAGES:
        frame.goto(f"{live_server.base_url}{path}?lt={token}")
        expect(frame.locator("main h1").first).to_be_visible()
        boxes = frame.evaluate(BESIDE_ITS_WORDS_JS)
        seen += len(boxes)
        assert all(where == "beside" for _name, where in boxes), f"{path}: {boxes}"
    assert seen >= 10  # the pages' boxes were there to be measured


GLUED_JS = """() => { const blocks = Array.from(document.querySelector('main').children)
    .filter(e => e.offsetParent !== null && e.matches('.card, .table-wrap, section, form, details'));
  const glued = [];
  for (let i = 1; i < blocks.length; i++) {
    const above = blocks[i - 1].getBoundingClientRect(), below = blocks[i].getBoundingClientRect();
    if (below.top >= above.bottom - 1 && below.top - above.bottom < 6)
      glued.push([blocks[i - 1].className || blocks[i - 1].tagName, blocks[i].className || blocks[i].tagName,
                  Math.round(below.top - above.bottom)]); }
  return glued; }"""


def test_the_blocks_of_the_admin_pages_stand_apart(live_server, page):
    """On the webhooks page the endpoints table ran straight into the "Recent deliveries" card (no gap: the
    table's last rule and the card's edge one line), so the two read as one block; each block stands apart."""
    assert live_server.test_cli_runner().invoke(args=["demo", "seed"]).exit_code == 0
    expect(launch_from_dev_lms(page, live_server.base_url, "Alex Morgan").locator("main h1").first).to_be_visible()
    frame = tool_frame(page)
    token = frame.url.split("lt=")[1].split("&")[0]
    for path in ADMIN_PAGES + ["/app/admin/badges", "/app/admin/audit", "/app/admin/rules/1"]:
        frame.goto(f"{live_server.base_url}{path}?lt={token}")
        expect(frame.locator("main h1").first).to_be_visible()
        assert frame.evaluate(GLUED_JS) == [], path


def test_adding_to_a_list_says_it_was_saved_and_takes_the_focus(live_server, page):
    """Adding "Mistral" to the AI tools (or renaming or turning off an item) reloaded the Lists page with no word
    that anything happened and the focus back at the page's start: every other admin form says "Saved."."""
    assert live_server.test_cli_runner().invoke(args=["demo", "seed"]).exit_code == 0
    frame = launch_from_dev_lms(page, live_server.base_url, "Alex Morgan")
    frame.get_by_role("link", name="Admin", exact=True).click()
    frame.get_by_role("link", name="Lists", exact=True).click()
    frame.get_by_label("Add an AI tool").fill("Mistral")
    frame.get_by_label("Add an AI tool").press("Enter")
    saved = frame.get_by_role("status").filter(has_text="Saved.")
    expect(saved).to_be_focused()
    expect(saved).to_be_in_viewport()
    frame.get_by_role("button", name="Turn off Mistral").click()
    expect(frame.get_by_role("status").filter(has_text="Saved.")).to_be_focused()
    expect(frame.get_by_role("button", name="Turn on Mistral")).to_be_visible()


def test_a_token_shown_once_takes_the_focus(live_server, page):
    """Issuing an API token reloaded the page with the token (shown this once only) at its top but the focus at
    the page's start, and the status region was already there when the page loaded, so nothing announced it: a
    screen-reader user had to find the one chance to copy it."""
    assert live_server.test_cli_runner().invoke(args=["demo", "seed"]).exit_code == 0
    frame = launch_from_dev_lms(page, live_server.base_url, "Alex Morgan")
    frame.get_by_role("link", name="Admin", exact=True).click()
    frame.get_by_role("link", name="API tokens", exact=True).click()
    frame.get_by_label("Name (who uses it)").fill("Power BI")
    frame.get_by_label("insights:read").check()
    frame.get_by_role("button", name="Issue token").click()
    shown = frame.get_by_role("status").filter(has_text="Copy the new token now")
    expect(shown).to_be_focused()
    expect(shown).to_be_in_viewport()
