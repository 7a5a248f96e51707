"""The development LMS launches the tool through the same OIDC flow a real platform uses."""

import requests

from plugin import create_app
from tests.web.helpers import autopost, next_url


def test_dev_lms_launch_walks_the_real_flow_over_http(live_server):
    base = live_server.base_url
    assert live_server.test_cli_runner().invoke(args=["demo", "seed"]).exit_code == 0
    browser = requests.Session()
    home = browser.get(f"{base}/dev/lms/")
    assert home.status_code == 200 and "Ayşe Yılmaz" in home.text
    login_page = browser.post(f"{base}/dev/lms/launch", data={"sub": "dev-learner-1", "course": "dev-course-101"})
    login = autopost(browser, login_page)
    assert login.status_code == 200 and 'data-target="_parent"' in login.text  # the dev LMS offers storage
    assert next_url(login).startswith(f"{base}/dev/lms/auth?")
    auth_page = browser.get(next_url(login))
    launched = autopost(browser, auth_page)
    assert launched.status_code == 303, launched.text[-1500:]
    assert launched.headers["Location"].startswith("/app/?lt=")
    dashboard = browser.get(base + launched.headers["Location"])
    # Ayşe's launch carries locale "tr": her dashboard opens in Turkish.
    assert '<html lang="tr">' in dashboard.text and "<h1>Panom</h1>" in dashboard.text and "Ayşe Yılmaz" in dashboard.text


def test_dev_lms_refuses_a_tampered_auth_request(live_server):
    base = live_server.base_url
    live_server.test_cli_runner().invoke(args=["demo", "seed"])
    browser = requests.Session()
    login = autopost(browser, browser.post(f"{base}/dev/lms/launch",
                                            data={"sub": "dev-learner-1", "course": "dev-course-101"}))
    tampered = next_url(login).replace("redirect_uri=http", "redirect_uri=https")
    assert browser.get(tampered).status_code == 400


def test_demo_seed_is_idempotent_and_consistent(app, cli):
    first = cli("demo", "seed")
    assert "Demo data loaded" in first.output
    assert "already present" in cli("demo", "seed").output
    assert cli("ledger", "verify").exit_code == 0
    assert cli("ledger", "verify-aggregates").exit_code == 0  # seeded through the writers: boards in step
    with app.app_context():
        from sqlalchemy import func, select

        from plugin.experiments.models import Experiment
        from plugin.extensions import db
        from plugin.teams.models import Team
        from plugin.tenancy.models import Course, Membership

        assert db.session.scalar(select(func.count()).select_from(Course)) == 2
        assert db.session.scalar(select(func.count()).select_from(Team)) == 4  # 3 teams and a pilot team of 3
        learners = db.session.scalar(select(func.count(func.distinct(Membership.user_id))).where(Membership.role == "learner"))
        assert 25 <= learners <= 35
        assert db.session.scalar(select(func.count()).select_from(Experiment)) > 50
        from plugin.challenges.models import Challenge
        running = db.session.scalars(select(Challenge).order_by(Challenge.id)).all()
        assert [c.is_mission for c in running] == [False, False, True] and running[1].team_id is not None
        assert running[0].contributor_count > 0  # experiments already logged in its window count


def test_the_demos_experiments_read_in_date_order_each_in_its_own_words(app, cli):
    """Lists show the newest first by id: the demo's entries were logged person by person with random dates, so
    "Shared experiments" read out of order, a "First experiment" badge pointed at someone's latest entry, and
    every entry ended in a random code (kept apart from near-duplicates of the same idea)."""
    assert "Demo data loaded" in cli("demo", "seed").output
    with app.app_context():
        import re

        from sqlalchemy import select

        from plugin.badges.models import BadgeAward, BadgeClass
        from plugin.experiments.models import Experiment
        from plugin.extensions import db

        rows = db.session.execute(select(Experiment.id, Experiment.created_at, Experiment.course_id,
                                         Experiment.user_id, Experiment.tried).order_by(Experiment.id)).all()
        assert [r.created_at for r in rows] == sorted(r.created_at for r in rows)
        assert not [r.tried for r in rows if re.search(r"\([0-9a-f]{4}\)$", r.tried)]
        first = {}
        for row in rows:
            first.setdefault((row.course_id, row.user_id), row.id)
        awards = db.session.execute(select(BadgeAward.course_id, BadgeAward.user_id, BadgeAward.source_id).join(
            BadgeClass, BadgeClass.id == BadgeAward.badge_id).where(BadgeClass.name == "First experiment")).all()
        assert awards and [a for a in awards if a.source_id != first[(a.course_id, a.user_id)]] == []


