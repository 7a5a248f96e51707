"""Registrations are operator business, done from the command line."""
from sqlalchemy import func, select

from plugin.core.clock import utcnow
from tests.support.platform import FakePlatform


def count(app, model) -> int:
    with app.app_context():
        from plugin.extensions import db

        return db.session.scalar(select(func.count()).select_from(model))


def test_add_platform_is_idempotent(app, cli):
    from plugin.tenancy.models import Deployment, Organisation, Platform

    fake = FakePlatform()
    try:
        args = fake.register_args()
        first, second = cli(*args), cli(*args)
        assert first.exit_code == second.exit_code == 0
        assert count(app, Platform) == 1 and count(app, Deployment) == 1 and count(app, Organisation) == 1
        changed = list(args)
        changed[changed.index("--auth-url") + 1] = "https://lms.example.edu/new-auth"
        assert cli(*changed, "--deployment-id", "deployment-2").exit_code == 0
        assert count(app, Platform) == 1 and count(app, Deployment) == 2
        with app.app_context():
            from plugin.extensions import db

            assert db.session.scalar(select(Platform.auth_login_url)) == "https://lms.example.edu/new-auth"
    finally:
        fake.close()


def test_one_issuer_many_client_ids(app, cli):
    from plugin.tenancy.models import Platform

    for client_id in ("10000000000001", "10000000000002"):
        fake = FakePlatform(issuer="https://canvas.instructure.com", client_id=client_id)
        fake.close()
        assert cli(*fake.register_args()).exit_code == 0
    assert count(app, Platform) == 2


def test_add_platform_rejects_non_http_urls(app, cli):
    fake = FakePlatform()
    fake.close()
    args = fake.register_args()
    args[args.index("--jwks-url") + 1] = "file:///etc/passwd"
    result = cli(*args)
    assert result.exit_code != 0
    assert "key_set_url must be an http(s) URL" in result.output


def test_add_platform_refuses_an_issuer_that_is_not_a_url(app, cli):
    """LTI issuers are URLs: one typed without its scheme would be registered and match no launch ever."""
    from plugin.tenancy.models import Platform

    fake = FakePlatform()
    fake.close()
    args = fake.register_args()
    args[args.index("--issuer") + 1] = "moodle.example.edu"
    result = cli(*args)
    assert result.exit_code == 1
    assert "issuer must be an http(s) URL" in result.output
    assert count(app, Platform) == 0


def test_show_config_prints_the_urls_an_lms_admin_needs(app, cli, platform):
    result = cli("lti", "show-config")
    assert result.exit_code == 0
    assert "OIDC login initiation URL:   http://localhost/lti/login" in result.output
    assert "Redirect (launch) URL:       http://localhost/lti/launch" in result.output
    assert "Public keyset (JWKS) URL:    http://localhost/lti/jwks" in result.output
    assert "https://lms.example.edu client client-123; deployments deployment-1" in result.output
    # what `add-platform` needs again to change the registration (e.g. to accept new deployments)
    platform_line = next(line for line in result.output.splitlines() if "client client-123" in line)
    assert f"auth {platform.issuer}/auth, token {platform.issuer}/token, key set {platform.server.url}" \
        in platform_line and "new deployments recorded" not in platform_line


def test_frame_origin_add_and_remove(app, cli, client, launch):
    assert cli("lti", "frame-origin", "add", "--issuer", "https://lms.example.edu",
               "https://school.instructure.com/").exit_code == 0
    token = launch()
    csp = client.get("/app/", query_string={"lt": token}).headers["Content-Security-Policy"]
    assert "https://school.instructure.com" in csp
    assert cli("lti", "frame-origin", "remove", "--issuer", "https://lms.example.edu",
               "https://school.instructure.com").exit_code == 0
    csp = client.get("/app/", query_string={"lt": token}).headers["Content-Security-Policy"]
    assert "https://school.instructure.com" not in csp


