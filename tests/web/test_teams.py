"""Team pages through the browser's eyes: a manager builds a team, members follow its progress in charts that
carry accessible names and tables with the same numbers; everyone else is kept out."""
from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from plugin.core.actor import Actor, Role
from plugin.extensions import db
from plugin.leaderboards import rebuild, reconcile
from plugin.settings.models import OrganisationSettings
from plugin.teams import service as teams
from plugin.teams.models import Team
from plugin.tenancy.models import Course, Membership, User
from plugin.web import teams as team_views
from tests.services.factories import log
from tests.web.helpers import text, visible

SUNDAY_LATE_ISTANBUL = datetime(2026, 11, 29, 20, 30, tzinfo=timezone.utc)  # Sunday 23:30 at UTC+3: week 48
MONDAY_ISTANBUL = datetime(2026, 11, 29, 21, 30, tzinfo=timezone.utc)       # Monday 00:30 at UTC+3: week 49
PAGE_NOW = datetime(2026, 12, 2, 10, 0, tzinfo=timezone.utc)                # Wednesday of week 49


def get(client, path, token, **args):
    return client.get(path, query_string={"lt": token, **args})


def actor_for(app, sub: str, context_id: str = "course-1") -> Actor:
    with app.app_context():
        membership, course = db.session.execute(select(Membership, Course).join(Course, Course.id == Membership.course_id)
                                                .join(User, User.id == Membership.user_id)
                                                .where(User.sub == sub, Course.context_id == context_id)).one()
        return Actor(user_id=membership.user_id, course_id=course.id, organisation_id=course.organisation_id,
                     platform_id=course.platform_id, role=Role(membership.role),
                     display_name=membership.user.display_name)


def checkboxes(page: str) -> dict[str, str]:
    """name -> user id of the learners offered in the add form."""
    return {label.strip(): value for value, label in
            re.findall(r'<input type="checkbox" name="user_id" value="(\d+)">\s*([^<]+)</label>', page)}


def create_team(client, manager: str, name: str) -> int:
    response = client.post("/app/teams/manage", data={"lt": manager, "name": name})
    assert response.status_code == 303, text(response)[:400]
    return int(re.search(r"/app/teams/(\d+)/edit", response.headers["Location"]).group(1))


def small_groups(client, launch, eve: bool = True) -> None:
    """An admin lets managers see groups of two (the organisation's minimum group size for insights, which a
    manager's team page follows too), and Eve joins the course, so that beside Red (Ada, Bo) the rest of the course
    (Cy, Eve) is a group of two as well."""
    admin = launch(role="admin", sub="org-admin", name="Org Admin")
    assert client.post("/app/insights/settings", data={"lt": admin, "min_group_size": "2"}).status_code == 303
    if eve:
        launch(sub="eve", name="Eve Online")


def add(client, manager: str, team_id: int, *names: str):
    offered = checkboxes(text(get(client, f"/app/teams/{team_id}/edit", manager)))
    return client.post(f"/app/teams/{team_id}/members",
                       data={"lt": manager, "user_id": [offered[n] for n in names]})


@pytest.fixture
def people(client, launch):
    tokens = {sub: launch(sub=sub, name=name) for sub, name in
              (("ada", "Ada Lovelace"), ("bo", "Bo Diddley"), ("cy", "Cy Twombly"))}
    tokens["boss"] = launch(role="instructor", sub="boss", name="The Boss")
    return tokens


@pytest.fixture
def red(client, people):
    team_id = create_team(client, people["boss"], "Red")
    assert add(client, people["boss"], team_id, "Ada Lovelace", "Bo Diddley").status_code == 303
    return team_id


@pytest.fixture
def fixed_now(monkeypatch):
    monkeypatch.setattr(team_views, "utcnow", lambda: PAGE_NOW)
    return PAGE_NOW


# --- managing -----------------------------------------------------------------------------------------------
def test_manager_creates_a_team_adds_two_learners_and_renames_it(client, people):
    boss = people["boss"]
    team_id = create_team(client, boss, "  Red  ")
    edit = get(client, f"/app/teams/{team_id}/edit", boss, done="created")
    assert "Team created. Add its members below." in visible(edit)
    assert set(checkboxes(text(edit))) == {"Ada Lovelace", "Bo Diddley", "Cy Twombly"}  # learners only

    added = add(client, boss, team_id, "Ada Lovelace", "Bo Diddley")
    assert added.status_code == 303
    page = visible(client.get(added.headers["Location"]))
    assert "Added 2 learners." in page and "Created here · 2 counted members of 2 listed" in page
    members = text(get(client, f"/app/teams/{team_id}/edit", boss))
    assert set(checkboxes(members)) == {"Cy Twombly"}
    assert re.search(r"Ada Lovelace</th>\s*<td>Learner</td>", members)

    renamed = client.post(f"/app/teams/{team_id}/rename", data={"lt": boss, "name": "Crimson"})
    assert renamed.status_code == 303
    listing = visible(get(client, "/app/teams/manage", boss))
    assert "Crimson Created here 2 2" in listing and "Red" not in listing


