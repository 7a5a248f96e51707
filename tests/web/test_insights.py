"""Insights pages, CSV exports, the printable summary and the ledger export, for every role and for a user
of another course; the minimum group size holds in pages and CSV alike."""
import csv
import io
import re

import pytest

from tests.web.helpers import log_experiment, text, visible

NOT_ENOUGH = "not enough people to report without identifying them"


def csv_rows(response) -> list[list[str]]:
    """A CSV download's rows; it starts with a byte-order mark, or Excel shows Turkish letters garbled."""
    body = response.get_data(as_text=True)
    assert body.startswith("\ufeff"), body[:20]
    return list(csv.reader(io.StringIO(body[1:])))


def _team(client, name, subs):
    """A team of the given learners in course-1, made through the teams service."""
    from datetime import datetime, timezone

    from plugin.extensions import db
    from plugin.leaderboards import reconcile
    from plugin.teams import service as teams
    from plugin.tenancy.models import Course, User

    with client.application.app_context():
        course = db.session.scalar(db.select(Course).where(Course.context_id == "course-1"))
        team = teams.ensure_team(course.id, name, datetime.now(timezone.utc))
        for sub in subs:
            teams.add_member(team, db.session.scalar(db.select(User.id).where(User.sub == sub)))
        reconcile.team_members_changed(team.id)
        db.session.commit()
        return team.id


@pytest.fixture
def course(client, launch):
    tokens = {sub: launch(sub=sub) for sub in [f"l{i}" for i in range(8)]}
    for i, (sub, token) in enumerate(tokens.items()):
        assert log_experiment(client, token, minutes_saved=str(15 * (i + 1)), confidence_before="2",
                              confidence_after="4").status_code == 303
    for i in range(5):  # five in no team: the course minus Big is more than Small's three (see differencing)
        assert log_experiment(client, launch(sub=f"n{i}"), minutes_saved="10").status_code == 303
    manager = launch(role="instructor", sub="teacher")
    small = _team(client, "Small", ["l0", "l1", "l2"])
    big = _team(client, "Big", [f"l{i}" for i in range(3, 8)])
    return {"manager": manager, "small": small, "big": big, "learner": tokens["l0"]}


def test_roles_learner_and_observer_are_refused(client, launch, course):
    assert client.get("/app/insights/", query_string={"lt": course["learner"]}).status_code == 403
    observer = launch(role="mentor", sub="watcher")
    assert client.get("/app/insights/", query_string={"lt": observer}).status_code == 403
    assert client.get("/app/insights/export/summary.csv", query_string={"lt": observer}).status_code == 403
    assert client.get("/app/insights/ledger.csv", query_string={"lt": course["manager"]}).status_code == 403
    assert client.post("/app/insights/settings", data={"lt": course["manager"], "min_group_size": "2"}).status_code == 403


def test_manager_page_answers_the_hours_question_with_a_chart_and_tables(client, course):
    page = client.get("/app/insights/", query_string={"lt": course["manager"], "kind": "quarter"})
    assert page.status_code == 200
    body = visible(page)
    assert "Estimated hours saved self-reported" in body and "9.8 h" in body  # 15+30+..+120 and 5 x 10 = 590 minutes
    assert "13 of 13 members logged at least one experiment" in body
    assert "+2.00" in body  # confidence delta
    html = text(page)
    assert html.count('role="img"') >= 4 and "<caption>" in html
    assert 'aria-labelledby="hours-categories-title hours-categories-desc"' in html
    by_team = html.split('id="team-h"')[1].split("</section>")[0]
    assert "Small" in by_team and NOT_ENOUGH in by_team.lower()


def test_a_team_of_three_shows_no_aggregate_on_the_page_or_in_csv(client, course):
    args = {"lt": course["manager"], "team": course["small"], "kind": "month"}
    body = visible(client.get("/app/insights/", query_string=args)).lower()
    assert "h estimated" not in body and NOT_ENOUGH in body and "members logged" not in body
    for name in ["summary", "adoption", "hours-by-category", "hours-by-tool", "pillars", "help-network",
                 "most-reused"]:
        response = client.get(f"/app/insights/export/{name}.csv", query_string=args)
        assert response.status_code == 200 and response.mimetype == "text/csv"
        rows = csv_rows(response)
        cells = [c for row in rows[1:] for c in row[1:] if c]
        assert all(c == NOT_ENOUGH for c in cells), (name, rows)
    summary = visible(client.get("/app/insights/summary", query_string=args))
    assert "Small" in summary and "9.8 h" not in summary
    big = visible(client.get("/app/insights/summary", query_string={**args, "team": course["big"]}))
    assert "5 people" in big and "Print" in big


