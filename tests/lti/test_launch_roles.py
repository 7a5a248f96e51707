"""A real signed launch per role lands on the right page with the right powers."""
import pytest
from sqlalchemy import select

from tests.support.platform import FakePlatform, token_from


@pytest.mark.parametrize("lms_role, tinker_role, landing", [
    ("learner", "learner", "/app/"),
    ("instructor", "manager", "/app/"),
    ("ta", "manager", "/app/"),
    ("admin", "admin", "/app/"),
    ("mentor", "observer", "/app/"),
])
def test_launch_per_role(client, platform, app, lms_role, tinker_role, landing):
    response, _ = platform.launch(client, role=lms_role, sub=f"u-{lms_role}")
    token = token_from(response)
    assert response.headers["Location"].startswith(landing)
    page = client.get("/app/", query_string={"lt": token}, follow_redirects=True)
    assert page.status_code == 200, page.get_data(as_text=True)[-3000:]
    assert f'<span class="role-chip">{tinker_role.capitalize()}</span>' in page.get_data(as_text=True)
    with app.app_context():
        from plugin.extensions import db
        from plugin.tenancy.models import Membership, User

        user = db.session.scalar(select(User).where(User.sub == f"u-{lms_role}"))
        membership = db.session.scalar(select(Membership).where(Membership.user_id == user.id))
        assert membership.role == tinker_role


LIS = "http://purl.imsglobal.org/vocab/lis/v2/"


@pytest.mark.parametrize("roles, tinker_role, admin_pages", [
    # An Administrator of this one course (a context role): its staff, not the organisation's admin who
    # sets org-wide rules, points and vision and erases people.
    ([LIS + "membership#Administrator"], "manager", 403),
    # Canvas account admin as Canvas sends it; Moodle site admin as Moodle sends it (docs: LMS-NOTES section 4).
    ([LIS + "institution/person#Administrator", LIS + "system/person#SysAdmin", LIS + "system/person#User"],
     "admin", 200),
    ([LIS + "institution/person#Administrator", LIS + "membership#Instructor", LIS + "system/person#Administrator"],
     "admin", 200),
], ids=["course-administrator", "canvas-account-admin", "moodle-site-admin"])
def test_only_an_institution_or_system_administrator_is_the_organisations_admin(client, platform, app, roles,
                                                                               tinker_role, admin_pages):
    response, _ = platform.launch(client, sub="u-adm", overrides={
        "https://purl.imsglobal.org/spec/lti/claim/roles": roles})
    token = token_from(response)
    page = client.get("/app/", query_string={"lt": token}, follow_redirects=True)
    assert f'<span class="role-chip">{tinker_role.capitalize()}</span>' in page.get_data(as_text=True)
    assert client.get("/app/admin/scoring", query_string={"lt": token}).status_code == admin_pages
    assert client.get("/app/manage/", query_string={"lt": token}).status_code == 200


def test_launch_provisions_course_user_without_name_or_email(client, platform, app):
    response, _ = platform.launch(client, sub="anon-ish", name=None)
    token_from(response)
    with app.app_context():
        from plugin.extensions import db
        from plugin.tenancy.models import Course, User

        user = db.session.scalar(select(User).where(User.sub == "anon-ish"))
        assert user.name is None and user.email is None
        assert user.display_name.startswith("Participant ")
        course = db.session.scalar(select(Course).where(Course.context_id == "course-1"))
        assert course.title == "Course course-1"


def test_second_launch_updates_not_duplicates(client, platform, app):
    token_from(platform.launch(client, sub="same", role="learner")[0])
    token_from(platform.launch(client, sub="same", role="instructor")[0])
    with app.app_context():
        from plugin.extensions import db
        from plugin.tenancy.models import Membership, User

        users = db.session.scalars(select(User).where(User.sub == "same")).all()
        assert len(users) == 1
        memberships = db.session.scalars(select(Membership).where(Membership.user_id == users[0].id)).all()
        assert [m.role for m in memberships] == ["manager"]


def test_login_accepts_get_as_well_as_post(client, platform):
    flow = platform.login(client, method="get")
    assert flow.redirect_uri == "http://localhost/lti/launch"
    assert flow.state and flow.nonce


def test_launch_records_return_url_origin_as_frame_ancestor(client, platform, app):
    token = token_from(platform.launch(client)[0])
    page = client.get("/app/", query_string={"lt": token})
    csp = page.headers["Content-Security-Policy"]
    assert "frame-ancestors 'self'" in csp
    assert "https://lms.example.edu" in csp


def test_same_user_id_on_two_platforms_are_two_people(client, platform, app, cli):
    from tests.support.platform import FakePlatform

    other = FakePlatform(issuer="https://canvas.example.com", client_id="10000000000042",
                         deployment_id="12:abcdef")
    try:
        assert cli(*other.register_args(org="Other Org")).exit_code == 0
        token_from(platform.launch(client, sub="42")[0])
        token_from(other.launch(client, sub="42")[0])
        with app.app_context():
            from plugin.extensions import db
            from plugin.tenancy.models import User

            assert len(db.session.scalars(select(User).where(User.sub == "42")).all()) == 2
    finally:
        other.close()


def test_cookies_behind_an_https_proxy_are_cross_site_and_partitioned(app, db_url, tmp_path):
    """Behind a TLS-terminating proxy, X-Forwarded-Proto makes the state and session cookies
    `Secure; SameSite=None; Partitioned`, which an LMS iframe needs."""
    from plugin import create_app

    proxied = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": db_url, "TINKER_BASE_URL": "https://tinker.example",
                          "TRUST_PROXY_HEADERS": True, "DEV_LMS_KEY_PATH": str(tmp_path / "k.pem")})
    fake = FakePlatform()
    try:
        assert proxied.test_cli_runner().invoke(args=fake.register_args()).exit_code == 0
        client = proxied.test_client()
        response = client.post("/lti/login", headers={"X-Forwarded-Proto": "https"}, data={
            "iss": fake.issuer, "client_id": fake.client_id, "login_hint": "u"})
        cookie = response.headers["Set-Cookie"]
        assert "Secure" in cookie and "SameSite=None" in cookie and "Partitioned" in cookie
        flow_state = cookie.split("=", 1)[1].split(";", 1)[0]
        from urllib.parse import parse_qs, urlsplit

        nonce = parse_qs(urlsplit(response.headers["Location"]).query)["nonce"][0]
        launched = client.post("/lti/launch", headers={"X-Forwarded-Proto": "https"},
                               data={"id_token": fake.sign(fake.claims(nonce)), "state": flow_state})
        assert launched.status_code == 303
        session_cookie = next(c for c in launched.headers.getlist("Set-Cookie") if c.startswith("tinker_session="))
        assert "Secure" in session_cookie and "SameSite=None" in session_cookie and "Partitioned" in session_cookie
    finally:
        fake.close()