def test_the_team_list_tells_a_manager_from_how_many_members_team_figures_show(client, launch, people, red):
    """A manager about to make a team of three reads, before opening it, that they would see no figures for it."""
    hint = "A team's page shows you its figures from {} counted members (your organisation's minimum group size " \
           "for insights), and its members from 3"
    assert hint.format(5) in visible(get(client, "/app/teams/manage", people["boss"]))
    small_groups(client, launch)
    assert hint.format(2) in visible(get(client, "/app/teams/manage", people["boss"]))


def test_adding_and_removing_twice_changes_nothing_the_second_time(client, people, red):
    boss = people["boss"]
    with client.application.app_context():
        ada = db.session.scalar(select(User.id).where(User.sub == "ada"))
    again = client.post(f"/app/teams/{red}/members", data={"lt": boss, "user_id": [str(ada)]})
    assert "No one new was added: they were already in the team." in visible(client.get(again.headers["Location"]))
    first = client.post(f"/app/teams/{red}/members/{ada}/remove", data={"lt": boss})
    second = client.post(f"/app/teams/{red}/members/{ada}/remove", data={"lt": boss})
    assert "Removed from the team." in visible(client.get(first.headers["Location"]))
    assert "Nothing to remove" in visible(client.get(second.headers["Location"]))
    assert "1 counted member of 1 listed" in visible(get(client, f"/app/teams/{red}/edit", boss))


def test_duplicate_and_empty_names_are_refused_with_a_message(client, people, red):
    boss = people["boss"]
    duplicate = client.post("/app/teams/manage", data={"lt": boss, "name": "red"})
    assert duplicate.status_code == 409
    assert "This course already has a team called “Red”." in visible(duplicate)
    assert 'aria-invalid="true"' in text(duplicate)
    empty = client.post("/app/teams/manage", data={"lt": boss, "name": "   "})
    assert empty.status_code == 422 and "Give the team a name." in visible(empty)
    assert visible(get(client, "/app/teams/manage", boss)).count("Created here") == 1


def test_adding_nobody_is_a_field_message(client, people, red):
    response = client.post(f"/app/teams/{red}/members", data={"lt": people["boss"]})
    assert response.status_code == 422 and "Choose at least one learner." in visible(response)


def test_manager_deletes_a_team_made_here_and_a_double_click_is_harmless(client, people, red):
    boss = people["boss"]
    first = client.post(f"/app/teams/{red}/delete", data={"lt": boss})
    second = client.post(f"/app/teams/{red}/delete", data={"lt": boss})
    assert first.status_code == second.status_code == 303
    assert "Team deleted." in visible(client.get(first.headers["Location"]))
    assert "No teams yet" in visible(get(client, "/app/teams/manage", boss))
    assert get(client, f"/app/teams/{red}", people["ada"]).status_code == 404


def test_an_lms_team_is_read_only_here(app, client, people):
    with app.app_context():
        ada = actor_for(app, "ada")
        teams.sync_lms_teams(ada.course_id, {"g1": "Canvas group 1"}, {"g1": {ada.user_id}}, PAGE_NOW)
        reconcile.reconcile_course(ada.course_id)  # as roster sync does after writing the groups
        db.session.commit()
        team_id = db.session.scalar(select(Team.id).where(Team.external_id == "g1"))
    boss = people["boss"]
    assert "Canvas group 1 LMS group 1 1 Members" in visible(get(client, "/app/teams/manage", boss))
    page = get(client, f"/app/teams/{team_id}/edit", boss)
    assert "Its name and members come from the LMS and are updated by roster sync, so they are read-only here" in visible(page)
    assert "/members" not in text(page) and "/rename" not in text(page) and "/delete" not in text(page)
    refused = client.post(f"/app/teams/{team_id}/members", data={"lt": boss, "user_id": [str(ada.user_id)]})
    assert refused.status_code == 403 and "come from the LMS" in visible(refused)


@pytest.mark.parametrize("role", ["learner", "mentor"])
def test_learners_and_observers_cannot_manage_teams(client, launch, people, red, role):
    token = launch(role=role, sub=f"someone-{role}")
    assert get(client, "/app/teams/manage", token).status_code == 403
    assert get(client, f"/app/teams/{red}/edit", token).status_code == 403
    assert client.post("/app/teams/manage", data={"lt": token, "name": "Mine"}).status_code == 403
    assert client.post(f"/app/teams/{red}/rename", data={"lt": token, "name": "Mine"}).status_code == 403
    assert client.post(f"/app/teams/{red}/members", data={"lt": token, "user_id": ["1"]}).status_code == 403
    assert client.post(f"/app/teams/{red}/delete", data={"lt": token}).status_code == 403


