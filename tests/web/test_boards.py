"""The leaderboard pages as people in the LMS frame see them: real launches, points through the ledger's own
writer at fixed moments, and what each role, course setting and privacy choice shows (or never shows)."""
from __future__ import annotations

import csv
import io
import itertools
import re
from datetime import datetime, timezone
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from plugin.core.actor import Actor, Role
from plugin.extensions import db
from plugin.leaderboards import reconcile
from plugin.ledger.service import Posting, post_entry
from plugin.teams.service import add_member, ensure_team
from plugin.tenancy.models import Course, Membership, User
from tests.services.factories import make_actor, make_platform
from tests.web.helpers import log_experiment, options, text, visible

NOW = datetime(2026, 11, 18, 10, 0, tzinfo=timezone.utc)                     # Wednesday of ISO week 47
SUNDAY_LATE_ISTANBUL = datetime(2026, 11, 29, 20, 30, tzinfo=timezone.utc)  # Sunday 23:30 at UTC+3: week 48
MONDAY_ISTANBUL = datetime(2026, 11, 29, 21, 30, tzinfo=timezone.utc)       # Monday 00:30 at UTC+3: week 49
ANON = "Anonymous participant"
_keys = itertools.count(1)
ROW = re.compile(r'<tr( class="me" aria-current="true")?><td>(\d+)</td><td>(.*?)</td><td class="num">(-?\d+)</td></tr>')


# --- helpers -------------------------------------------------------------------------------------------
def actor_of(app, sub: str, context_id: str = "course-1") -> Actor:
    with app.app_context():
        course = db.session.scalar(select(Course).where(Course.context_id == context_id))
        user = db.session.scalar(select(User).where(User.sub == sub))
        role = db.session.scalar(select(Membership.role).where(Membership.course_id == course.id,
                                                               Membership.user_id == user.id))
        return Actor(user_id=user.id, course_id=course.id, organisation_id=course.organisation_id,
                     platform_id=course.platform_id, role=Role(role), display_name=user.name or "")


def award(app, actor: Actor, points: int, now: datetime = NOW, dimension: str = "experimenting") -> None:
    with app.app_context():
        post_entry(Posting(organisation_id=actor.organisation_id, course_id=actor.course_id, user_id=actor.user_id,
                           amount=points, dimension=dimension, source_type="manual", source_id=None,
                           key=f"web-board-test:{next(_keys)}"), now)
        db.session.commit()


def learner(app, launch, sub: str, name: str, points: int = 0, context_id: str = "course-1", **kw) -> tuple[str, Actor]:
    token = launch(sub=sub, name=name, context_id=context_id)
    person = actor_of(app, sub, context_id)
    if points:
        award(app, person, points, **kw)
    return token, person


def page(client, token: str, **params):
    return client.get("/app/leaderboard", query_string={"lt": token, **params})


def rows(response) -> tuple[list[tuple], list[tuple]]:
    """(top, around) as (rank, name, points, is_me) read from the board's table."""
    body = text(response)
    table = body[body.index('data-testid="board"'):body.index("</table>", body.index('data-testid="board"'))]
    top, _, around = table.partition('class="around"')
    read = lambda part: [(int(r), re.sub(r"<[^>]+>", "", n), int(p), bool(me)) for me, r, n, p in ROW.findall(part)]  # noqa: E731
    return read(top), read(around)


def set_mode(client, manager: str, mode: str, **flags) -> None:
    response = client.post("/app/manage/boards", data={"lt": manager, "mode": mode, **flags})
    assert response.status_code == 303, visible(response)[:500]


# --- top, around me, ties -------------------------------------------------------------------------------
def test_viewer_below_the_top_sees_top_twenty_a_gap_and_their_neighbours_at_true_ranks(app, client, launch):
    tokens = {}
    for i in range(25):  # 250, 240, ... 10 points: ranks 1..25
        tokens[i], _ = learner(app, launch, f"p{i}", f"Person {i:02d}", 250 - 10 * i)
    response = page(client, tokens[22], period="all")
    assert response.status_code == 200
    top, around = rows(response)
    assert [r[0] for r in top] == list(range(1, 21)) and not any(r[3] for r in top)
    assert [(r[0], r[1], r[2], r[3]) for r in around] == [
        (21, "Person 20", 50, False), (22, "Person 21", 40, False), (23, "Person 22 (you)", 30, True),
        (24, "Person 23", 20, False), (25, "Person 24", 10, False)]
    shown = visible(response)
    assert "Around you" in shown and "Your rank: 23 of 25, with 30 points." in shown
    assert "Equal points share a rank and the next rank is skipped (1, 2, 2, 4)" in shown

    top, around = rows(page(client, tokens[3], period="all"))  # inside the top: highlighted there, no gap
    assert (4, "Person 03 (you)", 220, True) in top and around == []


