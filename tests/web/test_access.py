"""Who may open what: roles, other courses, missing or forged tokens, CSRF."""
import pytest

from tests.web.helpers import experiment_form, log_experiment, text, visible


@pytest.mark.parametrize("path", ["/app/manage/", "/app/manage/recognise", "/app/admin/lists", "/app/admin/rules/",
                                  "/app/admin/scoring", "/app/admin/badges", "/app/admin/audit",
                                  "/app/admin/privacy"])
def test_learners_and_observers_get_403_on_staff_pages(client, launch, path):
    for role, sub in (("learner", "l"), ("mentor", "o")):
        assert client.get(path, query_string={"lt": launch(role=role, sub=sub)}).status_code == 403


def test_learner_cannot_reach_manager_or_admin_pages(client, launch):
    token = launch(role="learner")
    assert client.get("/app/manage/", query_string={"lt": token}).status_code == 403
    assert client.get("/app/admin/lists", query_string={"lt": token}).status_code == 403
    assert client.post("/app/admin/lists/tools", data={"lt": token, "name": "Evil"}).status_code == 403


def test_manager_sees_overview_but_not_admin_settings(client, launch):
    token = launch(role="instructor", sub="teacher")
    response = client.get("/app/", query_string={"lt": token})
    assert response.status_code == 303 and "/app/manage/" in response.headers["Location"]
    assert client.get("/app/manage/", query_string={"lt": token}).status_code == 200
    assert client.get("/app/admin/lists", query_string={"lt": token}).status_code == 403


def test_manager_overview_counts_started_learners_and_hides_private_entries(client, launch):
    log_experiment(client, launch(sub="l1"), title="Public try")
    log_experiment(client, launch(sub="l2"), title="Private try", visibility="private")
    launch(sub="l3")
    page = text(client.get("/app/manage/", query_string={"lt": launch(role="instructor", sub="t")}))
    assert 'data-testid="started">2 / 3<' in page
    assert "Public try" in page and "Private try" not in page


def test_other_course_sees_nothing(client, launch):
    author = launch(sub="author", context_id="course-A")
    response = log_experiment(client, author, title="Course A secret sauce")
    experiment_path = response.headers["Location"].split("/logged")[0]
    outsider = launch(sub="outsider", context_id="course-B")
    assert "Course A secret sauce" not in text(client.get("/app/experiments", query_string={"lt": outsider}))
    assert client.get(experiment_path, query_string={"lt": outsider}).status_code == 404
    board = text(client.get("/app/leaderboard", query_string={"lt": outsider}))
    assert "Test Person" not in board
    manager_b = launch(role="instructor", sub="manager-b", context_id="course-B")
    assert "Course A secret sauce" not in text(client.get("/app/manage/", query_string={"lt": manager_b}))


def test_same_person_in_two_courses_sees_each_course_separately(client, launch):
    in_a = launch(sub="both", context_id="course-A")
    log_experiment(client, in_a, title="Only in A", outcome="worked", learned="")
    in_b = launch(sub="both", context_id="course-B")
    dashboard_b = text(client.get("/app/", query_string={"lt": in_b}))
    assert 'data-testid="points-total">0<' in dashboard_b
    assert "Only in A" not in dashboard_b


def test_post_without_token_is_refused_even_with_session_cookie(client, launch):
    token = launch()
    data = experiment_form(client, token)
    data.pop("lt")
    response = client.post("/app/experiments", data=data)
    assert response.status_code == 401
    assert "launch token" in text(response)


def test_forged_token_is_refused(client, launch):
    launch()
    assert client.get("/app/", query_string={"lt": "forged.token.value"}).status_code == 401


def test_expired_token_is_refused(client, launch, app):
    token = launch()
    app.config["LAUNCH_TOKEN_TTL"] = -1
    try:
        response = client.get("/app/", query_string={"lt": token})
    finally:
        app.config["LAUNCH_TOKEN_TTL"] = 3600
    assert response.status_code == 401
    assert "expired" in text(response)


def test_no_launch_at_all(app):
    response = app.test_client().get("/app/")
    assert response.status_code == 401
    assert "Open Tinker from your course" in text(response)


def test_token_in_header_authenticates_xhr(client, launch):
    token = launch()
    fresh = client.application.test_client()
    response = fresh.get("/app/leaderboard", headers={"X-Launch-Token": token, "Accept": "text/html"})
    assert response.status_code == 200


def test_json_clients_get_the_error_envelope(app):
    response = app.test_client().get("/app/", headers={"Accept": "application/json"})
    assert response.status_code == 401
    assert response.get_json() == {"error": {"code": "unauthenticated",
                                             "message": "Open Tinker from your course to continue."}}