def test_another_course_gets_404_for_a_team(client, launch, people, red):
    other = launch(role="instructor", sub="boss-b", context_id="course-B")
    for path in (f"/app/teams/{red}", f"/app/teams/{red}/edit"):
        assert get(client, path, other).status_code == 404
    assert client.post(f"/app/teams/{red}/rename", data={"lt": other, "name": "Mine"}).status_code == 404
    assert client.post(f"/app/teams/{red}/delete", data={"lt": other}).status_code == 404
    assert "Red" not in visible(get(client, "/app/teams/manage", other))


# --- the team page ------------------------------------------------------------------------------------------
def test_a_member_sees_the_team_page_with_its_figures_and_others_are_kept_out(app, client, launch, people, red,
                                                                            fixed_now):
    with app.app_context():
        ada, bo, cy = actor_for(app, "ada"), actor_for(app, "bo"), actor_for(app, "cy")
        log(ada, now=datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc), minutes_saved=45)
        log(bo, now=datetime(2026, 12, 1, 10, 0, tzinfo=timezone.utc), minutes_saved=30, outcome="partly")
        log(bo, now=datetime(2026, 11, 20, 10, 0, tzinfo=timezone.utc), outcome="failed",
            learned="It needs the source text pasted in.")
        log(cy, now=datetime(2026, 12, 1, 11, 0, tzinfo=timezone.utc), minutes_saved=600)  # not in the team
        db.session.commit()
    member = get(client, f"/app/teams/{red}", people["ada"])
    assert member.status_code == 200 and "2 counted members · Created here" in visible(member)
    # A team of two: its figures would be each member's own (private entries included), so a learner sees none.
    assert 'data-testid="figures-withheld"' in text(member) and 'data-testid="experiments-month"' not in text(member)
    assert "The team's figures appear once it has 3 counted members" in visible(member)
    # A manager makes teams: a team of two is withheld below the organisation's minimum group size (5) too.
    withheld = get(client, f"/app/teams/{red}", people["boss"])
    assert withheld.status_code == 200 and 'data-testid="experiments-month"' not in text(withheld)
    assert ("The team's figures appear once it has 5 counted members, the minimum group size your organisation set "
            "for insights") in visible(withheld)
    # Groups of two allowed, Red is still everyone but Cy: beside the course's figures, it would give Cy's away.
    small_groups(client, launch, eve=False)
    beside = get(client, f"/app/teams/{red}", people["boss"])
    assert 'data-testid="experiments-month"' not in text(beside)
    assert ("The team's figures are withheld: set beside the course's figures or another team's, they would show what "
            "fewer than 2 people logged") in visible(beside)
    launch(sub="eve", name="Eve Online")
    response = get(client, f"/app/teams/{red}", people["boss"])  # now the course's managers see them
    assert response.status_code == 200
    page, html = visible(response), text(response)
    assert "2 counted members · Created here" in page
    assert re.search(r'data-testid="experiments-month">2<', html) and re.search(r'data-testid="experiments-all">3<', html)
    assert re.search(r'data-testid="hours-month">1.2<', html) and re.search(r'data-testid="hours-all">1.2<', html)
    assert "in December 2026" in page
    outcomes = table(html, "outcomes")
    assert outcomes == [["Worked", "1", "1"], ["Partly worked", "1", "1"], ["Did not work", "0", "1"]]
    assert "Only the team's members and the course's managers can open this page" in page
    outsider = get(client, f"/app/teams/{red}", people["cy"])
    assert outsider.status_code == 403 and "Only this team's members" in visible(outsider)


def test_my_teams_lists_the_learners_teams(client, people, red):
    mine = text(get(client, "/app/teams/", people["ada"]))
    assert f'href="/app/teams/{red}?lt=' in mine and ">Red</a>" in mine
    assert "You are not in a team yet." in visible(get(client, "/app/teams/", people["cy"]))


def table(html: str, name: str) -> list[list[str]]:
    block = re.search(rf'<table data-testid="{name}-table">(.*?)</table>', html, re.S).group(1)
    body = re.search(r"<tbody>(.*?)</tbody>", block, re.S).group(1)
    return [[re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)]


def svg(html: str, chart_id: str) -> str:
    return re.search(rf'<svg[^>]*aria-labelledby="{chart_id}-title {chart_id}-desc".*?</svg>', html, re.S).group(0)


def svg_texts(markup: str) -> list[str]:
    return [t for t in re.findall(r"<text[^>]*>([^<]*)</text>", markup)]