def test_equal_points_share_a_rank_and_the_next_rank_is_skipped(app, client, launch):
    token, _ = learner(app, launch, "a", "Ada", 50)
    learner(app, launch, "b", "Bea", 30)
    learner(app, launch, "c", "Cem", 30)
    learner(app, launch, "d", "Dan", 10)
    top, _ = rows(page(client, token, period="all"))
    assert [(r[0], r[1], r[2]) for r in top] == [(1, "Ada (you)", 50), (2, "Bea", 30), (2, "Cem", 30), (4, "Dan", 10)]


def test_a_learner_without_points_is_told_they_are_not_on_the_board_yet(app, client, launch):
    learner(app, launch, "a", "Ada", 50)
    newcomer, _ = learner(app, launch, "new", "Nora Newcomer")
    response = page(client, newcomer, period="all")
    assert "You are not on this board yet." in visible(response)
    assert "Nora Newcomer" not in visible(response).split("Leaderboard", 2)[-1].split("Privacy")[0]


# --- privacy ----------------------------------------------------------------------------------------------
def test_an_opted_out_learner_is_anonymous_to_everyone_else_but_sees_their_own_name(app, client, launch):
    hidden, olga = learner(app, launch, "olga", "Olga Hidden", 80)
    other, _ = learner(app, launch, "ben", "Ben Visible", 40)
    manager = launch(role="instructor", sub="boss", name="Mona Manager")

    saved = client.post("/app/leaderboard/privacy", data={"lt": hidden, "hidden": "on"})
    assert saved.status_code == 303
    confirmation = visible(client.get(saved.headers["Location"]))
    assert "Your name is now hidden on every leaderboard of your organisation. You still see your own rank." in confirmation

    own, _ = rows(page(client, hidden, period="all"))
    assert own[0] == (1, "Olga Hidden (you)", 80, True)
    for token, path, params in [(other, "/app/leaderboard", {"period": "all"}),
                                (other, "/app/leaderboard", {"period": "all", "scope": "organisation"}),
                                (other, "/app/", {}),
                                (manager, "/app/leaderboard", {"period": "all"}),
                                (manager, "/app/manage/", {})]:
        body = text(client.get(path, query_string={"lt": token, **params}))
        board = body[body.index('data-testid="board"'):]
        assert "Olga Hidden" not in board.split("Participation")[0], path  # (the manager's roster is another page part)
        assert ANON in board, path
        assert f"Participant {olga.user_id}" not in body
    other_top, _ = rows(page(client, other, period="all"))
    assert other_top[0] == (1, ANON, 80, False)

    export = client.get("/app/leaderboard.csv", query_string={"lt": manager, "period": "all"})
    assert "Olga Hidden" not in export.get_data(as_text=True)
    assert [1, ANON, 80] in [[int(r[0]), r[1], int(r[2])] for r in list(csv.reader(io.StringIO(
        export.get_data(as_text=True).lstrip("\ufeff"))))[1:]]

    client.post("/app/leaderboard/privacy", data={"lt": hidden})  # unticked: shown again
    assert rows(page(client, other, period="all"))[0][0] == (1, "Olga Hidden", 80, False)