def test_unexpected_error_shows_a_page_without_traceback(app, client, launch, monkeypatch):
    token = launch()
    from plugin.leaderboards import service as boards

    def boom(*a, **k):
        raise RuntimeError("kaboom internals")

    monkeypatch.setattr(boards, "individual_board", boom)
    monkeypatch.setitem(app.config, "RAISE_UNEXPECTED", False)
    response = client.get("/app/leaderboard", query_string={"lt": token})
    body = text(response)
    assert response.status_code == 500
    assert "Something went wrong on our side" in body
    assert "kaboom" not in body and "Traceback" not in body


@pytest.mark.parametrize("path", ["/app/", "/app/experiments", "/app/leaderboard", "/app/manage/",
                                  "/app/admin/lists", "/app/experiments/new", "/app/recognition", "/app/help",
                                  "/app/manage/recognise", "/app/admin/rules/", "/app/admin/rules/new",
                                  "/app/admin/scoring", "/app/admin/badges", "/app/admin/audit",
                                  "/app/admin/privacy"])
def test_pages_carry_security_headers(client, launch, path):
    token = launch(role="admin", sub="boss")
    response = client.get(path, query_string={"lt": token}, follow_redirects=True)
    assert response.status_code == 200
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'self' https://lms.example.edu" in csp
    assert "script-src 'self'" in csp
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_manager_overview_says_where_the_roster_comes_from(client, launch, app):
    manager = launch(role="instructor", sub="boss")
    page = text(client.get("/app/manage/", query_string={"lt": manager}))
    assert "did not offer a roster service" in page
    from datetime import datetime, timezone

    from sqlalchemy import update

    from plugin.extensions import db
    from plugin.tenancy.models import Course

    with app.app_context():
        db.session.execute(update(Course).values(
            roster_url="https://lms.example.edu/nrps", roster_sync_at=datetime(2026, 11, 28, 9, 30, tzinfo=timezone.utc),
            roster_status="6 added, 0 updated, 0 deactivated"))
        db.session.commit()
    page = visible(client.get("/app/manage/", query_string={"lt": manager}))
    assert "Roster from the LMS, last synced 28 Nov 2026 09:30 UTC : 6 added, 0 updated, 0 deactivated" in page


def _membership(app, sub: str, **values) -> None:
    from sqlalchemy import update

    from plugin.extensions import db
    from plugin.tenancy.models import Membership, User

    with app.app_context():
        user_id = db.session.scalar(db.select(User.id).where(User.sub == sub))
        db.session.execute(update(Membership).where(Membership.user_id == user_id).values(**values))
        db.session.commit()


def test_a_session_keeps_no_managers_rights_once_the_next_launch_made_them_a_learner(client, launch):
    """The manager's first session (its token still in an open tab) acts no more once a later launch gave them
    another role in the course: no manager pages, no manager writes, until they open Tinker again."""
    as_manager = launch(role="instructor", sub="t1")
    assert client.get("/app/manage/", query_string={"lt": as_manager}).status_code == 200
    as_learner = launch(role="learner", sub="t1")
    old = client.get("/app/manage/", query_string={"lt": as_manager})
    assert old.status_code == 401 and "role in this course has changed" in text(old)
    assert client.post("/app/teams/manage", data={"lt": as_manager, "name": "Ghost team"}).status_code == 401
    assert client.post("/app/teams/manage", data={"lt": launch(role="instructor", sub="t2"),
                                                  "name": "Real team"}).status_code == 303  # the form itself works
    assert client.get("/app/", query_string={"lt": as_learner}).status_code == 200  # the new session works


def test_a_manager_the_roster_deactivated_only_reads_for_the_rest_of_the_session(client, launch, app):
    token = launch(role="instructor", sub="t1")
    _membership(app, "t1", status="inactive")  # as a roster sync leaves a teacher removed from the course
    assert client.get("/app/manage/", query_string={"lt": token}).status_code == 403
    assert client.get("/app/leaderboard", query_string={"lt": token}).status_code == 200
    assert client.post("/app/teams/manage", data={"lt": token, "name": "Ghost team"}).status_code == 403


def test_an_admin_or_learner_the_roster_leaves_out_keeps_their_session(client, launch, app):
    """An account admin browsing a course is on no roster; a learner the roster made inactive earns nothing but
    still sees the course: neither session ends at the sync."""
    admin = launch(role="admin", sub="a1")
    learner = launch(role="learner", sub="l1")
    _membership(app, "a1", status="inactive")
    _membership(app, "l1", status="inactive")
    assert client.get("/app/admin/lists", query_string={"lt": admin}).status_code == 200
    assert client.get("/app/", query_string={"lt": learner}).status_code == 200


def test_a_session_whose_membership_is_gone_is_refused(client, launch, app):
    from sqlalchemy import delete

    from plugin.extensions import db
    from plugin.tenancy.models import Membership

    token = launch(role="learner", sub="l1")
    with app.app_context():
        db.session.execute(delete(Membership))
        db.session.commit()
    gone = client.get("/app/", query_string={"lt": token})
    assert gone.status_code == 401 and "no longer a member" in text(gone)
