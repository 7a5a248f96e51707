"""Accessibility in a real browser, for each role, on every page its navigation reaches.

The pages are found by following the links themselves (every link in a <nav>, and one page of each kind
linked from the content, e.g. one experiment, one challenge, one team), so a page added to a menu is
checked without touching this file. On each page axe-core (bundled in the axe-playwright-python wheel:
nothing is fetched at run time) runs the WCAG 2.0/2.1 A and AA rules and its best practices; any serious or
critical violation fails the test with the page, rule, element and advice (all of them, of any impact, are
written to test-artifacts/a11y/axe-ROLE.json, beside a 360 px screenshot of every page).

Layout is checked the way a person meets it:
- a 360 px wide phone (CSS pixels, as the LMS app or a narrow browser gives the tool);
- 200% browser zoom. Zooming a 1280 x 900 window to 200% leaves a layout viewport of 640 x 450 CSS pixels
  with two device pixels per CSS pixel: media queries, rem sizes and wrapping behave exactly as when the
  person presses Ctrl + twice. So a 640 x 450 viewport at device_scale_factor 2 is that zoom, without the
  guesswork of CSS `zoom` (which changes how widths are computed) or scaling fonts alone.
In both, the page must not scroll sideways (WCAG 1.4.10 Reflow): wide tables scroll inside their own
focusable region instead.
"""
from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from tests.e2e.test_learner_journey import launch_from_dev_lms

pytestmark = pytest.mark.e2e

COURSE = "dev-course-101"
ROLES = {"learner": "James Carter", "manager": "Fatma Korkmaz", "admin": "Alex Morgan"}
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]  # best practices too: none may be serious
AXE_OPTIONS = {"runOnly": {"type": "tag", "values": AXE_TAGS}, "resultTypes": ["violations"]}
BLOCKING = {"serious", "critical"}
# Not pages: files, feeds and machine documents the tool links to (they open or download, nobody reads them here).
NOT_A_PAGE = re.compile(r"(\.(csv|json|jwt|png|svg|xml)$)|(/dataset$)|(^/api/v1/(?!docs$))|(^/(static|healthz|readyz))")
MAX_PAGES = 80  # per role; a guard against a crawl that never ends, far above today's count
_axe = Axe()


def tool_url(page) -> str:
    return next(f.url for f in page.frames if "/app/" in f.url)


def token_of(url: str) -> tuple[str, str]:
    """The launch token's query field and value (the tool's links carry it, as third-party cookies are blocked)."""
    for name, value in parse_qsl(urlsplit(url).query):
        if len(value) > 40:
            return name, value
    raise AssertionError(f"no launch token in {url}")


def kind_of(url: str, token_field: str) -> str:
    """What sort of page a URL is: ids become {id}, the token goes, other query values stay (tabs, filters)."""
    parts = urlsplit(url)
    path = re.sub(r"/(\d+|[0-9a-f]{16,})(?=/|$)", "/{id}", parts.path)
    query = sorted((k, re.sub(r"^\d+$", "{id}", v) if k.endswith("id") else v)
                   for k, v in parse_qsl(parts.query) if k != token_field)
    return path + ("?" + urlencode(query) if query else "")


@dataclass
class Crawl:
    origin: str
    token_field: str
    seen: set[str] = field(default_factory=set)
    pages: list[str] = field(default_factory=list)

    def add(self, url: str, from_nav: bool) -> None:
        parts = urlsplit(url)
        if f"{parts.scheme}://{parts.netloc}" != self.origin or NOT_A_PAGE.search(parts.path):
            return
        kind = kind_of(url, self.token_field)
        if not from_nav:  # one of each kind from the content: filters and sorting keep the same kind
            kind = kind.split("?")[0]
        if kind in self.seen or kind.split("?")[0] in self.seen and not from_nav:
            return
        self.seen.add(kind)
        self.pages.append(url.split("#")[0])


LINKS_JS = """() => Array.from(document.querySelectorAll('a[href]'))
    .filter(a => !a.hasAttribute('download'))
    .map(a => ({href: a.href, nav: !!a.closest('nav')}))"""