# --- course modes -------------------------------------------------------------------------------------
def test_team_only_mode_shows_learners_teams_and_no_individuals(app, client, launch):
    manager = launch(role="instructor", sub="boss", name="Mona Manager")
    people = [learner(app, launch, f"t{i}", f"Teammate {i}") for i in range(6)]
    with app.app_context():
        red, blue = ensure_team(people[0][1].course_id, "Red", NOW), ensure_team(people[0][1].course_id, "Blue", NOW)
        for token, person in people[:3]:
            add_member(red, person.user_id)
        for token, person in people[3:]:
            add_member(blue, person.user_id)
        for team in (red, blue):
            reconcile.team_members_changed(team.id)
        db.session.commit()
    for _token, person in people:
        award(app, person, 40)
    log_experiment(client, people[0][0], outcome="worked", learned="")
    set_mode(client, manager, "team_only")

    viewer = people[3][0]
    response = page(client, viewer, period="all")
    shown = visible(response)
    assert response.status_code == 200
    assert "Teams · All time · Points per member" in shown
    assert "Fair to teams of any size" in shown
    assert not any(f"Teammate {i}" in shown for i in range(6))
    assert 'name="scope"' not in text(response) and ">People<" not in text(response)
    body = text(response)
    red_row = re.search(r"<tr[^>]*>\s*<td>\d+</td><td>Red</td>.*?</tr>", body, re.S).group(0)
    assert "<td class=\"num\">3</td>" in red_row and "33%" in red_row and "(1 of 3)" in red_row
    assert "Blue (your team)" in shown

    individual = page(client, viewer, tab="people", period="all")
    assert individual.status_code == 403
    assert "This course shows team boards only." in visible(individual)
    assert not any(f"Teammate {i}" in visible(individual) for i in range(6))
    dashboard = visible(client.get("/app/", query_string={"lt": viewer}))
    assert "Team leaderboard" in dashboard and not any(f"Teammate {i} " in dashboard for i in range(6))
    assert "Teammate 0" in visible(page(client, manager, tab="people", period="all"))  # managers see the full board


def test_off_mode_gives_learners_a_message_page_and_no_nav_link(app, client, launch):
    manager = launch(role="instructor", sub="boss", name="Mona Manager")
    token, _ = learner(app, launch, "a", "Ada", 50)
    set_mode(client, manager, "off")
    response = page(client, token)
    assert response.status_code == 403
    assert "Leaderboards are turned off in this course." in visible(response)
    assert ROW.findall(text(response)) == [] and "Ada" not in visible(response)
    dashboard = text(client.get("/app/", query_string={"lt": token}))
    assert "/app/leaderboard" not in dashboard and "Course leaderboard" not in dashboard
    assert page(client, token, tab="teams").status_code == 403
    assert "/app/leaderboard" in text(client.get("/app/manage/", query_string={"lt": manager}))
    assert "learners see: no boards" in visible(client.get("/app/manage/", query_string={"lt": manager})).lower()


def test_relative_mode_shows_only_the_viewers_neighbours(app, client, launch):
    manager = launch(role="instructor", sub="boss", name="Mona Manager")
    tokens = [learner(app, launch, f"r{i}", f"Runner {i}", 100 - 10 * i)[0] for i in range(8)]
    set_mode(client, manager, "on", relative="on")
    response = page(client, tokens[4], period="all")
    top, around = rows(response)
    assert top == []
    assert [(r[0], r[1]) for r in around] == [(3, "Runner 2"), (4, "Runner 3"), (5, "Runner 4 (you)"),
                                              (6, "Runner 5"), (7, "Runner 6")]
    assert "Runner 0" not in visible(response) and "never the top of the board" in visible(response)
    dashboard = visible(client.get("/app/", query_string={"lt": tokens[4]}))
    assert "Runner 3" in dashboard and "Runner 0" not in dashboard
    assert "Runner 0" in visible(page(client, manager, period="all"))


# --- periods and scopes -------------------------------------------------------------------------------
def set_time_zone(client, admin: str, name: str):
    return client.post("/app/admin/time-zone", data={"lt": admin, "time_zone": name})