def test_a_stored_frame_origin_that_is_no_origin_never_reaches_the_header_and_can_be_removed(app, cli, client, launch):
    """A row written before hosts were checked (as 0032 deletes them): its pieces would have added "*" and a
    directive to the CSP."""
    from plugin.extensions import db
    from plugin.tenancy.models import FrameOrigin, Platform

    bad = "https://lms.example.edu *; script-src *"
    token = launch()
    with app.app_context():
        platform_id = db.session.scalar(select(Platform.id))
        db.session.add(FrameOrigin(platform_id=platform_id, origin=bad, source="launch", created_at=utcnow()))
        db.session.commit()
    for response in (client.get("/app/", query_string={"lt": launch(sub="another")}),  # read with the session
                     client.get("/app/", query_string={"lt": "forged"})):             # read for an error page
        csp = response.headers["Content-Security-Policy"]
        ancestors = csp.split("frame-ancestors", 1)[1].split(";", 1)[0].split()
        assert ancestors == ["'self'", "https://lms.example.edu"] and "script-src *" not in csp
    assert client.get("/app/", query_string={"lt": token}).status_code == 200
    assert cli("lti", "frame-origin", "remove", "--issuer", "https://lms.example.edu", bad).exit_code == 0
    with app.app_context():
        assert bad not in db.session.scalars(select(FrameOrigin.origin)).all()


def test_frame_origin_rejects_garbage(app, cli, platform):
    result = cli("lti", "frame-origin", "add", "--issuer", platform.issuer, "javascript:alert(1)")
    assert result.exit_code != 0


def test_add_platform_never_moves_a_registration_to_another_organisation(app, cli, platform):
    from plugin.tenancy.models import Organisation

    result = cli(*platform.register_args(org="Somebody Else"))
    assert result.exit_code != 0
    assert "cannot be moved" in result.output
    assert count(app, Organisation) == 1
    args = platform.register_args()
    args = args[:args.index("--org")]  # re-running without --org keeps the organisation
    result = cli(*args)
    assert result.exit_code == 0 and "for 'Test Org'" in result.output


def test_a_registration_nobody_launched_through_can_be_removed_with_what_hangs_off_it(app, cli, client, platform):
    from plugin.lti.models import OidcState
    from plugin.tenancy.models import Deployment, FrameOrigin, Organisation, Platform

    platform.login(client)  # a login begun, never finished: its state goes with the registration
    assert count(app, OidcState) == 1 and count(app, FrameOrigin) >= 1
    result = cli("lti", "remove-platform", "--issuer", platform.issuer, "--client-id", platform.client_id)
    assert result.exit_code == 0, result.output
    assert f"Removed the registration {platform.issuer} / {platform.client_id} of 'Test Org'" in result.output
    assert count(app, Platform) == count(app, Deployment) == count(app, FrameOrigin) == count(app, OidcState) == 0
    assert count(app, Organisation) == 1  # the organisation and its settings stay (other LMSs may join it)
    shown = cli("lti", "show-config").output
    assert platform.issuer not in shown
    # Launching through it is refused like any unknown registration, and it can be registered again.
    refused = client.post("/lti/login", data={
        "iss": platform.issuer, "login_hint": "user-1", "target_link_uri": "http://localhost/lti/launch",
        "client_id": platform.client_id, "lti_deployment_id": platform.deployment_id})
    assert refused.status_code == 400
    assert cli(*platform.register_args()).exit_code == 0 and count(app, Platform) == 1


def test_a_registration_people_launched_through_stays(app, cli, client, platform):
    from plugin.tenancy.models import Course, Platform, User

    response, _ = platform.launch(client, sub="learner-1")
    assert response.status_code in (302, 303)
    result = cli("lti", "remove-platform", "--issuer", platform.issuer)
    assert result.exit_code != 0
    assert "People have launched Tinker through this registration (courses: 1, people: 1)" in result.output
    assert count(app, Platform) == count(app, Course) == count(app, User) == 1
    assert cli("lti", "remove-platform", "--issuer", "https://nowhere.example").exit_code != 0


def test_the_guides_placeholders_are_refused(app, cli):
    from plugin.tenancy.models import Platform

    fake = FakePlatform()
    fake.close()
    for option, value in (("--client-id", "CLIENT_ID"), ("--client-id", "1000..."),
                          ("--deployment-id", "DEPLOYMENT_ID"), ("--deployment-id", "12:abc..."),
                          ("--frame-origin", "https://SCHOOL.instructure.com")):
        args = fake.register_args()
        if option in args:
            args[args.index(option) + 1] = value
        else:
            args += [option, value]
        result = cli(*args)
        assert result.exit_code != 0 and f"{value!r} is a placeholder" in result.output, (value, result.output)
    assert count(app, Platform) == 0
    assert cli(*fake.register_args()).exit_code == 0
    refused = cli("lti", "frame-origin", "add", "--issuer", fake.issuer, "https://SCHOOL.instructure.com")
    assert refused.exit_code != 0 and "is a placeholder" in refused.output
    assert "school.instructure.com" not in cli("lti", "show-config").output