def crawl(page, start: str) -> list[tuple[str, object]]:
    """Visit every page reachable from the start page's links; yields (url, response) with the page loaded."""
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(start))
    walk = Crawl(origin, token_of(start)[0])
    walk.add(start, from_nav=True)
    index = 0
    while index < len(walk.pages):
        assert index < MAX_PAGES, f"more than {MAX_PAGES} kinds of page: {walk.pages}"
        url = walk.pages[index]
        index += 1
        response = page.goto(url)
        if response is None or not response.headers.get("content-type", "").startswith("text/html"):
            continue
        for link in page.evaluate(LINKS_JS):
            walk.add(link["href"], link["nav"])
        yield url, response


def axe_problems(page, everything: list | None = None) -> list[str]:
    """Serious and critical violations, one readable line per element; all of them are added to `everything`."""
    page.wait_for_load_state("networkidle")  # pages that draw with script (the API docs) have finished
    results = _axe.run(page, options=AXE_OPTIONS)
    problems = []
    if everything is not None:
        everything += [{"url": page.url.split("?")[0], "rule": v["id"], "impact": v["impact"], "count": len(v["nodes"])}
                       for v in results.response["violations"]]
    for violation in results.response["violations"]:
        if violation["impact"] not in BLOCKING:
            continue
        for node in violation["nodes"]:
            problems.append(f"  {violation['impact']} {violation['id']}: {' '.join(map(str, node['target']))}"
                            f" - {violation['help']}\n      {node.get('failureSummary', '').splitlines()[-1:]}")
    return problems


CHARTS_JS = """() => Array.from(document.querySelectorAll('main svg, main canvas'))
    .filter(c => !c.closest('[aria-hidden=true], button, a') && c.getBoundingClientRect().width >= 150)
    .map(c => ({name: (c.getAttribute('aria-label') || (c.querySelector(':scope > title') || {}).textContent || '').trim(),
                role: c.getAttribute('role'),
                table: !!(c.closest('section, .card, figure, main') || document).querySelector('table')}))"""


def chart_problems(page) -> list[str]:
    """A chart (a drawing of 150 px or more, not an icon in a control) is an image with a name, and its numbers are
    also in a table near it, its text alternative."""
    return [f"  chart {chart['name']!r}: needs role=img, a name and a table of its numbers"
            for chart in page.evaluate(CHARTS_JS)
            if chart["role"] != "img" or not chart["name"] or not chart["table"]]