def test_week_and_month_boards_count_only_their_period_in_the_organisations_time_zone(app, client, launch):
    admin = launch(role="admin", sub="root", name="Ada Admin")
    assert set_time_zone(client, admin, "Europe/Istanbul").status_code == 303
    token, _ = learner(app, launch, "sun", "Sunday Sam", 10, now=SUNDAY_LATE_ISTANBUL)
    learner(app, launch, "mon", "Monday Mia", 30, now=MONDAY_ISTANBUL)
    learner(app, launch, "old", "October Olly", 70, now=datetime(2026, 10, 20, 12, 0, tzinfo=timezone.utc))

    def board(period):
        return [(r[1].replace(" (you)", ""), r[2]) for r in rows(page(client, token, period=period))[0]]

    assert board("2026-W48") == [("Sunday Sam", 10)]
    assert board("2026-W49") == [("Monday Mia", 30)]  # Sunday 21:30 UTC is already Monday in Istanbul
    assert board("2026-11") == [("Monday Mia", 30), ("Sunday Sam", 10)]
    assert board("2026-10") == [("October Olly", 70)]
    assert board("all") == [("October Olly", 70), ("Monday Mia", 30), ("Sunday Sam", 10)]
    shown = visible(page(client, token, period="2026-W49"))
    assert "This course · Week 49, 30 Nov – 6 Dec 2026 · Total" in shown
    assert "Weeks start on Monday and months are calendar months, in Europe/Istanbul time." in shown
    assert page(client, token, period="2026-W99").status_code == 422
    offered = options(text(page(client, token, period="2026-W40")), "period")
    assert offered["Week 40, 28 Sep – 4 Oct 2026"] == "2026-W40"  # an older week reached by its key
    assert offered["All time"] == "all" and any(label.startswith("This week (") for label in offered)


def test_admin_time_zone_change_moves_an_award_across_the_week_boundary(app, client, launch):
    admin = launch(role="admin", sub="root", name="Ada Admin")
    page_html = text(client.get("/app/admin/scoring", query_string={"lt": admin}))
    assert re.search(r'<option value="UTC" selected>UTC</option>', page_html)
    assert "weeks start on Monday and months are calendar months in this time zone" in visible(
        client.get("/app/admin/scoring", query_string={"lt": admin}))
    token, _ = learner(app, launch, "mon", "Monday Mia", 30, now=MONDAY_ISTANBUL)
    week = lambda key: [r[2] for r in rows(page(client, token, period=key))[0]]  # noqa: E731
    assert week("2026-W48") == [30] and week("2026-W49") == []  # in UTC it is still Sunday

    saved = set_time_zone(client, admin, "Europe/Istanbul")
    assert saved.status_code == 303
    assert "Week and month boards now follow Europe/Istanbul" in visible(client.get(saved.headers["Location"]))
    assert week("2026-W48") == [] and week("2026-W49") == [30]

    refused = set_time_zone(client, admin, "Mars/Olympus")
    assert refused.status_code == 422 and "Choose a time zone from the list." in visible(refused)
    assert set_time_zone(client, token, "UTC").status_code == 403
    assert week("2026-W49") == [30]


def test_organisation_board_sums_the_organisations_courses_and_never_another_organisation(app, client, launch):
    token, here = learner(app, launch, "both", "Bo Both", 20)
    _, there = learner(app, launch, "both", "Bo Both", 15, context_id="course-2")
    learner(app, launch, "two", "Tia Two", 30, context_id="course-2")
    with app.app_context():
        outsider = make_actor(make_platform(issuer="https://other.example", organisation="Org B"), "olaf",
                              name="Outsider Olaf")
        db.session.commit()
    award(app, outsider, 999)
    assert here.organisation_id == there.organisation_id != outsider.organisation_id

    organisation = page(client, token, scope="organisation", period="all")
    assert [(r[1], r[2]) for r in rows(organisation)[0]] == [("Bo Both (you)", 35), ("Tia Two", 30)]
    assert "Outsider Olaf" not in visible(organisation) and "Whole organisation · All time" in visible(organisation)
    course = page(client, token, scope="course", period="all")
    assert [(r[1], r[2]) for r in rows(course)[0]] == [("Bo Both (you)", 20)]


def test_dimension_boards_count_only_that_dimension(app, client, launch):
    token, ada = learner(app, launch, "a", "Ada", 10, dimension="helping")
    award(app, ada, 5)
    learner(app, launch, "b", "Bea", 12)
    assert [(r[1], r[2]) for r in rows(page(client, token, period="all", dimension="helping"))[0]] == [("Ada (you)", 10)]
    assert [(r[1], r[2]) for r in rows(page(client, token, period="all"))[0]] == [("Ada (you)", 15), ("Bea", 12)]
    assert page(client, token, dimension="charisma").status_code == 422


