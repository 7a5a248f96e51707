"""Every page, as each role sees it, shows only text that was marked for translation (or data people typed).

The app runs with a pseudo catalog installed as Turkish (tests/support/pseudo.py): marked text renders as
⟦Ｆｕｌｌｗｉｄｔｈ⟧, so a plain ASCII word left on a page was never marked. The pages are found the way a
person finds them: from the landing page, following every link to a page of the tool (one page of each
kind: one experiment, one challenge, one team...), after demo data is seeded. Error pages and a form sent
back with errors are visited too. Words allowed through: brand and standard names, Turkish date words
(the pseudo catalog is "tr", so dates come out in Turkish), and whatever is stored in the database.
"""
from __future__ import annotations

import re
import socket
import threading
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit

import pytest
import requests
from babel import Locale

from tests.support.pseudo import DataText, build_catalog, database_text, unmarked
from tests.web.helpers import autopost, next_url

COURSE = "dev-course-101"
PEOPLE = {"learner": "dev-learner-1", "manager": "dev-manager-1", "admin": "dev-admin-1"}
NOT_A_PAGE = re.compile(r"(\.(csv|json|jwt|png|svg|xml|zip)$)|(/dataset$)|(/export)|(/download)")
MAX_KINDS = 150
BRANDS = {"Tinker", "LTI", "xAPI", "API", "JSON", "CSV", "Open", "Badges", "OpenAPI", "Swagger", "ID", "IDs", "URL",
          "HTTPS", "HTTP", "LRS", "AGS", "NRPS", "Moodle", "Canvas", "ChatGPT", "Copilot", "Gemini", "Claude",
          "English", "Türkçe", "PDF", "SVG", "PNG", "OK", "AI"}


def _turkish_date_words() -> set[str]:
    tr = Locale.parse("tr")
    words: set[str] = set()
    for table in (tr.months, tr.days, tr.quarters, tr.day_periods, tr.eras):
        for context in table.values():
            for width in context.values():
                for name in (width.values() if hasattr(width, "values") else [width]):  # LocaleDataDict
                    words.update(re.findall(r"[A-Za-z]{2,}", str(name)))
    return words


ALLOWED = BRANDS | _turkish_date_words()


@pytest.fixture(scope="module")
def pseudo_site(app, db_url, tmp_path_factory):
    """The tool on its own port with the pseudo catalog as its Turkish, sharing the suite's database."""
    from werkzeug.serving import make_server

    from plugin import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    site = create_app({
        "TESTING": True, "SQLALCHEMY_DATABASE_URI": db_url, "TINKER_BASE_URL": base, "DEV_LMS_ENABLED": True,
        "DEV_LMS_KEY_PATH": str(tmp_path_factory.mktemp("pseudo-devlms") / "key.pem"), "RAISE_UNEXPECTED": False,
        "BABEL_TRANSLATION_DIRECTORIES": str(build_catalog(tmp_path_factory.mktemp("pseudo-catalog"))),
    })
    # Labels cached per language code would carry real Turkish into the pseudo "tr" (a page of another app in this
    # process made them), and pseudo text out to later tests: the pseudo site starts and leaves them empty.
    from plugin.web import boards as board_views

    board_views._period_options.cache_clear()
    server = make_server("127.0.0.1", port, site, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    site.base_url = base
    yield site
    server.shutdown()
    board_views._period_options.cache_clear()


def launch_in_pseudo(site, sub: str) -> tuple[requests.Session, str]:
    """Launch from the development LMS, then pick the (pseudo) Turkish with the header's switch."""
    browser = requests.Session()
    base = site.base_url
    login = autopost(browser, browser.post(f"{base}/dev/lms/launch", data={"sub": sub, "course": COURSE}))
    launched = autopost(browser, browser.get(next_url(login)))
    assert launched.status_code == 303, launched.text[-800:]
    landing = browser.get(urljoin(base, launched.headers["Location"]))
    token = re.search(r'name="lt" value="([^"]+)"', landing.text).group(1)
    switched = browser.post(f"{base}/app/language/", data={"lt": token, "language": "tr",
                                                           "next": urlsplit(landing.url).path})
    assert switched.status_code == 200 and 'lang="tr"' in switched.text, switched.text[:300]
    return browser, switched.url


def kind_of(url: str) -> str:
    parts = urlsplit(url)
    path = re.sub(r"/(\d+|[0-9a-f]{16,})(?=/|$)", "/{id}", parts.path)
    query = sorted((k, "{id}" if v.isdigit() else v) for k, v in parse_qsl(parts.query) if k != "lt")
    return path + ("?" + urlencode(query) if query else "")


def crawl(browser: requests.Session, start: str):
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(start))
    queue, seen = [start], {kind_of(start)}
    while queue:
        assert len(seen) <= MAX_KINDS, f"more than {MAX_KINDS} kinds of page"
        url = queue.pop(0)
        response = browser.get(url)
        if not response.headers.get("content-type", "").startswith("text/html"):
            continue
        yield url, response
        for href in re.findall(r'<a\b[^>]*\bhref="([^"#]+)', response.text):
            target = urljoin(url, href.replace("&amp;", "&"))
            parts = urlsplit(target)
            if f"{parts.scheme}://{parts.netloc}" != origin or not parts.path.startswith("/app/") \
                    or NOT_A_PAGE.search(parts.path) or kind_of(target) in seen:
                continue
            seen.add(kind_of(target))
            queue.append(target)