def test_participation_weeks_follow_the_organisations_time_zone_across_monday_midnight(app, client, launch, people,
                                                                                        red, fixed_now):
    with app.app_context():
        ada, bo = actor_for(app, "ada"), actor_for(app, "bo")
        db.session.get(OrganisationSettings, ada.organisation_id).time_zone = "Europe/Istanbul"
        log(ada, now=SUNDAY_LATE_ISTANBUL)  # Sunday in Istanbul: week 48
        log(bo, now=MONDAY_ISTANBUL)        # Monday in Istanbul (still Sunday in UTC): week 49
        rebuild.rebuild()
        db.session.commit()
    small_groups(client, launch)  # a manager sees a team of two's figures
    html = text(get(client, f"/app/teams/{red}", people["boss"]))
    rows = table(html, "participation")
    assert len(rows) == 12 and rows[0][0] == "2026-W38"
    assert rows[-2:] == [["2026-W48", "23 Nov 2026", "1 of 2", "50%"], ["2026-W49", "30 Nov 2026", "1 of 2", "50%"]]
    assert all(r[3] == "0%" for r in rows[:-2])

    chart = svg(html, "participation")
    values = svg_texts(chart)[3:]  # after the three axis ticks: each bar's value, then its week
    drawn = dict(zip(values[1::2], values[0::2]))
    assert drawn == {"W" + r[0].split("-W")[1]: r[3] for r in rows}  # the picture and the table agree


def test_every_chart_has_an_accessible_name_and_a_captioned_table(app, client, launch, people, red, fixed_now):
    with app.app_context():
        log(actor_for(app, "ada"), now=datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc))
        db.session.commit()
    small_groups(client, launch)
    html = text(get(client, f"/app/teams/{red}", people["boss"]))
    for chart_id, caption in (("participation", "Members who logged an experiment, by week"),
                              ("categories", "Experiments by category"), ("outcomes", "Experiments by outcome")):
        markup = svg(html, chart_id)
        assert 'role="img"' in markup
        assert re.search(rf'<title id="{chart_id}-title">[^<]+</title>', markup)
        assert re.search(rf'<desc id="{chart_id}-desc">[^<]+</desc>', markup)
        after = html[html.index(markup) + len(markup):]
        assert re.match(rf'\s*</div>\s*<details class="chart-table">\s*<summary>Show as table.*?<table data-testid="'
                        rf'{chart_id}-table">\s*<caption>{re.escape(caption)}</caption>', after, re.S)
    categories = table(html, "categories")
    assert len(categories) == 1 and categories[0][1:] == ["1", "1"]
    assert categories[0][0] in svg_texts(svg(html, "categories"))
    outcome_svg = svg_texts(svg(html, "outcomes"))
    assert "Worked" in outcome_svg and "Partly worked" in outcome_svg and "Did not work" in outcome_svg  # legend


def test_the_team_board_links_members_to_their_own_team_page_and_managers_to_every_team(client, launch, people, red):
    for sub, name in (("di", "Di Ana"), ("ed", "Ed Ward"), ("fo", "Fo Xtrot"), ("gu", "Gu Stav")):
        launch(sub=sub, name=name)
    assert add(client, people["boss"], red, "Di Ana").status_code == 303  # teams of 3+ are ranked for learners
    blue = create_team(client, people["boss"], "Blue")
    assert add(client, people["boss"], blue, "Cy Twombly", "Ed Ward", "Fo Xtrot").status_code == 303
    as_ada = text(get(client, "/app/leaderboard", people["ada"], tab="teams", period="all"))
    assert f"/app/teams/{red}?" in as_ada and f"/app/teams/{blue}?" not in as_ada
    as_boss = text(get(client, "/app/leaderboard", people["boss"], tab="teams", period="all"))
    assert f"/app/teams/{red}?" in as_boss and f"/app/teams/{blue}?" in as_boss


def test_a_refused_addition_keeps_the_learners_ticked(client, people):
    """One of the ticked people can no longer join (they are not a learner of the course, say): the page says so
    and keeps the others ticked, rather than making the manager find and tick them all again."""
    boss = people["boss"]
    team_id = create_team(client, boss, "Blue")
    offered = checkboxes(text(get(client, f"/app/teams/{team_id}/edit", boss)))
    with client.application.app_context():
        staff = db.session.scalar(select(User.id).where(User.sub == "boss"))
    refused = client.post(f"/app/teams/{team_id}/members", data={
        "lt": boss, "user_id": [offered["Ada Lovelace"], offered["Cy Twombly"], str(staff)]})
    assert refused.status_code == 422 and "Only learners of this course can join its teams." in visible(refused)
    ticked = set(re.findall(r'<input type="checkbox" name="user_id" value="(\d+)" checked>', text(refused)))
    assert ticked == {offered["Ada Lovelace"], offered["Cy Twombly"]}