def test_a_period_key_written_otherwise_than_the_boards_write_it_is_a_422_not_an_empty_board(app, client, launch):
    """"2026-011" or "2026-W047" named November and week 47 but read boards no points are kept under: an empty
    board that looked like nobody earned anything that month."""
    token, _ = learner(app, launch, "a", "Ada", 10)  # NOW: 18 November 2026, ISO week 47
    assert rows(page(client, token, period="2026-11"))[0] == [(1, "Ada (you)", 10, True)]
    assert rows(page(client, token, period="2026-W47"))[0] == [(1, "Ada (you)", 10, True)]
    headers = {"Authorization": f"Bearer {token}"}
    course_id = client.get("/api/v1/me", headers=headers).get_json()["course_id"]
    for key in ("2026-011", "2026-W047", "2026- 11"):
        assert page(client, token, period=key).status_code == 422, key
        api = client.get(f"/api/v1/courses/{course_id}/leaderboards/individual", query_string={"period": key},
                         headers=headers)
        assert api.status_code == 422, key
    manager = launch(role="instructor", sub="boss", name="Mona Manager")
    assert client.get("/app/insights/", query_string={"lt": manager, "kind": "month", "key": "2026-011"}
                      ).status_code == 422


def test_an_unknown_dimension_is_a_422_in_the_export_and_the_api_too(app, client, launch):
    """As on the page: a mistyped dimension is said so, not answered with an empty board."""
    learner(app, launch, "a", "Ada", 10, dimension="helping")
    manager = launch(role="instructor", sub="boss", name="Mona Manager")
    assert client.get("/app/leaderboard.csv", query_string={"lt": manager, "period": "all",
                                                             "dimension": "helpnig"}).status_code == 422
    headers = {"Authorization": f"Bearer {manager}"}
    course_id = client.get("/api/v1/me", headers=headers).get_json()["course_id"]
    url = f"/api/v1/courses/{course_id}/leaderboards/individual"
    assert client.get(url, query_string={"period": "all", "dimension": "helping"}, headers=headers).status_code == 200
    refused = client.get(url, query_string={"period": "all", "dimension": "helpnig"}, headers=headers)
    assert refused.status_code == 422 and "dimension" in str(refused.get_json()["error"])


# --- manager settings and export ----------------------------------------------------------------------
def test_board_settings_are_for_managers_and_validated(app, client, launch):
    learner_token, _ = learner(app, launch, "a", "Ada")
    assert client.get("/app/manage/boards", query_string={"lt": learner_token}).status_code == 403
    assert client.post("/app/manage/boards", data={"lt": learner_token, "mode": "off"}).status_code == 403

    manager = launch(role="instructor", sub="boss", name="Mona Manager")
    overview = text(client.get("/app/manage/", query_string={"lt": manager}))
    assert "/app/manage/boards?lt=" in overview
    form = visible(client.get("/app/manage/boards", query_string={"lt": manager}))
    assert "Team boards only" in form and "Relative mode" in form and "learners only" in form
    for bad in ({"mode": "loud"}, {}):
        refused = client.post("/app/manage/boards", data={"lt": manager, **bad})
        assert refused.status_code == 422
        assert "Choose how learners see boards." in visible(refused)
    assert page(client, learner_token).status_code == 200  # nothing was saved

    set_mode(client, manager, "team_only")
    saved = text(client.get("/app/manage/boards", query_string={"lt": manager, "saved": 1}))
    assert re.search(r'value="team_only"[^>]*checked', saved)
    assert not re.search(r'name="relative"[^>]*checked', saved)