def test_csv_carries_the_same_filters_and_figures(client, course):
    args = {"lt": course["manager"], "team": course["big"], "kind": "month"}
    response = client.get("/app/insights/export/hours-by-tool.csv", query_string=args)
    assert "attachment" in response.headers["Content-Disposition"]
    rows = csv_rows(response)
    assert rows[0][0] == "tool" and rows[1][:3] == ["ChatGPT", "5", "5"]
    assert client.get("/app/insights/export/nope.csv", query_string=args).status_code == 404



@pytest.mark.parametrize("kind, named", [("week", r"Week \d+, 20\d\d \(from \d\d \w+\)"),
                                         ("month", r"\w+ 20\d\d"), ("quarter", r"Q[1-4] 20\d\d")])
def test_the_adoption_csv_names_each_period_with_its_year(client, course, kind, named):
    """The adoption CSV named its periods with the chart's short labels ("W12", "Q3 25", "Mar 26"): read on its own,
    a week had no year and a quarter two of its digits."""
    rows = csv_rows(client.get("/app/insights/export/adoption.csv", query_string={"lt": course["manager"],
                                                                                   "kind": kind}))
    assert rows[0][0] == "period" and len(rows) > 2
    assert all(re.fullmatch(named, row[0]) for row in rows[1:]), rows


def test_a_team_filter_reports_no_other_teams_figures_cut_down_to_that_team(client, course):
    """With one team chosen, the hours-by-team table (CSV, API) has that team only: another team's row held just
    the members it shares with the chosen one, under the other team's name (Mixed: 4 people, not its 6)."""
    mixed = _team(client, "Mixed", ["l0", "l1", "l3", "l4", "l5", "l6"])
    args = {"lt": course["manager"], "team": course["big"], "kind": "month"}
    rows = csv_rows(client.get("/app/insights/export/hours-by-team.csv", query_string=args))
    assert [r[:2] for r in rows[1:]] == [["Big", "5"]]
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {course['manager']}"}).get_json()
    api = client.get(f"/api/v1/courses/{me['course_id']}/insights", query_string={"kind": "month", "team_id": mixed},
                     headers={"Authorization": f"Bearer {course['manager']}"}).get_json()
    assert [r[:2] for r in api["tables"]["hours-by-team"]["rows"]] == [["Mixed", 6]]

def test_a_team_of_all_but_one_says_why_its_figures_are_withheld_in_page_summary_and_api(client, course):
    """The course minus a team of everyone but n0 would be n0's own minutes and activity: the page, the printable
    summary and the API withhold those figures of the team, and the page says why."""
    everyone_but_one = _team(client, "Everyone but one", [f"l{i}" for i in range(8)] + ["n1", "n2", "n3", "n4"])
    args = {"lt": course["manager"], "team": everyone_but_one, "kind": "month"}
    page = visible(client.get("/app/insights/", query_string=args))
    assert "Some figures are withheld too" in page and "h estimated" not in page
    summary = visible(client.get("/app/insights/summary", query_string=args))
    assert "Some figures are withheld too" in summary and "Everyone but one" in summary
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {course['manager']}"}).get_json()
    api = client.get(f"/api/v1/courses/{me['course_id']}/insights",
                     query_string={"kind": "month", "team_id": everyone_but_one},
                     headers={"Authorization": f"Bearer {course['manager']}"}).get_json()
    lines = {r[0].split(" (")[0]: r[1:] for r in api["tables"]["summary"]["rows"]}
    assert lines["minutes saved, self-reported"] == lines["adoption"] == [NOT_ENOUGH]
    assert lines["confidence"] == [8, 2.0, 4.0, 2.0]  # n0 rated nothing: these are the course's, giving nobody away
    course_page = visible(client.get("/app/insights/", query_string={"lt": course["manager"], "kind": "month"}))
    assert "9.8 h" in course_page


def test_another_course_cannot_see_or_filter_this_course(client, launch, course):
    other = launch(role="instructor", sub="other-teacher", context_id="course-2")
    page = visible(client.get("/app/insights/", query_string={"lt": other}))
    assert "9.8 h" not in page
    assert client.get("/app/insights/", query_string={"lt": other, "team": course["big"]}).status_code == 404
    assert client.get("/app/insights/export/summary.csv",
                      query_string={"lt": other, "team": course["big"]}).status_code == 404


