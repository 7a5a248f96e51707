"""What the browser review of the challenge and team pages found, each pinned through the pages as a browser
inside the LMS frame sees them (launch token in links and forms)."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from io import BytesIO

from sqlalchemy import select, update

from plugin.challenges.models import Challenge
from plugin.extensions import db
from plugin.settings.models import OrganisationSettings
from plugin.tenancy.models import Course
from tests.web.helpers import log_experiment, options, text, visible
from tests.web.test_challenges import WINDOW, _form_options, _mission, _queued_ids, _review, challenge_id, create, show
from tests.web.test_teams import create_team, get


def _summary(page: str) -> str:
    """The error summary's markup."""
    return re.search(r'<div class="card error-summary".*?</div>', page, re.S).group(0)


def _zone(client, name: str) -> None:
    with client.application.app_context():
        course = db.session.scalar(select(Course).where(Course.context_id == "course-1"))
        settings = db.session.get(OrganisationSettings, course.organisation_id)
        if settings is None:
            settings = OrganisationSettings(organisation_id=course.organisation_id)
            db.session.add(settings)
        settings.time_zone = name
        db.session.commit()


# 1 ---------------------------------------------------------------------------------------------------------
def test_dates_outside_2000_to_2100_are_refused_with_a_clear_message(client, launch):
    manager = launch(role="instructor", sub="boss")
    refused = create(client, manager, expect=422, starts_at="0001-01-01T00:00", ends_at="9999-12-31T23:59")
    assert visible(refused).count("Choose a date between the years 2000 and 2100.") >= 2


def test_dates_stored_at_the_extremes_still_render_after_the_zone_changes(client, launch):
    manager = launch(role="instructor", sub="boss")
    cid = challenge_id(create(client, manager, title="Far away"))
    with client.application.app_context():  # saved before the form limited the years
        db.session.execute(update(Challenge).where(Challenge.id == int(cid)).values(
            starts_at=datetime(1, 1, 1, tzinfo=timezone.utc), ends_at=datetime(9999, 12, 31, 23, 59, tzinfo=timezone.utc)))
        db.session.commit()
    _zone(client, "Europe/Istanbul")
    for path in ("/app/challenges/", f"/app/challenges/{cid}", f"/app/challenges/{cid}/edit"):
        page = client.get(path, query_string={"lt": manager})
        assert page.status_code == 200, path
        assert "Far away" in visible(page)


