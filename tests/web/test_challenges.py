"""Challenges through the pages, as managers, learners, observers, AI champions and another course see them:
launch token in links and forms, progress bars, boards, sandbox missions with data sets and reviews."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest

from tests.web.helpers import log_experiment, options, text, visible


def _local(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M")  # the organisation's zone is UTC unless an admin changed it


NOW = datetime.now(timezone.utc).replace(second=0, microsecond=0)
WINDOW = {"starts_at": _local(NOW - timedelta(days=1)), "ends_at": _local(NOW + timedelta(days=7))}


def _user_id(client, sub: str) -> int:
    from plugin.extensions import db
    from plugin.tenancy.models import User

    with client.application.app_context():
        return db.session.scalar(db.select(User.id).where(User.sub == sub))


def _form_options(client, token: str) -> str:
    page = client.get("/app/challenges/new", query_string={"lt": token})
    assert page.status_code == 200, text(page)[:500]
    return text(page)


def create(client, token: str, expect: int = 303, files: dict | None = None, **fields):
    data = {"lt": token, "title": "Assessment sprint", "goal_kind": "count", "goal_value": "2", **WINDOW, **fields}
    if files:
        data.update(files)
    response = client.post("/app/challenges/", data=data, content_type="multipart/form-data")
    assert response.status_code == expect, visible(response)[:800]
    return response


def challenge_id(response) -> str:
    return re.search(r"/app/challenges/(\d+)", response.headers["Location"]).group(1)


def show(client, token: str, cid: str):
    return client.get(f"/app/challenges/{cid}", query_string={"lt": token})


# --- managers create, learners progress -------------------------------------------------------------------
def test_a_count_challenge_fills_its_progress_bar_and_badges_its_contributors(client, launch):
    ada, bo = launch(sub="ada", name="Ada Lovelace"), launch(sub="bo", name="Bo Diddley")
    manager = launch(role="instructor", sub="boss", name="The Boss")
    form = _form_options(client, manager)
    assert 'enctype="multipart/form-data"' in form and 'name="lt"' in form
    badge_name, badge = next(iter(options(form, "badge").items()))  # one of the organisation's default badges
    cid = challenge_id(create(client, manager, task_category=options(form, "task_category")["Assessment design"],
                              badge=badge))
    page = text(show(client, ada, cid))
    assert re.search(r'<progress id="progress-\d+" max="2" value="0" aria-labelledby="[^"]+" aria-describedby="[^"]+" '
                     r'aria-valuetext="0 of 2 experiments">', page)
    assert "0 of 2 experiments" in page

    log_experiment(client, ada, task_category=options(text(client.get("/app/experiments/new", query_string={"lt": ada})), "task_category")["Assessment design"])
    other = next(v for k, v in options(text(client.get("/app/experiments/new", query_string={"lt": bo})), "task_category").items()
                 if k != "Assessment design")
    log_experiment(client, bo, task_category=other, title="Another kind of task")
    assert "1 of 2 experiments" in visible(show(client, bo, cid))
    log_experiment(client, bo, title="Rubric from outcomes")
    finished = visible(show(client, ada, cid))
    assert "2 of 2 experiments · Completed" in finished
    board = visible(show(client, ada, cid)).split("Board for this challenge", 1)[1]
    assert "Ada Lovelace (you)" in board and "Bo Diddley" in board
    for token in (ada, bo):
        assert badge_name in visible(client.get("/app/recognition", query_string={"lt": token}))
    listing = visible(client.get("/app/challenges/", query_string={"lt": ada}))
    assert "Assessment sprint" in listing and "You contributed 1 experiment." in listing


def test_an_admin_builds_a_challenge_completed_rule_in_the_editor(client, launch):
    ada = launch(sub="ada", name="Ada Lovelace")
    admin = launch(role="admin", sub="root")
    editor = visible(client.get("/app/admin/rules/new", query_string={"lt": admin, "condition": "challenge_completed"}))
    assert "a challenge is completed (or mission evidence accepted)" in editor and "How many" in editor
    saved = client.post("/app/admin/rules/save", data={
        "lt": admin, "condition": "challenge_completed", "name": "Challenger", "param_count": "1",
        "param_window_days": "0", "points": "30", "dimension": "experimenting", "active": "on", "action": "save"})
    assert saved.status_code == 303
    cid = challenge_id(create(client, admin, goal_value="1"))
    log_experiment(client, ada, title="Summarised a policy")
    assert "Completed" in visible(show(client, ada, cid))
    assert "Challenger (rule version 1)" in visible(client.get("/app/recognition", query_string={"lt": ada}))


def test_moving_the_window_resyncs_progress_and_the_board(client, launch):
    ada = launch(sub="ada", name="Ada Lovelace")
    manager = launch(role="instructor", sub="boss")
    cid = challenge_id(create(client, manager, goal_value="5"))
    log_experiment(client, ada, title="Summarised a policy")
    assert "1 of 5 experiments" in visible(show(client, ada, cid))
    assert "Ada Lovelace" in visible(show(client, ada, cid)).split("Board for this challenge", 1)[1]
    later = {"starts_at": _local(NOW + timedelta(days=1)), "ends_at": _local(NOW + timedelta(days=8))}
    edit = client.post(f"/app/challenges/{cid}", data={"lt": manager, "title": "Assessment sprint",
                                                       "goal_kind": "count", "goal_value": "5", **later},
                       content_type="multipart/form-data")
    assert edit.status_code == 303
    page = visible(show(client, ada, cid))
    assert "0 of 5 experiments" in page and "Coming up" in page
    assert "No points in this window yet." in page


def test_the_challenge_board_follows_the_courses_board_mode(client, launch):
    ada = launch(sub="ada", name="Ada Lovelace")
    manager = launch(role="instructor", sub="boss")
    cid = challenge_id(create(client, manager))
    log_experiment(client, ada, title="Summarised a policy")
    from plugin.extensions import db
    from plugin.leaderboards.models import BoardSetting
    from plugin.tenancy.models import Course

    with client.application.app_context():
        course_id = db.session.scalar(db.select(Course.id).where(Course.context_id == "course-1"))
        db.session.add(BoardSetting(course_id=course_id, mode="team_only"))
        db.session.commit()
    board = visible(show(client, ada, cid)).split("Board for this challenge", 1)[1]
    assert "Ada Lovelace" not in board and "does not show individual boards" in board
    assert "1 of 2 experiments" in visible(show(client, ada, cid))          # progress still shows
    assert "Ada Lovelace" in visible(show(client, manager, cid)).split("Board for this challenge", 1)[1]


def test_a_participation_challenge_shows_the_share_of_learners(client, launch):
    ada = launch(sub="ada")
    launch(sub="bo")
    manager = launch(role="instructor", sub="boss")
    cid = challenge_id(create(client, manager, goal_kind="participation", goal_value="100"))
    log_experiment(client, ada)
    page = text(show(client, ada, cid))
    assert "50% of learners took part (1 of 2) — 50% of the way to the 100% goal" in page
    assert re.search(r'<progress[^>]+max="100" value="50"', page)


def test_the_same_form_sent_twice_creates_one_challenge(client, launch):
    """Back and send again (or a double click, or a retried request) created a second, identical challenge."""
    manager = launch(role="instructor", sub="teacher")
    key = re.search(r'name="submission_key" value="([^"]+)"', _form_options(client, manager)).group(1)
    first = create(client, manager, submission_key=key, title="Prompt clinic")
    again = create(client, manager, submission_key=key, title="Prompt clinic")
    assert challenge_id(first) == challenge_id(again)
    listing = text(client.get("/app/challenges/", query_string={"lt": manager}))
    assert set(re.findall(r'href="/app/challenges/(\d+)\?', listing)) == {challenge_id(first)}
    other = re.search(r'name="submission_key" value="([^"]+)"', _form_options(client, manager)).group(1)
    assert other != key  # a new form is a new challenge
    assert challenge_id(create(client, manager, submission_key=other, title="Prompt clinic")) != challenge_id(first)


def test_a_refused_challenge_form_keeps_its_key(client, launch):
    manager = launch(role="instructor", sub="teacher")
    refused = create(client, manager, expect=422, submission_key="kept-key-123456", title="")
    assert 'name="submission_key" value="kept-key-123456"' in text(refused)


def test_the_form_refuses_bad_input_with_accessible_field_messages(client, launch):
    manager = launch(role="instructor", sub="boss")
    response = create(client, manager, expect=422, starts_at=_local(NOW), ends_at=_local(NOW - timedelta(hours=1)),
                      goal_kind="participation", goal_value="150")
    page = text(response)
    assert "The end must come after the start." in page
    assert re.search(r'id="f-ends_at"[^>]*aria-describedby="zone-hint ends_at-error" aria-invalid="true"', page)
    assert 'id="ends_at-error"' in page and 'role="alert"' in page
    assert 'value="Assessment sprint"' in page  # what was typed is kept


@pytest.mark.parametrize("role", ["learner", "mentor"])
def test_learners_and_observers_cannot_create_or_change_challenges(client, launch, role):
    manager = launch(role="instructor", sub="boss")
    cid = challenge_id(create(client, manager))
    token = launch(role=role, sub=f"x-{role}")
    assert client.get("/app/challenges/new", query_string={"lt": token}).status_code == 403
    assert client.post("/app/challenges/", data={"lt": token, "title": "Mine", "goal_kind": "count",
                                                 "goal_value": "1", **WINDOW}).status_code == 403
    assert client.get(f"/app/challenges/{cid}/edit", query_string={"lt": token}).status_code == 403
    assert client.post(f"/app/challenges/{cid}/cancel", data={"lt": token}).status_code == 403
    assert show(client, token, cid).status_code == 200  # but they can follow it
    assert "Cancel challenge" not in visible(show(client, token, cid))


def test_a_post_without_the_launch_token_is_refused(client, launch):
    launch(role="instructor", sub="boss")
    response = client.post("/app/challenges/", data={"title": "No token", "goal_kind": "count", "goal_value": "1",
                                                     **WINDOW})
    assert response.status_code == 401


def test_another_course_can_neither_see_nor_act_on_a_challenge(client, launch):
    manager = launch(role="instructor", sub="boss")
    cid = challenge_id(create(client, manager, title="Course one only"))
    stranger = launch(role="instructor", sub="boss2", context_id="course-2")
    learner_elsewhere = launch(sub="ada2", context_id="course-2")
    assert show(client, stranger, cid).status_code == 404
    assert show(client, learner_elsewhere, cid).status_code == 404
    assert client.get(f"/app/challenges/{cid}/edit", query_string={"lt": stranger}).status_code == 404
    assert client.post(f"/app/challenges/{cid}/cancel", data={"lt": stranger}).status_code == 404
    assert client.post(f"/app/challenges/{cid}", data={"lt": stranger, "title": "Hijack", "goal_kind": "count",
                                                       "goal_value": "1", **WINDOW}).status_code == 404
    assert "Course one only" not in visible(client.get("/app/challenges/", query_string={"lt": learner_elsewhere}))
    assert "Course one only" in visible(show(client, manager, cid))
    assert "Cancel challenge" in visible(show(client, manager, cid))


def test_a_team_challenge_shows_only_to_its_team(client, launch):
    ada, bo = launch(sub="ada"), launch(sub="bo")
    manager = launch(role="instructor", sub="boss")
    from plugin.extensions import db
    from plugin.teams.service import add_member, ensure_team
    from plugin.tenancy.models import Course

    with client.application.app_context():
        course_id = db.session.scalar(db.select(Course.id).where(Course.context_id == "course-1"))
        add_member(ensure_team(course_id, "Red", NOW), _user_id(client, "ada"))
        db.session.commit()
    team = options(_form_options(client, manager), "team")["Team Red"]
    cid = challenge_id(create(client, manager, title="Red rally", team=team))
    assert "Red rally" in visible(client.get("/app/challenges/", query_string={"lt": ada}))
    assert "Red rally" not in visible(client.get("/app/challenges/", query_string={"lt": bo}))
    assert show(client, bo, cid).status_code == 404


def test_cancelling_stops_the_challenge(client, launch):
    ada = launch(sub="ada")
    manager = launch(role="instructor", sub="boss")
    cid = challenge_id(create(client, manager, title="Short lived"))
    assert client.post(f"/app/challenges/{cid}/cancel", data={"lt": manager, "confirm": "on"}).status_code == 303
    log_experiment(client, ada)
    assert "Cancelled" in visible(show(client, manager, cid))
    assert "0 of 2 experiments" in visible(show(client, manager, cid))
    assert "Short lived" not in visible(client.get("/app/challenges/", query_string={"lt": ada}))
    assert show(client, ada, cid).status_code == 404  # nor by its address: learners see what the list shows


# --- sandbox missions ----------------------------------------------------------------------------------------
def _mission(client, manager, champion_sub: str | None = None, title: str = "Feedback sandbox", **fields) -> str:
    form = _form_options(client, manager)
    extra = {"is_mission": "on", "scenario": "Draft feedback for a fictional essay.",
             "reflection_prompt": "What did the AI get wrong?", "tools": options(form, "ai_tool")["ChatGPT"]}
    if champion_sub:
        extra["champion"] = str(_user_id(client, champion_sub))
    extra.update(fields)
    return challenge_id(create(client, manager, title=title, **extra))


def test_a_mission_data_set_downloads_as_an_attachment_never_as_a_page(client, launch):
    ada = launch(sub="ada")
    manager = launch(role="instructor", sub="boss")
    from io import BytesIO

    cid = _mission(client, manager, files={"dataset": (BytesIO(b"student,score\nA,12\n"), "scores.csv")})
    page = visible(show(client, ada, cid))
    assert "Download the synthetic data set (scores.csv)" in page and "ChatGPT" in page
    download = client.get(f"/app/challenges/{cid}/dataset", query_string={"lt": ada})
    assert download.status_code == 200 and download.data == b"student,score\nA,12\n"
    assert download.headers["Content-Disposition"].startswith("attachment;") and "scores.csv" in download.headers["Content-Disposition"]
    assert download.mimetype == "text/csv" and download.headers["X-Content-Type-Options"] == "nosniff"
    stranger = launch(sub="ada2", context_id="course-2")
    assert client.get(f"/app/challenges/{cid}/dataset", query_string={"lt": stranger}).status_code == 404


@pytest.mark.parametrize("name, content, message", [
    ("page.html", b"<html><body>hi</body></html>", "HTML and other formats are not accepted"),
    ("notes.txt", b"<script>alert(1)</script>", "looks like a web page"),
    ("big.csv", b"a,b\n" + b"1,2\n" * 60_000, "too large"),
])
def test_an_html_or_too_large_data_set_is_refused_with_a_clear_422(client, launch, name, content, message):
    manager = launch(role="instructor", sub="boss")
    from io import BytesIO

    response = client.post("/app/challenges/", data={
        "lt": manager, "title": "Unsafe data", "goal_kind": "count", "goal_value": "1", **WINDOW, "is_mission": "on",
        "scenario": "A scenario", "dataset": (BytesIO(content), name)}, content_type="multipart/form-data")
    assert response.status_code == 422
    page = text(response)
    assert message in page
    assert re.search(r'id="f-dataset"[^>]*aria-describedby="dataset-hint dataset-error" aria-invalid="true"', page)
    assert "Unsafe data" not in visible(client.get("/app/challenges/", query_string={"lt": manager}))


def _review(client, token, evidence_id, decision, comment=""):
    return client.post(f"/app/challenges/evidence/{evidence_id}/review",
                       data={"lt": token, "decision": decision, "comment": comment})


def _queued_ids(client, token) -> list[str]:
    return re.findall(r"/app/challenges/evidence/(\d+)/review", text(client.get("/app/challenges/reviews",
                                                                                query_string={"lt": token})))


def test_evidence_is_returned_with_a_comment_resubmitted_and_accepted_by_the_champion(client, launch):
    ada = launch(sub="ada", name="Ada Lovelace")
    champion = launch(sub="cy", name="Cy Champion")
    manager = launch(role="instructor", sub="boss")
    cid = _mission(client, manager, champion_sub="cy", goal_value="1")
    page = text(show(client, ada, cid))
    assert 'name="lt"' in page and "What did the AI get wrong?" in page
    sent = client.post(f"/app/challenges/{cid}/evidence", data={"lt": ada, "text": "Drafted feedback, fixed two errors.",
                                                                 "link": "https://example.org/my-notes"})
    assert sent.status_code == 303
    assert "Waiting for review" in visible(show(client, ada, cid))
    [evidence] = _queued_ids(client, manager)
    assert _queued_ids(client, champion) == [evidence]

    missing = _review(client, manager, evidence, "return")
    assert missing.status_code == 422 and "Say what to revise" in visible(missing)
    assert _review(client, manager, evidence, "return", "Say which errors you fixed.").status_code == 303
    assert _review(client, champion, evidence, "accept").status_code == 409  # already reviewed
    mine = visible(show(client, ada, cid))
    assert "Returned for revision" in mine and "Say which errors you fixed." in mine and "Submit again" in mine

    client.post(f"/app/challenges/{cid}/evidence", data={"lt": ada, "text": "Fixed a made-up citation and a date."})
    [again] = _queued_ids(client, champion)
    assert _review(client, champion, again, "accept").status_code == 303
    done = visible(show(client, ada, cid))
    assert "Attempt 1: Returned for revision" in done and "Attempt 2: Accepted" in done
    assert "1 of 1 learners accepted · Completed" in done
    assert "Submit again" not in done


def test_reviewers_cannot_review_their_own_evidence_and_other_champions_cannot_review(client, launch):
    ada, cy, dee = launch(sub="ada"), launch(sub="cy"), launch(sub="dee")
    manager = launch(role="instructor", sub="boss")
    cid = _mission(client, manager, champion_sub="cy")
    _mission(client, manager, champion_sub="dee", title="Dee's mission")
    client.post(f"/app/challenges/{cid}/evidence", data={"lt": cy, "text": "The champion tries it too."})
    client.post(f"/app/challenges/{cid}/evidence", data={"lt": ada, "text": "My attempt at the mission."})
    own, adas = _queued_ids(client, manager)
    assert _queued_ids(client, cy) == [adas]                       # never their own
    assert _review(client, cy, own, "accept").status_code == 403
    assert _review(client, dee, adas, "accept").status_code == 403  # champion of another mission
    assert _queued_ids(client, dee) == []
    assert client.get("/app/challenges/reviews", query_string={"lt": ada}).status_code == 403
    assert _review(client, ada, own, "accept").status_code == 403
    elsewhere = launch(role="instructor", sub="boss2", context_id="course-2")
    assert _review(client, elsewhere, adas, "accept").status_code == 404
    assert _review(client, manager, own, "accept").status_code == 303


def test_observers_and_managers_do_not_submit_evidence(client, launch):
    manager = launch(role="instructor", sub="boss")
    cid = _mission(client, manager)
    observer = launch(role="mentor", sub="obs")
    assert "Submit your evidence" not in visible(show(client, observer, cid))
    assert client.post(f"/app/challenges/{cid}/evidence", data={"lt": observer, "text": "Hello there"}).status_code == 403
    assert client.post(f"/app/challenges/{cid}/evidence", data={"lt": manager, "text": "Hello there"}).status_code == 403


def test_evidence_form_errors_are_announced_and_linked(client, launch):
    ada = launch(sub="ada")
    manager = launch(role="instructor", sub="boss")
    cid = _mission(client, manager)
    response = client.post(f"/app/challenges/{cid}/evidence", data={"lt": ada, "text": "x", "link": "javascript:alert(1)"})
    assert response.status_code == 422
    page = text(response)
    assert re.search(r'id="f-text"[^>]*aria-describedby="text-hint text-error" aria-invalid="true"', page)
    assert re.search(r'id="f-link"[^>]*aria-describedby="link-error" aria-invalid="true"', page)
    assert '<a href="#f-link">' in page