def test_csv_export_is_for_managers_attached_and_safe_from_formulas(app, client, launch):
    learner(app, launch, "x", "=HYPERLINK(\"http://evil\")", 30)
    learner(app, launch, "y", "@SUM(1+1)", 20)
    token, _ = learner(app, launch, "z", "-2+3 Zed", 10)
    manager = launch(role="instructor", sub="boss", name="Mona Manager")
    assert client.get("/app/leaderboard.csv", query_string={"lt": token}).status_code == 403

    response = client.get("/app/leaderboard.csv", query_string={"lt": manager, "period": "all", "scope": "course"})
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith("attachment; filename=\"leaderboard-course-all-total")
    assert response.headers["Cache-Control"] == "no-store"  # names and points, like every other export
    table = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert table == [["rank", "name", "points"], ["1", "'=HYPERLINK(\"http://evil\")", "30"],
                     ["2", "'@SUM(1+1)", "20"], ["3", "'-2+3 Zed", "10"]]
    assert "Download this board (CSV)" in visible(page(client, manager, period="all"))
    from tests.support.platform import LTI  # a Turkish manager's file: the same rows under Turkish headers

    turkish = launch(role="instructor", sub="hoca", name="Hoca", overrides={
        LTI + "launch_presentation": {"return_url": "https://lms.example.edu/x", "locale": "tr-TR"}})
    response = client.get("/app/leaderboard.csv", query_string={"lt": turkish, "period": "all", "scope": "course"})
    assert list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff")))) == [
        ["sıra", "ad", "puan"], *table[1:]]
    assert "Download this board (CSV)" not in visible(page(client, token, period="all"))


def test_csv_export_of_a_large_board_holds_every_row_at_its_rank(app, client, launch, monkeypatch):
    """A manager of a large course downloads the whole board, not its first rows without a word (it stopped at
    5,000). The board is read a page at a time: here 4 rows stand for the 1,000, with ties across pages."""
    from plugin.leaderboards import queries
    from plugin.tenancy import service as tenancy
    from plugin.tenancy.models import Deployment, Platform
    from tests.services.factories import identity

    monkeypatch.setattr(queries, "EXPORT_PAGE", 4)
    manager = launch(role="instructor", sub="boss", name="Mona Manager")
    boss = actor_of(app, "boss")
    # points by person: 30, then three tied on 20 (rows 2-4 and the page's end), 19..12, then five tied on 5
    # (rows 13-17, across the third and fourth pages), and 1
    points = [30, 20, 20, 20, *range(19, 11, -1), 5, 5, 5, 5, 5, 1]
    with app.app_context():
        platform = db.session.get(Platform, boss.platform_id)
        deployment_id = db.session.get(Deployment, db.session.get(Course, boss.course_id).deployment_id).deployment_id
        for i, amount in enumerate(points):
            course, user, _m = tenancy.provision(identity(platform, f"many-{i}", name=f"Member {i:02d}",
                                                          deployment_id=deployment_id), NOW)
            post_entry(Posting(organisation_id=course.organisation_id, course_id=course.id, user_id=user.id,
                               amount=amount, dimension="experimenting", source_type="manual",
                               source_id=None, key=f"web-board-test:{next(_keys)}"), NOW)
        db.session.commit()

    response = client.get("/app/leaderboard.csv", query_string={"lt": manager, "period": "all", "scope": "course"})
    assert response.status_code == 200
    table = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert table[0] == ["rank", "name", "points"]
    expected_ranks = [1, 2, 2, 2, *range(5, 13), 13, 13, 13, 13, 13, 18]
    assert table[1:] == [[str(rank), f"Member {i:02d}", str(amount)]
                         for i, (rank, amount) in enumerate(zip(expected_ranks, points))]


@pytest.mark.parametrize("role", ["learner", "instructor"])
def test_another_course_never_appears_on_a_course_board(app, client, launch, role):
    learner(app, launch, "elsewhere", "Elsa Elsewhere", 90, context_id="course-2")
    token = launch(role=role, sub="viewer", name="Vic Viewer")
    response = page(client, token, period="all")
    assert response.status_code == 200 and "Elsa Elsewhere" not in visible(response)


# --- the team tab: the top twenty, then the viewer's own team -------------------------------------------
TEAM_ROW = re.compile(r'<tr( class="me" aria-current="true")?>\s*<td>(\d+)</td><td>(.*?)</td>', re.S)


def team_rows(response) -> tuple[list[tuple], list[tuple]]:
    """(top, mine) as (rank, team name, is_mine) read from the team board's table."""
    body = text(response)
    table = body[body.index('data-testid="team-board"'):body.index("</table>", body.index('data-testid="team-board"'))]
    top, _, mine = table.partition('data-testid="my-teams"')
    read = lambda part: [(int(r), re.sub(r"<[^>]+>", "", n), bool(me)) for me, r, n in TEAM_ROW.findall(part)]  # noqa: E731
    return read(top), read(mine)