# 2 ---------------------------------------------------------------------------------------------------------
def test_every_missing_field_has_its_own_message_and_cross_field_checks_show_with_field_errors(client, launch):
    manager = launch(role="instructor", sub="boss")
    empty = client.post("/app/challenges/", data={"lt": manager}, content_type="multipart/form-data")
    assert empty.status_code == 422
    page = visible(empty)
    assert "Missing data for required field." not in page
    for message in ("Give the challenge a title.", "Choose how the goal is measured: count or participation.",
                    "Set a goal: a number, or a percentage for participation.", "Choose when the challenge starts.",
                    "Choose when the challenge ends."):
        assert message in page
    now = datetime.now(timezone.utc)
    everything = create(client, manager, expect=422, title="ab", goal_kind="participation", goal_value="150",
                        starts_at=now.strftime("%Y-%m-%dT%H:%M"),
                        ends_at=(now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"))
    summary = _summary(text(everything))
    assert 'href="#f-title"' in summary and 'href="#f-goal_value"' in summary and 'href="#f-ends_at"' in summary
    assert "The end must come after the start." in summary
    assert "A participation goal is a percentage from 1 to 100." in summary


# 3 ---------------------------------------------------------------------------------------------------------
def test_mission_fields_are_grouped_as_mission_only_and_refused_on_an_ordinary_challenge(client, launch):
    manager = launch(role="instructor", sub="boss")
    form = _form_options(client, manager)
    assert re.search(r'<fieldset class="field mission-only" id="mission-fields"[^>]*>\s*<legend>Mission details '
                     r'\(only for sandbox missions\)</legend>', form)
    launch(sub="ada", name="Ada Lovelace")
    form = _form_options(client, manager)
    refused = create(client, manager, expect=422, title="Not a mission", scenario="A made-up essay",
                     reflection_prompt="Why?", tools=options(form, "ai_tool")["ChatGPT"],
                     champion=options(form, "champion")["Ada Lovelace"])
    page = text(refused)
    for field in ("scenario", "reflection_prompt", "tools", "champion"):
        assert re.search(rf'id="{field}-error">Only sandbox missions have', page), field
    assert "Not a mission" not in visible(client.get("/app/challenges/", query_string={"lt": manager}))
    assert create(client, manager, title="A mission", is_mission="on", scenario="A made-up essay").status_code == 303


# 4 and 9 ---------------------------------------------------------------------------------------------------
def test_reviewing_twice_lands_back_on_the_queue_with_a_message_inside_the_layout(client, launch):
    ada = launch(sub="ada")
    manager = launch(role="instructor", sub="boss")
    cid = _mission(client, manager)
    client.post(f"/app/challenges/{cid}/evidence", data={"lt": ada, "text": "Drafted feedback, fixed two errors."})
    [evidence] = _queued_ids(client, manager)
    assert _review(client, manager, evidence, "accept").status_code == 303
    again = _review(client, manager, evidence, "accept")
    assert again.status_code == 409
    page = text(again)
    assert '<header class="topbar">' in page and "<h1>Evidence to review</h1>" in page
    assert "This evidence was already reviewed. Nothing was changed" in visible(again)
    assert re.search(r'href="/app/challenges/\?lt=', page)  # the normal navigation, with the launch token


def test_the_reviewer_must_choose_a_decision_and_a_resubmission_starts_from_the_last_attempt(client, launch):
    ada = launch(sub="ada")
    manager = launch(role="instructor", sub="boss")
    cid = _mission(client, manager)
    client.post(f"/app/challenges/{cid}/evidence", data={"lt": ada, "text": "My first go at the mission.",
                                                         "link": "https://example.org/notes"})
    queue = text(client.get("/app/challenges/reviews", query_string={"lt": manager}))
    assert not re.search(r'name="decision" value="\w+" checked', queue)
    [evidence] = _queued_ids(client, manager)
    none = client.post(f"/app/challenges/evidence/{evidence}/review", data={"lt": manager, "comment": ""})
    assert none.status_code == 422 and "Choose Accept or Return for revision." in visible(none)
    assert "Missing data for required field." not in visible(none)
    assert _review(client, manager, evidence, "return", "Say which errors you fixed.").status_code == 303
    page = text(show(client, ada, cid))
    assert re.search(r'<textarea id="f-text"[^>]*>My first go at the mission.</textarea>', page)
    assert 'id="f-link" name="link" type="url" maxlength="1000" value="https://example.org/notes"' in page


# 5 ---------------------------------------------------------------------------------------------------------
def test_the_participation_bar_and_its_words_say_the_same_share_of_the_goal(client, launch):
    ada = launch(sub="ada")
    launch(sub="bo")
    manager = launch(role="instructor", sub="boss")
    cid = challenge_id(create(client, manager, goal_kind="participation", goal_value="80"))
    log_experiment(client, ada)
    page = text(show(client, ada, cid))
    words = "50% of learners took part (1 of 2) — 63% of the way to the 80% goal"  # 50/80 = 62.5%, half up
    assert words in page
    assert re.search(rf'<progress[^>]+max="80" value="50"[^>]+aria-valuetext="{re.escape(words)}"', page)


# 6 ---------------------------------------------------------------------------------------------------------
def test_evidence_links_open_in_a_new_tab_and_say_so(client, launch):
    ada = launch(sub="ada")
    manager = launch(role="instructor", sub="boss")
    cid = _mission(client, manager)
    client.post(f"/app/challenges/{cid}/evidence", data={"lt": ada, "text": "Notes are linked.",
                                                         "link": "https://example.org/notes"})
    link = re.compile(r'<a href="https://example.org/notes" target="_blank" rel="noopener noreferrer[^"]*">'
                      r'https://example.org/notes<span class="visually-hidden"> \(opens in a new tab\)</span></a>')
    assert link.search(text(client.get("/app/challenges/reviews", query_string={"lt": manager})))
    assert link.search(text(show(client, ada, cid)))


# 7 ---------------------------------------------------------------------------------------------------------
def test_cancelling_needs_an_explicit_confirmation_and_then_hides_the_review_button(client, launch):
    manager = launch(role="instructor", sub="boss")
    plain = challenge_id(create(client, manager, title="Not a mission"))
    assert "Evidence to review" not in visible(show(client, manager, plain))
    cid = _mission(client, manager)
    page = visible(show(client, manager, cid))
    assert "Evidence to review" in page and "Yes, cancel this challenge: it can't be undone" in page
    unconfirmed = client.post(f"/app/challenges/{cid}/cancel", data={"lt": manager})
    assert unconfirmed.status_code == 422
    assert "Tick the box to confirm: cancelling can't be undone." in visible(unconfirmed)
    assert re.search(r'id="f-cancel_confirm"[^>]*aria-invalid="true"', text(unconfirmed))
    assert "Cancelled" not in visible(show(client, manager, cid))
    assert client.post(f"/app/challenges/{cid}/cancel", data={"lt": manager, "confirm": "on"}).status_code == 303
    cancelled = visible(show(client, manager, cid))
    assert "Cancelled" in cancelled and "Evidence to review" not in cancelled


# 8 ---------------------------------------------------------------------------------------------------------
def test_the_completion_badge_shows_on_the_challenge_and_in_the_list(client, launch):
    manager = launch(role="instructor", sub="boss")
    badge_name, badge = next(iter(options(_form_options(client, manager), "badge").items()))
    cid = challenge_id(create(client, manager, badge=badge))
    image = re.compile(rf'<img class="badge-icon" src="/badges/{badge}/image\?lang=en" alt="" width="24" height="24"> '
                       rf'{re.escape(badge_name)}')  # the image URL the badge pages use (public.badge_image_view)
    for page in (show(client, manager, cid), client.get("/app/challenges/", query_string={"lt": manager})):
        shown = re.search(r'data-testid="completion-badge">(.*?)</p>', text(page), re.S)
        assert shown and image.search(shown.group(1))


# 10 --------------------------------------------------------------------------------------------------------
def test_the_challenge_board_is_the_leaderboard_table_with_the_viewer_highlighted(client, launch):
    ada = launch(sub="ada", name="Ada Lovelace")
    manager = launch(role="instructor", sub="boss")
    cid = challenge_id(create(client, manager))
    log_experiment(client, ada, title="Summarised a policy")
    board = text(show(client, ada, cid)).split("Board for this challenge", 1)[1]
    assert 'data-testid="board"' in board and '<th scope="col">Rank</th>' in board
    assert re.search(r'<tr class="me" aria-current="true"><td>1</td><td>Ada Lovelace \(you\)</td>', board)
    assert re.search(r'<div class="table-wrap" tabindex="0" role="region" aria-label="[^"]+">', board)


# 11 --------------------------------------------------------------------------------------------------------
def test_member_search_matches_turkish_capitals_whatever_the_case(client, launch):
    launch(sub="can", name="Can Öztürk")
    launch(sub="ayse", name="Ayşe Şen")
    boss = launch(role="instructor", sub="boss")
    team = create_team(client, boss, "Red")
    for search, found in (("öztürk", "Can Öztürk"), ("ÖZTÜRK", "Can Öztürk"), ("şen", "Ayşe Şen")):
        page = visible(get(client, f"/app/teams/{team}/edit", boss, q=search))
        assert found in page, search


# 12 --------------------------------------------------------------------------------------------------------
def test_error_summaries_show_each_message_once_linked_to_its_field_never_the_field_name(client, launch):
    ada = launch(sub="ada", name="Ada Lovelace")
    boss = launch(role="instructor", sub="boss")
    empty = client.post("/app/teams/manage", data={"lt": boss, "name": "   "})
    summary = _summary(text(empty))
    assert '<a href="#t-name">Give the team a name.</a>' in summary and "name:" not in summary
    team = create_team(client, boss, "Red")
    nobody = _summary(text(client.post(f"/app/teams/{team}/members", data={"lt": boss})))
    assert '<a href="#t-user_id">Choose at least one learner.</a>' in nobody and "user_id:" not in nobody
    assert 'id="t-user_id"' in text(get(client, f"/app/teams/{team}/edit", boss))

    cid = _mission(client, boss)
    client.post(f"/app/challenges/{cid}/evidence", data={"lt": ada, "text": "Drafted feedback."})
    [evidence] = _queued_ids(client, boss)
    returned = _summary(text(_review(client, boss, evidence, "return")))
    assert returned.count("Say what to revise") == 1 and 'href="#f-comment"' in returned


# 13, 14, 15 ------------------------------------------------------------------------------------------------
def _css(client) -> str:
    response = client.get("/static/css/tinker.css")
    css = response.get_data(as_text=True)
    response.close()
    return css


def _rule(css: str, selector: str) -> str:
    return re.search(rf"(?m)^{re.escape(selector)} \{{([^}}]*)\}}", css).group(1)


def _luminance(hex_colour: str) -> float:
    def channel(c: int) -> float:
        c = c / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def _contrast(a: str, b: str) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def test_long_words_wrap_instead_of_widening_the_page(client, launch):
    css = _css(client)
    wrapping = re.search(r"(?m)^([^{}\n]+) \{ overflow-wrap: anywhere; \}", css).group(1)
    for selector in ("h1", "h2", "h3", ".prose", ".card h3", "a"):
        assert selector in [s.strip() for s in wrapping.split(",")], selector
    assert re.search(r"(?m)^th, td, th a, td a \{ overflow-wrap: break-word; \}", css)
    manager = launch(role="instructor", sub="boss")
    cid = challenge_id(create(client, manager, title="x" * 185))
    assert "x" * 185 in visible(show(client, manager, cid))


def test_table_scrollers_keep_hidden_text_inside_and_are_labelled_keyboard_regions(client, launch):
    assert "position: relative" in _rule(_css(client), ".table-wrap")
    boss = launch(role="instructor", sub="boss")
    create_team(client, boss, "Red")
    page = text(get(client, "/app/teams/manage", boss))
    assert '<div class="table-wrap" tabindex="0" role="region" aria-label="Teams of this course">' in page


def test_the_small_team_summary_keeps_rank_and_points_only(app):
    from types import SimpleNamespace

    from plugin.leaderboards.queries import TeamRow

    row = TeamRow(rank=1, team_id=1, name="Red", members=3, points=36, experimenters=2, helpers=1)
    with app.test_request_context():
        macros = app.jinja_env.get_template("macros/boards.html").module
        small = str(macros.board_summary(SimpleNamespace(board=None, teams=[row]), SimpleNamespace(can_manage=False),
                                         "Top"))
        full = str(macros.team_table([row], "points_per_member", "Teams", {"points_per_member": "Points per member"}))
    assert "Rank" in small and "Points per member" in small and "Experimented" not in small
    assert "Experimented" in full and "67%" in full and "(2 of 3)" in full and "33%" in full
    assert 'tabindex="0" role="region" aria-label="Teams by points per member, all time"' in small


def test_the_focus_ring_contrasts_3_to_1_with_the_page_and_the_yellow_halo(client):
    css = _css(client)
    variables = dict(re.findall(r"--([\w-]+): (#[0-9a-fA-F]{6})", css))
    focus = _rule(css, ":focus-visible")
    ring = re.search(r"outline: 3px solid var\(--([\w-]+)\)", focus).group(1)
    assert "outline-offset" in focus and "var(--focus)" in focus  # the dark ring sits outside the yellow halo
    for background in ("#ffffff", variables["bg"], variables["focus"], variables["accent"]):
        assert _contrast(variables[ring], background) >= 3 or _contrast(variables["focus"], background) >= 3
    assert _contrast(variables[ring], "#ffffff") >= 3 and _contrast(variables[ring], variables["focus"]) >= 3


# 16 --------------------------------------------------------------------------------------------------------
def test_403_and_404_pages_keep_the_navigation_inside_a_launch(client, launch):
    ada = launch(sub="ada")
    forbidden = client.get("/app/challenges/new", query_string={"lt": ada})
    missing = client.get("/app/challenges/999999", query_string={"lt": ada})
    assert (forbidden.status_code, missing.status_code) == (403, 404)
    for response in (forbidden, missing):
        page = text(response)
        assert '<header class="topbar">' in page
        assert re.search(r'<p data-testid="error-back"><a href="/app/\?lt=[^"]+">Back to my dashboard</a></p>', page)
    outside = client.application.test_client().get("/app/challenges/new")  # no launch: no navigation to offer
    assert outside.status_code == 401 and 'class="topbar"' not in text(outside)


def test_an_ordinary_challenge_still_refuses_an_uploaded_data_set(client, launch):
    manager = launch(role="instructor", sub="boss")
    response = client.post("/app/challenges/", data={
        "lt": manager, "title": "With data", "goal_kind": "count", "goal_value": "1", **WINDOW,
        "dataset": (BytesIO(b"a,b\n1,2\n"), "d.csv")}, content_type="multipart/form-data")
    assert response.status_code == 422 and "Only sandbox missions carry a data set." in visible(response)


def test_pages_name_an_icon_the_server_has(client, launch):
    """Browsers asked for /favicon.ico on every page and got a 404 (the one console error of a walkthrough): the tool's
    pages, the LMS's launch page and the development LMS name an icon that is served."""
    learner = launch(sub="ada")
    for page in (client.get("/app/", query_string={"lt": learner}), client.get("/dev/lms/")):
        icon = re.search(r'<link rel="icon" href="([^"]+)" type="image/svg\+xml">', text(page))
        assert icon is not None, page.request.path
        served = client.get(icon.group(1))
        assert served.status_code == 200 and served.mimetype == "image/svg+xml"
        assert b"<svg" in served.get_data()
        served.close()
