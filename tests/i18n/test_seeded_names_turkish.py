"""The defaults Tinker seeds (task categories, values, dimensions, levels, badges, rule names) read in Turkish on
every page a Turkish reader opens, as long as nobody renamed them: team progress, insights, the kudos and
challenge forms, the admin's lists and the learner's own recognition history, not only the learner's forms.

The pages are found as test_pseudo_locale finds them (every link from the landing page, one page of each kind,
demo data seeded), with the real Turkish catalog. What people typed is taken out first; a seeded default's
English text left over is a finding."""
from __future__ import annotations

import re

import pytest

from plugin.onboarding.names import SEEDED
from tests.i18n.test_pseudo_locale import PEOPLE, crawl, kind_of, launch_in_pseudo
from tests.support.pseudo import DataText, database_text, visible_pieces

DEFAULTS = re.compile(r"(?<![\w-])(" + "|".join(map(re.escape, sorted(SEEDED, key=len, reverse=True))) + r")(?![\w-])")


@pytest.mark.parametrize("role", list(PEOPLE))
def test_seeded_defaults_read_in_turkish_on_every_page(app, live_server, role):
    assert live_server.test_cli_runner().invoke(args=["demo", "seed"]).exit_code == 0
    with app.app_context():
        from plugin.extensions import db

        typed = DataText(database_text(db.engine) - set(SEEDED))  # the seeded rows themselves are the question
    browser, start = launch_in_pseudo(live_server, PEOPLE[role])
    found: dict[str, set[str]] = {}
    pages = 0
    for url, response in crawl(browser, start):
        pages += 1
        for piece in visible_pieces(response.text):
            for name in DEFAULTS.findall(typed.strip(" ".join(piece.split()))):
                found.setdefault(kind_of(url), set()).add(name)
    assert pages >= 15, pages
    assert not found, "seeded defaults left in English on Turkish pages:\n" + "\n".join(
        f"  {page}: {sorted(names)}" for page, names in sorted(found.items()))