def findings(app, site, role: str, extra=()) -> dict[str, list[str]]:
    assert site.test_cli_runner().invoke(args=["demo", "seed"]).exit_code == 0
    browser, start = launch_in_pseudo(site, PEOPLE[role])
    with app.app_context():
        from plugin.extensions import db

        data = DataText(database_text(db.engine))
    found: dict[str, list[str]] = {}
    pages = 0
    for url, response in [*crawl(browser, start), *[(u, browser.get(urljoin(start, u))) for u in extra]]:
        pages += 1
        problems = unmarked(response.text, data, ALLOWED)
        if problems:
            found[kind_of(url)] = problems
    assert pages >= 5, f"the crawl reached only {pages} pages"
    return found


def report(found: dict[str, list[str]]) -> str:
    return "text not marked for translation:\n" + "\n".join(
        f"{page}\n" + "\n".join(f"    {piece!r}" for piece in pieces) for page, pieces in sorted(found.items()))


@pytest.mark.parametrize("role", list(PEOPLE))
def test_every_page_shows_only_translated_text(app, pseudo_site, role):
    extra = ["/app/experiments/999999999", "/app/no-such-page"] if role == "learner" else []
    found = findings(app, pseudo_site, role, extra)
    assert not found, report(found)


def test_a_form_sent_back_with_errors_is_translated(app, pseudo_site):
    assert pseudo_site.test_cli_runner().invoke(args=["demo", "seed"]).exit_code == 0
    browser, start = launch_in_pseudo(pseudo_site, PEOPLE["learner"])
    form = browser.get(urljoin(start, "/app/experiments/new") + "?lt=" + dict(parse_qsl(urlsplit(start).query))["lt"])
    token = re.search(r'name="lt" value="([^"]+)"', form.text).group(1)
    key = re.search(r'name="submission_key" value="([^"]+)"', form.text).group(1)
    sent_back = browser.post(urljoin(start, "/app/experiments"), data={"lt": token, "submission_key": key, "title": ""})
    assert sent_back.status_code == 422
    with app.app_context():
        from plugin.extensions import db

        data = DataText(database_text(db.engine))
    problems = unmarked(sent_back.text, data, ALLOWED)
    assert not problems, report({"/app/experiments (sent back)": problems})


def test_the_checker_catches_text_nobody_marked():
    """The check itself: an unmarked word is found; marked text, data and allowed names are not."""
    page = ('<html><head><title>⟦Ｍｙ⟧</title><script>var x = "hidden code";</script></head><body>'
            '<p>⟦Ｈｅｌｌｏ⟧ Ayşe Yılmaz</p><p>Tinker</p><button aria-label="Close dialog">×</button>'
            '<input type="submit" value="⟦Ｓａｖｅ⟧"></body></html>')
    data = DataText({"Ayşe Yılmaz"})
    assert unmarked(page, data, ALLOWED) == ["Close dialog"]
    assert unmarked(page.replace("Close dialog", "⟦Ｃｌｏｓｅ⟧"), data, ALLOWED) == []