def test_dev_lms_is_off_in_production(tmp_path, monkeypatch):
    monkeypatch.setenv("TINKER_SECRET_KEY", "x" * 40)
    monkeypatch.setenv("TINKER_BASE_URL", "https://tinker.example.org")
    prod = create_app({"TINKER_ENV": "production", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/p.db"})
    assert prod.config["DEV_LMS_ENABLED"] is False
    assert prod.test_client().get("/dev/lms/").status_code == 404
    assert prod.debug is False


def test_demo_seed_refuses_where_the_development_lms_is_off(tmp_path, monkeypatch):
    """Production: demo people and experiments must not land in the real database (under a registration of a
    development LMS that is not even served)."""
    import flask_migrate
    from sqlalchemy import func, select

    from plugin.extensions import db
    from plugin.tenancy.models import Organisation, Platform

    monkeypatch.setenv("TINKER_SECRET_KEY", "x" * 40)
    monkeypatch.setenv("TINKER_BASE_URL", "https://tinker.example.org")
    prod = create_app({"TINKER_ENV": "production", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/p.db"})
    with prod.app_context():
        flask_migrate.upgrade()
    result = prod.test_cli_runner().invoke(args=["demo", "seed"])
    assert result.exit_code == 1 and "development LMS" in result.output
    with prod.app_context():
        assert db.session.scalar(select(func.count()).select_from(Platform)) == 0
        assert db.session.scalar(select(func.count()).select_from(Organisation)) == 0
        db.engine.dispose()


def test_dev_lms_deep_linking_places_a_view_that_later_launches_open(live_server):
    import re

    base = live_server.base_url
    assert live_server.test_cli_runner().invoke(args=["demo", "seed"]).exit_code == 0
    browser = requests.Session()
    login = autopost(browser, browser.post(f"{base}/dev/lms/launch", data={
        "sub": "dev-manager-1", "course": "dev-course-101", "message": "deep_link"}))
    launched = autopost(browser, browser.get(next_url(login)))
    assert launched.status_code == 303
    picker = browser.get(base + launched.headers["Location"])
    assert "Lider tablosu" in picker.text  # Fatma's launch carries locale "tr"
    token = re.search(r'name="lt" value="([^"]+)"', picker.text).group(1)
    action = re.search(r'<form method="post" action="([^"]+)"', picker.text).group(1)
    submitted = browser.post(base + action, data={"lt": token, "view": "leaderboard"})
    placed = autopost(browser, submitted)  # the signed answer goes back to the LMS
    assert placed.status_code == 200
    # The link is titled in the language of whoever placed it.
    assert 'data-testid="placed-title">Lider tablosu<' in placed.text and "tinker_view=leaderboard" in placed.text
    # A learner opening the placed link lands on the leaderboard.
    learner_login = autopost(browser, browser.post(f"{base}/dev/lms/launch", data={
        "sub": "dev-learner-1", "course": "dev-course-101", "view": "leaderboard"}))
    learner = autopost(browser, browser.get(next_url(learner_login)))
    assert learner.headers["Location"].startswith("/app/leaderboard")


def test_the_demos_hand_awarded_badges_name_their_manager_and_count_as_recognition(app, cli):
    """The demo's Champion badges read "Awarded by a manager: Awarded by a manager" on the learner's page, while the
    manager's "Experimenting, not yet recognised" list still named their holders as never recognised by a manager."""
    assert "Demo data loaded" in cli("demo", "seed").output
    with app.app_context():
        from sqlalchemy import select

        from plugin.badges.models import BadgeAward
        from plugin.core.actor import Actor, Role
        from plugin.core.clock import utcnow
        from plugin.extensions import db
        from plugin.recognition.service import unrecognised
        from plugin.tenancy.models import Course, Membership, User

        awards = db.session.scalars(select(BadgeAward).where(BadgeAward.idempotency_key.like("demo:badge:%"))).all()
        assert awards
        course = db.session.get(Course, awards[0].course_id)
        manager = db.session.scalar(select(User).join(Membership, Membership.user_id == User.id).where(
            Membership.course_id == course.id, User.sub == "dev-manager-1"))
        assert {(a.awarded_by_id, bool(a.comment)) for a in awards} == {(manager.id, True)}
        actor = Actor(user_id=manager.id, course_id=course.id, organisation_id=course.organisation_id,
                      platform_id=course.platform_id, role=Role.MANAGER)
        assert not {a.user_id for a in awards} & set(unrecognised(actor, utcnow()))


def test_the_dev_lms_opened_under_another_name_moves_to_the_tools_address(client):
    """Opened as localhost when the tool's base URL says 127.0.0.1 (or the other way round), the launch was blocked
    inside the frame by the page's own Content-Security-Policy: the page moves to the base URL's address first."""
    moved = client.get("/dev/lms/?course=dev-course-202", base_url="http://127.0.0.1:5000")
    assert moved.status_code == 302
    assert moved.headers["Location"] == "http://localhost/dev/lms/?course=dev-course-202"
    assert client.get("/dev/lms/", base_url="http://localhost").status_code == 200
    assert client.get("/dev/lms/", base_url="http://localhost:80").status_code == 200  # the same address: no loop