def slug(url: str, token_field: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", kind_of(url, token_field).replace("{id}", "1")).strip("-") or "home"


def sideways_scroll(page) -> int:
    """How many CSS pixels the page scrolls sideways (0 when it reflows)."""
    return page.evaluate("() => document.scrollingElement.scrollWidth - document.scrollingElement.clientWidth")


def launched(browser, live_server, role: str, **context_args):
    """A browser context with the role launched from the development LMS; returns (context, page, tool URL)."""
    context = browser.new_context(**{"viewport": {"width": 1280, "height": 900}, "locale": "en-GB", **context_args})
    page = context.new_page()
    frame = launch_from_dev_lms(page, live_server.base_url, ROLES[role], course=COURSE)
    expect(frame.locator("main h1").first).to_be_visible()
    return context, page, tool_url(page)


def with_path(url: str, path: str) -> str:
    return urlsplit(url)._replace(path=path).geturl()


@pytest.mark.parametrize("role", list(ROLES))
def test_every_page_a_role_reaches_passes_axe(role, live_server, browser, artifacts):
    assert live_server.test_cli_runner().invoke(args=["demo", "seed"]).exit_code == 0
    context, page, start = launched(browser, live_server, role)
    try:
        field_name = token_of(start)[0]
        shots = Path(artifacts) / "a11y" / role
        shots.mkdir(parents=True, exist_ok=True)

        shutil.rmtree(shots)
        shots.mkdir()
        report, visited, everything, charts, wide = {}, [], [], [], {}

        def check(url: str) -> None:
            visited.append(kind_of(url, field_name))
            problems = axe_problems(page, everything) + chart_problems(page)
            charts.append(len(page.evaluate(CHARTS_JS)))
            if problems:
                report[kind_of(url, field_name)] = problems
            # Reflow on every page of every role: a 360 px phone, and 200% zoom of a 1280 x 900 window (640 x 450
            # CSS px; the pixel density does not change layout, so the same context serves).
            for width, height in ((360, 800), (640, 450)):
                page.set_viewport_size({"width": width, "height": height})
                if sideways_scroll(page) > 0:
                    wide[f"{kind_of(url, field_name)} at {width}px"] = sideways_scroll(page)
            page.set_viewport_size({"width": 360, "height": 800})
            page.screenshot(path=str(shots / f"{slug(url, field_name)}.png"), full_page=True)
            page.set_viewport_size({"width": 1280, "height": 900})

        for url, response in crawl(page, start):
            assert response.status < 400, f"{url} answered {response.status}"
            check(url)
        # Error pages are reached by mistake, not by links: a page this role may not open, and one that is not there.
        forbidden = "/app/admin/rules/" if role != "admin" else None
        for path, status in ((forbidden, 403), ("/app/no-such-page", 404)):
            if path:
                response = page.goto(with_path(start, path))
                assert response.status == status
                check(page.url)

        (Path(artifacts) / "a11y" / f"axe-{role}.json").write_text(json.dumps(everything, indent=1))
        print(f"{role}: {len(visited)} pages, {sum(charts)} charts\n  " + "\n  ".join(visited))
        assert len(visited) >= 15, visited
        assert sum(charts) > 0  # team (and for managers insights) charts were among the pages checked  # the crawl found the menus (a broken launch would find one page)
        assert not report, f"serious or critical axe violations for the {role}:\n" + "\n".join(
            f"{kind}\n" + "\n".join(lines) for kind, lines in report.items())
        assert not wide, f"pages that scroll sideways for the {role} (CSS px too wide): {wide}"
    finally:
        context.close()


LEARNER_PAGES = ["/app/", "/app/experiments/new", "/app/experiments", "/app/leaderboard", "/app/recognition",
                 "/app/badges", "/app/help", "/app/teams/", "/app/challenges/", "/app/vision/", "/app/my-data"]


@pytest.mark.parametrize("viewport", [
    pytest.param({"viewport": {"width": 360, "height": 740}}, id="360px-phone"),
    pytest.param({"viewport": {"width": 640, "height": 450}, "device_scale_factor": 2}, id="200pc-zoom"),
])
def test_learner_pages_reflow_without_sideways_scrolling(viewport, live_server, browser, artifacts):
    assert live_server.test_cli_runner().invoke(args=["demo", "seed"]).exit_code == 0
    context, page, start = launched(browser, live_server, "learner", **viewport)
    try:
        shots = Path(artifacts) / "a11y" / "reflow"
        shots.mkdir(parents=True, exist_ok=True)
        # The pages as the learner meets them, plus one of each kind linked from them (an experiment, a team...).
        pages = [with_path(start, path) for path in LEARNER_PAGES]
        for path in ("/app/experiments", "/app/teams/", "/app/challenges/"):
            page.goto(with_path(start, path))
            link = page.locator("main a[href*='%s']" % path.rstrip("/")).filter(has_text=re.compile(r"\w")).all()
            pages += [a.evaluate("a => a.href") for a in link
                      if re.search(r"/\d+(\?|$)", a.get_attribute("href") or "")][:1]
        wide = {}
        for url in pages:
            response = page.goto(url)
            assert response.status == 200, url
            extra = sideways_scroll(page)
            if extra > 0:
                wide[urlsplit(url).path] = extra
            name = re.sub(r"[^A-Za-z0-9]+", "-", urlsplit(url).path).strip("-") or "home"
            page.screenshot(path=str(shots / f"{name}-{viewport['viewport']['width']}.png"), full_page=True)
        assert len(pages) >= len(LEARNER_PAGES) + 3, pages
        assert not wide, f"pages that scroll sideways (CSS px too wide): {wide}"
    finally:
        context.close()


FOCUS_STYLE_JS = """el => { const s = getComputedStyle(el);
    return {outline: s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2,
            shadow: s.boxShadow !== 'none', focusVisible: el.matches(':focus-visible')}; }"""


def test_keyboard_skip_link_and_visible_focus(live_server, browser):
    assert live_server.test_cli_runner().invoke(args=["demo", "seed"]).exit_code == 0
    context, page, start = launched(browser, live_server, "learner")
    try:
        page.goto(start)
        page.keyboard.press("Tab")
        skip = page.get_by_role("link", name="Skip to content")
        expect(skip).to_be_focused()
        expect(skip).to_be_in_viewport()  # shown when focused, not left off-screen
        page.keyboard.press("Enter")
        expect(page.locator("main")).to_be_focused()
        # The next Tab goes to the first control inside the content, past the menu.
        page.keyboard.press("Tab")
        assert page.evaluate("() => !!document.activeElement.closest('main')")

        # Every kind of control shows where the focus is when reached from the keyboard.
        page.goto(with_path(start, "/app/experiments/new"))
        seen = {}
        for _ in range(120):
            page.keyboard.press("Tab")
            tag = page.evaluate("() => { const e = document.activeElement; return e.tagName.toLowerCase() + "
                                "(e.type && e.tagName !== 'A' ? ':' + e.type : ''); }")
            if tag == "body":  # past the last control
                break
            style = page.evaluate(f"() => ({FOCUS_STYLE_JS})(document.activeElement)")
            assert style["focusVisible"] and (style["outline"] or style["shadow"]), f"{tag} has no visible focus"
            seen[tag] = True
        kinds = {k.split(":")[0] for k in seen}
        assert {"a", "input", "select", "textarea", "button"} <= kinds, seen
    finally:
        context.close()


def test_a_date_and_time_box_shows_where_the_focus_is_when_tabbed_into(live_server, browser):
    """A challenge's start and end boxes (date and time): tabbed into, the focus sits on a part inside the box (the
    month, then each part in turn); the box itself shows the page's focus ring all the while."""
    assert live_server.test_cli_runner().invoke(args=["demo", "seed"]).exit_code == 0
    context, page, start = launched(browser, live_server, "manager")
    try:
        page.goto(with_path(start, "/app/challenges/new"))
        page.locator("#f-goal_value").focus()
        reached = []
        for _ in range(30):  # a date and time box takes a Tab for each of its parts
            page.keyboard.press("Tab")
            if page.evaluate("() => document.activeElement.type") != "datetime-local":
                continue
            name = page.evaluate("() => document.activeElement.name")
            if name in reached:
                continue
            style = page.evaluate(f"() => ({FOCUS_STYLE_JS.replace(':focus-visible', ':focus')})"
                                  "(document.activeElement)")
            assert style["outline"] or style["shadow"], f"{name}: no visible focus"
            reached.append(name)
        assert reached == ["starts_at", "ends_at"]
    finally:
        context.close()


def test_choosing_a_rule_condition_with_the_keyboard_does_not_reload_on_each_arrow(live_server, browser):
    """WCAG 3.2.2 On Input: arrowing through the "What earns it" list (16 conditions) only changes the selection;
    the page changes when the admin presses the Choose button. A list that submitted on `change` reloaded the
    page at the first arrow, with the focus back at the top, so the later conditions were out of keyboard reach."""
    assert live_server.test_cli_runner().invoke(args=["demo", "seed"]).exit_code == 0
    context, page, start = launched(browser, live_server, "admin")
    try:
        page.goto(with_path(start, "/app/admin/rules/new"))
        picker = page.get_by_label("What earns it")
        first = picker.input_value()
        picker.focus()
        page.keyboard.press("ArrowDown")
        page.keyboard.press("ArrowDown")
        page.wait_for_timeout(1000)  # a submit on change would have navigated by now
        expect(picker).to_be_focused()
        chosen = picker.input_value()
        assert chosen != first
        assert "condition=" not in page.url
        page.keyboard.press("Tab")
        expect(page.get_by_role("button", name="Choose")).to_be_focused()
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(rf"condition={chosen}"))
        expect(page.get_by_label("What earns it")).to_have_value(chosen)
    finally:
        context.close()


def test_a_refused_peer_help_record_takes_the_focus_to_what_to_correct(live_server, browser):
    """Saving "Record help" with no colleague chosen came back with the focus on the page's start and the messages
    only by the fields (not announced, no summary to start from, as every other form has): a screen-reader user
    heard the page title again and did not know the help was not saved."""
    assert live_server.test_cli_runner().invoke(args=["demo", "seed"]).exit_code == 0
    context, page, start = launched(browser, live_server, "manager")
    try:
        page.goto(with_path(start, "/app/help"))
        page.locator('form.lang-switch button[value="en"]').click()  # her LMS speaks Turkish to Tinker
        expect(page.locator('html[lang="en"]')).to_have_count(1)
        page.get_by_label("What was the help?").fill("Showed her how to ask for a table")
        page.get_by_role("button", name="Save", exact=True).click()
        summary = page.get_by_role("alert").filter(has_text="Please check")
        expect(summary).to_be_focused()
        link = summary.get_by_role("link").first
        expect(link).to_have_attribute("href", "#f-other")
        expect(page.get_by_label("Colleague")).to_have_attribute("aria-invalid", "true")
        expect(page.get_by_label("What was the help?")).to_have_value("Showed her how to ask for a table")
    finally:
        context.close()
