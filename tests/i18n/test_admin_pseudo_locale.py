"""The admin pages the link crawl cannot reach (a search's results, the erasure confirmation, a rule's
recalculation, the rule editor's preview, forms sent back with errors, a token just issued), checked with
the pseudo catalog: every word on them was marked for translation, or is data, or is a brand name."""
from __future__ import annotations

import html
import re

import pytest
from babel import Locale

from tests.i18n.test_pseudo_locale import BRANDS
from tests.support.pseudo import DataText, build_catalog, database_text, unmarked
from tests.web.helpers import log_experiment

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
PSEUDO = {LTI + "launch_presentation": {"return_url": "https://lms.example.edu/x", "locale": "tr"}}
# Identifiers an admin needs as they are, never translated: what the pages show in <code> (API scope codes,
# audit action codes, database columns, stored JSON) and the IANA time zone names of the zone picker.
IDENTIFIERS = re.compile(r"<code>.*?</code>|<select id=\"tz\".*?</select>", re.S)


def _date_words() -> set[str]:
    tr = Locale.parse("tr")
    words: set[str] = set()
    for table in (tr.months, tr.days):
        for context in table.values():
            for width in context.values():
                for name in width.values():
                    words.update(re.findall(r"[A-Za-z]{2,}", name))
    return words


ALLOWED = BRANDS | _date_words()


@pytest.fixture(scope="module")
def app(app, db_url, tmp_path_factory):
    """The suite's app again, with the pseudo catalog as its Turkish (same database, already migrated)."""
    from plugin import create_app

    return create_app({
        "TESTING": True, "SQLALCHEMY_DATABASE_URI": db_url, "TINKER_BASE_URL": "http://localhost",
        "DEV_LMS_ENABLED": True, "DEV_LMS_KEY_PATH": str(tmp_path_factory.mktemp("devlms-pseudo") / "key.pem"),
        "BABEL_TRANSLATION_DIRECTORIES": str(build_catalog(tmp_path_factory.mktemp("pseudo-admin"))),
    })


def check(app, response) -> list[str]:
    from plugin.extensions import db

    with app.app_context():
        data = DataText(database_text(db.engine))
    return unmarked(IDENTIFIERS.sub(" ", response.get_data(as_text=True)), data, ALLOWED)


def test_admin_pages_off_the_crawl_show_only_marked_text(app, client, launch):
    learner = launch(sub="ada")
    log_experiment(client, learner, outcome="failed", learned="Too vague.")
    admin = launch(role="admin", sub="boss", overrides=PSEUDO)
    pages = {}

    search = client.get("/app/admin/privacy", query_string={"lt": admin, "q": "Test"})
    pages["privacy search"] = search
    pages["privacy search, nobody"] = client.get("/app/admin/privacy", query_string={"lt": admin, "q": "zzz"})
    erase = html.unescape(re.search(r'href="(/app/admin/privacy/erase/\d+[^"]*)"', search.get_data(as_text=True))
                          .group(1))
    pages["erase confirmation"] = client.get(erase)
    pages["erase refused"] = client.post(erase.split("?")[0], data={"lt": admin, "confirm": "no"})
    pages["retention refused"] = client.post("/app/admin/privacy/retention", data={"lt": admin, "days": "0"})

    rule = {"lt": admin, "condition": "experiment_count", "name": "Early adopter", "param_count": "1",
            "points": "25", "dimension": "experimenting", "active": "on"}
    pages["rule preview"] = client.post("/app/admin/rules/save", data={**rule, "action": "preview"})
    pages["rule refused"] = client.post("/app/admin/rules/save", data={**rule, "name": "", "param_count": "x",
                                                                       "action": "save"})
    saved = client.post("/app/admin/rules/save", data={**rule, "action": "save"})
    pages["rules after saving"] = client.get(saved.headers["Location"])
    rule_id = re.search(r"created=(\d+)", saved.headers["Location"]).group(1)
    changed = client.post("/app/admin/rules/save", data={**rule, "rule_id": rule_id, "points": "30",
                                                          "action": "save"})
    pages["recalculation"] = client.get(changed.headers["Location"])

    pages["limits refused"] = client.post("/app/admin/scoring/limits", data={"lt": admin, "daily_points_cap": "x"})
    pages["token refused"] = client.post("/app/admin/api-tokens/", data={"lt": admin, "name": "", "days": "0"})
    pages["token issued"] = client.post("/app/admin/api-tokens/", data={"lt": admin, "name": "BI", "days": "30",
                                                                        "scopes": "ledger:read"})
    pages["xapi refused"] = client.post("/app/admin/xapi/settings", data={"lt": admin, "enabled": "on"})
    pages["xapi test refused"] = client.post("/app/admin/xapi/test", data={"lt": admin})
    pages["badge refused"] = client.post("/app/admin/badges", data={"lt": admin, "name": "X", "colour": "red"})
    pages["issuer refused"] = client.post("/app/admin/badges/issuer", data={"lt": admin, "name": "A", "url": "ftp://x",
                                                                          "email": "no"})

    assert all(r.status_code < 500 for r in pages.values())
    found = {name: problems for name, r in pages.items() if (problems := check(app, r))}
    assert not found, "\n".join(f"{name}: {problems}" for name, problems in found.items())


def test_the_audit_log_shows_tinkers_codes_as_marked_words(app, client, launch):
    """Actions that record Tinker's own codes (a token's scopes, a webhook's events, a board mode, a rule's changed
    fields, a new xAPI secret, a download's format), then the audit page: every word on it is marked but people's
    names and what this test typed. Checked against those alone, not the whole database, whose tables hold the same
    codes (an API token's scopes, a board's mode) and would pass them as data."""
    from plugin.extensions import db
    from plugin.tenancy.models import User

    admin = launch(role="admin", sub="boss", overrides=PSEUDO)
    typed = {"BI", "Early adopter", "tinker"}
    done = [
        client.post("/app/admin/api-tokens/", data={"lt": admin, "name": "BI", "days": "30",
                                                    "scopes": ["ledger:read", "awards:write"]}),
        client.post("/app/admin/webhooks", data={"lt": admin, "url": "https://hooks.example.org/tinker",
                                                 "events": ["badge.earned", "kudos.received"]}),
        client.post("/app/manage/boards", data={"lt": admin, "mode": "team_only"}),
        client.post("/app/admin/xapi/settings", data={"lt": admin, "enabled": "on", "key": "tinker", "secret": "s",
                                                      "endpoint": "https://lrs.example.org/xAPI/"}),
        client.get("/app/my-data/tinker-data.json", query_string={"lt": admin}),
    ]
    rule = {"lt": admin, "condition": "experiment_count", "name": "Early adopter", "param_count": "1",
            "points": "25", "dimension": "experimenting", "active": "on", "action": "save"}
    saved = client.post("/app/admin/rules/save", data=rule)
    rule_id = re.search(r"created=(\d+)", saved.headers["Location"]).group(1)
    done.append(client.post("/app/admin/rules/save", data={**rule, "rule_id": rule_id, "points": "30"}))
    assert all(r.status_code < 400 for r in done), [r.status_code for r in done]

    audit = client.get("/app/admin/audit", query_string={"lt": admin})
    with app.app_context():
        names = {user.display_name for user in db.session.scalars(db.select(User))}
    page = audit.get_data(as_text=True)
    assert "api_token.issued" in page and "webhook.created" in page and "boards.settings_changed" in page
    assert "rule.changed" in page and "xapi.settings_changed" in page and "privacy.export" in page
    assert unmarked(page, DataText(typed | names), ALLOWED) == []