def test_bad_filters_are_a_422(client, course):
    response = client.get("/app/insights/", query_string={"lt": course["manager"], "kind": "year"})
    assert response.status_code == 422
    response = client.get("/app/insights/", query_string={"lt": course["manager"], "kind": "month", "key": "2026-13"})
    assert response.status_code == 422
    switched = client.get("/app/insights/", query_string={"lt": course["manager"], "kind": "month", "key": "2026-Q1"})
    assert switched.status_code == 200  # a quarter key left over after switching to months: the current month


@pytest.mark.parametrize("key", ["9999-Q4", "0-Q1", "-1-Q1", "1999-Q1", "2026-Q4x",
                                 "\u0662\u0660\u0662\u0666-Q4", "\uff12\uff10\uff12\uff16-Q4"])  # other digits
def test_a_quarter_outside_the_calendar_is_a_422_on_the_page_and_in_the_api(client, course, key):
    page = client.get("/app/insights/", query_string={"lt": course["manager"], "kind": "quarter", "key": key})
    assert page.status_code == 422
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {course['manager']}"}).get_json()
    api = client.get(f"/api/v1/courses/{me['course_id']}/insights", query_string={"kind": "quarter", "key": key},
                     headers={"Authorization": f"Bearer {course['manager']}"})
    assert api.status_code == 422 and api.get_json()["error"]["code"] == "invalid"


def test_the_ledger_export_refuses_dates_beyond_the_calendar_it_handles(client, launch, course):
    """On the Insights page again, not an error page: the export's form keeps what was sent, each wrong date marked
    and named in the summary (found by a browser review: a date of 1900 led to an error page whose link went to the
    course overview). The date boxes say which years they take."""
    admin = launch(role="admin", sub="boss")
    response = client.get("/app/insights/ledger.csv", query_string={"lt": admin, "since": "1900-01-01",
                                                                    "until": "9999-12-31"})
    assert response.status_code == 422 and response.mimetype == "text/html"
    page = text(response)
    assert re.search(r"<h1>Insights: ", page)
    for box, typed in (("l-since", "1900-01-01"), ("l-until", "9999-12-31")):
        field = re.search(rf'<input id="{box}"[^>]*>', page).group(0)
        assert f'value="{typed}"' in field and 'aria-invalid="true"' in field
        assert 'min="2000-01-01"' in field and 'max="2100-12-31"' in field
    assert re.search(r'<a href="#l-since">From: Choose a date between the years 2000 and 2100.</a>', page)
    assert re.search(r'<a href="#l-until">To \(inclusive\): Choose a date between the years 2000 and 2100.</a>', page)


def test_admin_sets_the_group_size_and_exports_the_ledger_with_formulas_escaped(client, launch, course):
    admin = launch(role="admin", sub="boss", context_id="=HYPERLINK(1)")
    page = client.get("/app/insights/", query_string={"lt": admin})
    assert page.status_code == 200 and "the whole organisation" in visible(page)
    saved = client.post("/app/insights/settings", data={"lt": admin, "min_group_size": "3"})
    assert saved.status_code == 303
    small = visible(client.get("/app/insights/", query_string={"lt": course["manager"], "team": course["small"]}))
    assert "3 of 3 members" in small
    assert client.post("/app/insights/settings", data={"lt": admin, "min_group_size": "1"}).status_code == 422
    ledger = client.get("/app/insights/ledger.csv", query_string={"lt": admin})
    rows = csv_rows(ledger)
    assert rows[0][:3] == ["id", "created_at", "course_id"] and len(rows) >= 9
    from plugin.extensions import db
    from plugin.tenancy.models import Course

    with client.application.app_context():
        course_one = db.session.scalar(db.select(Course).where(Course.context_id == "course-1"))
        course_one.title = "=cmd|' /C calc'!A0"
        db.session.commit()
        course_id = course_one.id
    ledger = client.get("/app/insights/ledger.csv", query_string={"lt": admin, "course": course_id})
    rows = csv_rows(ledger)
    assert {r[3] for r in rows[1:]} == {"'=cmd|' /C calc'!A0"}
    assert client.get("/app/insights/ledger.csv", query_string={"lt": admin, "course": 999}).status_code == 404