def test_the_team_tab_shows_the_top_twenty_teams_then_the_viewers_own_at_its_true_rank(app, client, launch):
    viewer, me = learner(app, launch, "me", "Mia Member")
    manager = launch(role="instructor", sub="boss", name="Mona Manager")
    with app.app_context():
        platform = SimpleNamespace(id=me.platform_id)
        teams = [ensure_team(me.course_id, f"Team {i:02d}", NOW) for i in range(24)]  # 3 members each
        for i, team in enumerate(teams):
            for j in range(3):
                person = me if (i, j) == (22, 0) else make_actor(platform, f"m{i}-{j}", name=f"Member {i}-{j}",
                                                                  deployment_id="deployment-1")
                add_member(team, person.user_id)
                post_entry(Posting(organisation_id=me.organisation_id, course_id=me.course_id, user_id=person.user_id,
                                   amount=100 - 2 * (19 if i == 22 else i), dimension="experimenting", source_type="manual",
                                   source_id=None, key=f"web-board-test:{next(_keys)}"), NOW)
            reconcile.team_members_changed(team.id)
        db.session.commit()

    response = page(client, viewer, tab="teams", period="all")
    assert response.status_code == 200
    top, mine = team_rows(response)
    assert [(r, n) for r, n, _ in top] == [(i + 1, f"Team {i:02d}") for i in range(20)]
    assert mine == [(20, "Team 22 (your team)", True)]  # level with Team 19: the same rank, listed after it
    shown = visible(response)
    assert "Showing the top 20 of 24 teams, then your team." in shown and "Show all 24 teams" not in shown
    assert "Your team" in shown and "Team 23" not in shown

    as_boss = page(client, manager, tab="teams", period="all")
    assert [r for r, _, _ in team_rows(as_boss)[0]] == list(range(1, 21)) and team_rows(as_boss)[1] == []
    assert "Showing the top 20 of 24 teams." in visible(as_boss) and "Show all 24 teams" in visible(as_boss)
    everything = page(client, manager, tab="teams", period="all", full=1)
    assert "Showing all 24 teams." in visible(everything) and "Show the top 20" in visible(everything)
    assert [r for r, _, _ in team_rows(everything)[0]][19:] == [20, 20, 22, 23, 24]  # 1, 2, 2, 4 across the cut
    assert len(team_rows(page(client, viewer, tab="teams", period="all", full=1))[0]) == 20  # for managers only


def test_only_learners_are_offered_to_hide_their_name_from_the_boards_staff_are_not_on(app, client, launch):
    """Staff are not on the boards: a "Hide my name on leaderboards" choice on their page would change nothing
    they could see."""
    viewer, _me = learner(app, launch, "me", "Mia Member", 10)
    assert "Hide my name on leaderboards" in visible(page(client, viewer))
    for role in ("instructor", "admin"):
        staff = launch(role=role, sub=f"staff-{role}", name="Sam Staff")
        assert page(client, staff).status_code == 200
        assert "Hide my name on leaderboards" not in visible(page(client, staff))


def test_the_export_of_a_dimension_named_in_turkish_downloads_under_its_name(app, client, launch):
    """A dimension's key keeps its letters ("öğrenme"): the file name reaches the header as RFC 6266's filename*
    (UTF-8) beside an ASCII one, since header values are Latin-1 (the raw name failed the response on a real
    server)."""
    from plugin.levels.service import add_dimension

    launch(role="admin", sub="root")
    with app.app_context():
        key = add_dimension(actor_of(app, "root"), "Öğrenme").key
        db.session.commit()
    learner(app, launch, "a", "Ada", 10, dimension=key)
    manager = launch(role="instructor", sub="boss", name="Mona Manager")
    response = client.get("/app/leaderboard.csv", query_string={"lt": manager, "period": "all", "dimension": key})
    assert response.status_code == 200 and "Ada" in response.get_data(as_text=True)
    disposition = response.headers["Content-Disposition"]
    disposition.encode("latin-1")  # what a server must be able to send
    assert disposition == ("attachment; filename=\"leaderboard-course-all-ogrenme.csv\"; "
                           "filename*=UTF-8''leaderboard-course-all-%C3%B6%C4%9Frenme.csv")