def test_manager_overview_links_to_insights(client, course):
    html = text(client.get("/app/manage/", query_string={"lt": course["manager"]}))
    assert re.search(r'<a class="button" href="/app/insights/\?lt=[^"]+">Insights', html)


def test_the_ledger_exports_days_are_the_organisations_days(client, launch):
    """The From and To days are dates in the organisation's time zone, as every period of the reports is: an
    entry earned at 00:30 on 30 November in Istanbul belongs to that day, one at 00:30 on 1 December does not."""
    from datetime import datetime, timezone

    from plugin.extensions import db
    from plugin.ledger.service import Posting, post_entry
    from plugin.tenancy.models import Course, User

    admin = launch(role="admin", sub="root")
    assert client.post("/app/admin/time-zone", data={"lt": admin, "time_zone": "Europe/Istanbul"}).status_code == 303
    launch(sub="mia")
    with client.application.app_context():
        course = db.session.scalar(db.select(Course).where(Course.context_id == "course-1"))
        mia = db.session.scalar(db.select(User.id).where(User.sub == "mia"))
        ids = {}
        for name, moment in [("monday", datetime(2026, 11, 29, 21, 30, tzinfo=timezone.utc)),  # Mon 30 Nov 00:30
                             ("tuesday", datetime(2026, 11, 30, 21, 30, tzinfo=timezone.utc))]:  # Tue 1 Dec 00:30
            ids[name] = post_entry(Posting(organisation_id=course.organisation_id, course_id=course.id, user_id=mia,
                                           amount=5, dimension="experimenting", source_type="manual", source_id=None,
                                           key=f"ledger-days:{name}"), moment)
        db.session.commit()
    ledger = client.get("/app/insights/ledger.csv", query_string={"lt": admin, "since": "2026-11-30",
                                                                  "until": "2026-11-30"})
    assert ledger.status_code == 200
    exported = [int(r[0]) for r in csv_rows(ledger)[1:]]
    assert exported == [ids["monday"]]


def test_shares_are_written_in_the_readers_style_with_the_sign_first_in_turkish(client, launch, course):
    """Turkish puts the percent sign first (%100, %12,5): the insights page's shares, its cards and its charts
    alike, as the team pages already write them; English keeps 100%."""
    from tests.support.platform import LTI

    turkish = launch(role="instructor", sub="teacher", overrides={
        LTI + "launch_presentation": {"return_url": "https://lms.example.edu/x", "locale": "tr-TR"}})
    page = visible(client.get("/app/insights/", query_string={"lt": turkish, "kind": "quarter"}))
    assert "%100" in page and not re.search(r"\d%", page)
    english = visible(client.get("/app/insights/", query_string={"lt": course["manager"], "kind": "quarter"}))
    assert "100%" in english and "%100" not in english


def test_a_turkish_managers_csv_files_read_in_turkish(client, launch, course):
    """A Turkish manager's CSV files had English headers and "not enough people to report without identifying them"
    beside Turkish category names: Tinker's own words now follow the reader; names and numbers do not change. (The
    JSON API's tables keep their English, as the whole API does: export.tables is unchanged.)"""
    from tests.support.platform import LTI

    turkish = launch(role="instructor", sub="teacher", overrides={
        LTI + "launch_presentation": {"return_url": "https://lms.example.edu/x", "locale": "tr-TR"}})
    english = csv_rows(client.get("/app/insights/export/hours-by-tool.csv",
                                  query_string={"lt": course["manager"], "team": course["big"], "kind": "month"}))
    rows = csv_rows(client.get("/app/insights/export/hours-by-tool.csv",
                               query_string={"lt": turkish, "team": course["big"], "kind": "month"}))
    assert rows[0] == ["araç", "kişi", "denemeler", "kazanılan dakika (kişilerin kendi beyanı)", "saat",
                       "deneme başına ortanca dakika"]
    assert rows[1:] == english[1:]  # the same figures, the tools under their own names
    small = csv_rows(client.get("/app/insights/export/summary.csv",
                                query_string={"lt": turkish, "team": course["small"], "kind": "month"}))
    assert small[0][:2] == ["ölçü", "değer 1"]
    assert small[1] == ["benimsenme (üyeler, etkin, oran %, henüz başlamamış)",
                        "kimliklerini belli etmeden raporlamak için yeterli kişi yok"]
