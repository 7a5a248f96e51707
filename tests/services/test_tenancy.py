"""Registrations keyed by (issuer, client id), idempotent deployments and frame origins, and provisioning
that refreshes what the LMS sends without erasing what it withholds."""
from dataclasses import replace

import pytest
from sqlalchemy import func, select

from plugin.core.actor import Role
from plugin.errors import DomainError, InvalidInput, NotFound
from plugin.extensions import db
from plugin.tenancy import service as tenancy
from plugin.tenancy.models import Course, Deployment, FrameOrigin, Membership, Platform, User
from tests.services.factories import NOW, identity, later, make_platform, platform_spec


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def deployment_ids(platform) -> list[str]:
    return sorted(db.session.scalars(select(Deployment.deployment_id).where(Deployment.platform_id == platform.id)))


# --- registrations --------------------------------------------------------------------------------
def test_registering_the_same_issuer_and_client_again_updates_it(appctx):
    first = tenancy.register_platform(platform_spec(name="Moodle"), NOW)
    db.session.commit()
    updated = replace(platform_spec(name="Moodle (new keys)"), key_set_url="https://lms.example.edu/jwks-v2",
                      auth_login_url="https://lms.example.edu/auth-v2")
    second = tenancy.register_platform(updated, later(60))
    db.session.commit()
    db.session.expire_all()
    assert second.id == first.id
    assert count(Platform) == 1
    stored = db.session.get(Platform, first.id)
    assert stored.key_set_url == "https://lms.example.edu/jwks-v2"
    assert stored.auth_login_url == "https://lms.example.edu/auth-v2"
    assert stored.name == "Moodle (new keys)"
    assert stored.created_at == NOW


def test_re_registering_without_a_name_keeps_the_name(appctx):
    tenancy.register_platform(platform_spec(name="Campus Moodle"), NOW)
    platform = tenancy.register_platform(platform_spec(name=""), NOW)
    assert platform.name == "Campus Moodle"


def test_accept_new_deployments_is_kept_unless_given(appctx):
    platform = tenancy.register_platform(platform_spec(accept_new_deployments=True), NOW)
    assert tenancy.register_platform(platform_spec(), NOW).accept_new_deployments is True
    assert tenancy.register_platform(platform_spec(accept_new_deployments=False), NOW).accept_new_deployments is False
    assert platform.accept_new_deployments is False


def test_one_issuer_with_two_client_ids_is_two_registrations(appctx):
    canvas = "https://canvas.instructure.com"
    one = tenancy.register_platform(platform_spec(canvas, "10000000000001", "School One"), NOW)
    two = tenancy.register_platform(platform_spec(canvas, "10000000000002", "School Two"), NOW)
    assert one.id != two.id
    assert count(Platform, Platform.issuer == canvas) == 2
    assert one.organisation_id != two.organisation_id
    assert tenancy.find_platform(canvas, "10000000000002").id == two.id
    with pytest.raises(NotFound):
        tenancy.find_platform(canvas)  # ambiguous without the client id


@pytest.mark.parametrize("field", ["auth_login_url", "auth_token_url", "key_set_url"])
@pytest.mark.parametrize("bad", ["", "ftp://lms.example.edu/x", "not a url", "javascript:alert(1)"])
def test_endpoints_must_be_http_urls(appctx, field, bad):
    with pytest.raises(InvalidInput) as err:
        tenancy.register_platform(replace(platform_spec(), **{field: bad}), NOW)
    assert field in err.value.errors
    assert count(Platform) == 0


@pytest.mark.parametrize("missing", ["issuer", "client_id"])
def test_issuer_and_client_id_are_required(appctx, missing):
    with pytest.raises(InvalidInput):
        tenancy.register_platform(replace(platform_spec(), **{missing: ""}), NOW)


def test_deployments_are_added_once(appctx):
    platform = tenancy.register_platform(platform_spec(deployment_ids=("dep-1", "dep-2")), NOW)
    tenancy.register_platform(platform_spec(deployment_ids=("dep-2", "dep-3")), NOW)
    again = tenancy.add_deployment(platform, "dep-1", later(5))
    assert deployment_ids(platform) == ["dep-1", "dep-2", "dep-3"]
    assert again.id == tenancy.find_deployment(platform.id, "dep-1").id
    assert again.created_at == NOW
    assert tenancy.find_deployment(platform.id, "dep-9") is None


def test_the_same_deployment_id_on_two_registrations_stays_separate(appctx):
    a = tenancy.register_platform(platform_spec("https://a.example.edu", "c", "Org A"), NOW)
    b = tenancy.register_platform(platform_spec("https://b.example.edu", "c", "Org B"), NOW)
    assert tenancy.find_deployment(a.id, "dep-1").id != tenancy.find_deployment(b.id, "dep-1").id


def test_re_registering_never_moves_courses_out_of_their_organisation(appctx):
    """Updating a registration (e.g. `flask lti add-platform` again without --org) must not split it:
    courses launched before and after the update belong to the same organisation, or the update is refused."""
    platform = make_platform(organisation="Org A")
    old_course, _, _ = tenancy.provision(identity(platform, "ada", context_id="old"), NOW)
    try:
        tenancy.register_platform(replace(platform_spec(organisation="Default organisation"),
                                          key_set_url="https://lms.example.edu/jwks-v2"), later(1))
    except DomainError:
        return
    new_course, _, _ = tenancy.provision(identity(platform, "ada", context_id="new"), later(2))
    assert new_course.organisation_id == old_course.organisation_id


# --- frame origins --------------------------------------------------------------------------------
def test_the_issuer_origin_may_frame_the_tool(appctx):
    platform = tenancy.register_platform(platform_spec("https://lms.example.edu/moodle"), NOW)
    assert tenancy.frame_origins(platform.id) == ["https://lms.example.edu"]


def test_frame_origins_are_normalised_and_deduplicated(appctx):
    platform = tenancy.register_platform(platform_spec(), NOW)
    for given in ["https://Canvas.Example.EDU/courses/12?x=1", "HTTPS://canvas.example.edu", "https://canvas.example.edu/",
                  "http://localhost:8080/lms", "http://LOCALHOST:8080"]:
        tenancy.add_frame_origin(platform, given, NOW)
    assert tenancy.frame_origins(platform.id) == [
        "http://localhost:8080", "https://canvas.example.edu", "https://lms.example.edu"]
    assert count(FrameOrigin, FrameOrigin.platform_id == platform.id) == 3


@pytest.mark.parametrize("bad", [
    "canvas.example.edu", "ftp://canvas.example.edu", "javascript:alert(1)", "", "https://",
    # hosts that are no DNS name: in a CSP header they would add sources or directives ("*", ";"), and HTTP
    # clients end a host at a backslash where urlsplit does not
    "https://a *.evil.example/x", "https://a%20*%20b/", "https://a;report-uri/", "https://evil.example\\.lms.example.edu/",
    "https://evil.example\\@lms.example.edu/", "https://lms.example.edu/a b",
    "https://exa'mple.edu", "https://example.edu./", "https://-bad.example.edu"])
def test_a_frame_origin_must_be_an_origin_of(appctx, bad):
    platform = tenancy.register_platform(platform_spec(), NOW)
    with pytest.raises(InvalidInput):
        tenancy.add_frame_origin(platform, bad, NOW)
    assert tenancy.frame_origins(platform.id) == ["https://lms.example.edu"]


def test_an_international_host_is_kept_in_its_idna_form_as_browsers_send_it(appctx):
    platform = tenancy.register_platform(platform_spec(), NOW)
    tenancy.add_frame_origin(platform, "https://École.example.edu/lms", NOW)
    tenancy.add_frame_origin(platform, "http://[::1]:8080/x", NOW)
    assert tenancy.frame_origins(platform.id) == [
        "http://[::1]:8080", "https://lms.example.edu", "https://xn--cole-9oa.example.edu"]


def test_an_explicit_default_port_is_the_same_origin(appctx):
    platform = tenancy.register_platform(platform_spec(), NOW)
    tenancy.add_frame_origin(platform, "https://canvas.example.edu", NOW)
    tenancy.add_frame_origin(platform, "https://canvas.example.edu:443/courses/1", NOW)
    assert tenancy.frame_origins(platform.id) == ["https://canvas.example.edu", "https://lms.example.edu"]


def test_credentials_in_a_url_are_not_part_of_its_origin(appctx):
    platform = tenancy.register_platform(platform_spec(), NOW)
    tenancy.add_frame_origin(platform, "https://admin:pw@canvas.example.edu/", NOW)
    assert tenancy.frame_origins(platform.id) == ["https://canvas.example.edu", "https://lms.example.edu"]


def test_frame_origins_belong_to_one_registration(appctx):
    a = tenancy.register_platform(platform_spec("https://a.example.edu", "c", "Org A"), NOW)
    b = tenancy.register_platform(platform_spec("https://b.example.edu", "c", "Org B"), NOW)
    tenancy.add_frame_origin(a, "https://portal.example.edu", NOW)
    assert "https://portal.example.edu" not in tenancy.frame_origins(b.id)
    assert tenancy.remove_frame_origin(b, "https://portal.example.edu") is False
    assert tenancy.remove_frame_origin(a, "https://PORTAL.example.edu/x") is True
    assert tenancy.frame_origins(a.id) == ["https://a.example.edu"]


# --- provisioning ---------------------------------------------------------------------------------
@pytest.fixture
def platform(appctx):
    return make_platform()


def test_first_launch_creates_course_user_and_membership(platform):
    course, user, membership = tenancy.provision(
        identity(platform, "ada", name="Ada Lovelace", email="ada@example.edu", context_title="Prompting 101"), NOW)
    db.session.commit()
    assert (course.title, course.label, course.organisation_id) == ("Prompting 101", "COURSE-1", platform.organisation_id)
    assert (user.sub, user.name, user.email, user.display_name) == ("ada", "Ada Lovelace", "ada@example.edu",
                                                                     "Ada Lovelace")
    assert (membership.role, membership.last_launch_at) == ("learner", NOW)


def test_later_launches_reuse_the_rows(platform):
    first = tenancy.provision(identity(platform, "ada"), NOW)
    second = tenancy.provision(identity(platform, "ada"), later(60))
    assert [row.id for row in first] == [row.id for row in second]
    assert (count(Course), count(User), count(Membership)) == (1, 1, 1)
    assert second[2].last_launch_at == later(60)


def test_a_new_name_is_taken_but_a_withheld_one_never_blanks_it(platform):
    tenancy.provision(identity(platform, "ada", name="Ada Lovelace", email="ada@example.edu"), NOW)
    _, user, _ = tenancy.provision(identity(platform, "ada", name=None, email=None), later(1))
    assert (user.name, user.email) == ("Ada Lovelace", "ada@example.edu")
    _, user, _ = tenancy.provision(identity(platform, "ada", name="Ada King"), later(2))
    db.session.commit()
    db.session.expire_all()
    stored = db.session.get(User, user.id)
    assert (stored.name, stored.email) == ("Ada King", "ada@example.edu")


def test_a_user_the_lms_never_named_is_a_participant(platform):
    _, user, _ = tenancy.provision(identity(platform, "anon", name=None), NOW)
    assert user.name is None
    assert user.display_name == f"Participant {user.id}"


def test_course_title_is_refreshed_but_never_blanked(platform):
    tenancy.provision(identity(platform, "ada", context_title="Old title"), NOW)
    course, _, _ = tenancy.provision(identity(platform, "bo", context_title=""), later(1))
    assert course.title == "Old title"
    course, _, _ = tenancy.provision(identity(platform, "ada", context_title="New title"), later(2))
    assert course.title == "New title"


def test_a_relaunch_writes_no_new_rows_and_a_new_course_adds_only_a_membership(platform):
    from sqlalchemy import event

    first_course, ada, first = tenancy.provision(identity(platform, "ada"), NOW)
    inserts: list[str] = []

    def seen(_conn, _cursor, statement, *_args):
        if statement.lstrip().upper().startswith("INSERT"):
            inserts.append(statement.split("(")[0])

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        course, again, membership = tenancy.provision(identity(platform, "ada", name="Ada L."), later(1))
        assert inserts == []  # found in one read: no insert tried (on PostgreSQL that would burn ids too)
        assert (course.id, again.id, membership.id, again.name) == (first_course.id, ada.id, first.id, "Ada L.")
        other, same, second = tenancy.provision(identity(platform, "ada", context_id="course-2"), later(2))
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    assert same.id == ada.id and other.id != first_course.id and second.id != first.id
    assert [i.split()[-1] for i in inserts] == ["course", "membership"]
    assert count(User, User.sub == "ada") == 1 and count(Membership, Membership.user_id == ada.id) == 2


def test_the_role_follows_the_latest_launch(platform):
    tenancy.provision(identity(platform, "ada", Role.LEARNER), NOW)
    _, _, membership = tenancy.provision(identity(platform, "ada", Role.MANAGER), later(1))
    assert (membership.role, membership.lti_roles) == ("manager", "role:manager")


def test_the_same_sub_on_two_platforms_is_two_people(platform):
    other = make_platform("https://other.example.com", "client-2", organisation="Org B")
    _, here, _ = tenancy.provision(identity(platform, "ada"), NOW)
    _, there, _ = tenancy.provision(identity(other, "ada"), NOW)
    assert here.id != there.id


def test_two_first_launches_of_a_new_organisation_at_once_set_it_up_once(app, appctx):
    """Two people open Tinker at the same moment right after it was installed: both launches load the organisation's
    defaults; neither may fail, and the organisation gets one set of them."""
    from sqlalchemy import func, select

    from plugin.badges.models import BadgeClass
    from plugin.extensions import db
    from plugin.onboarding.service import ensure_defaults
    from plugin.rules.models import Rule
    from tests.services.factories import NOW, platform_spec
    from tests.services.test_concurrency import while_the_first_waits_to_commit

    org = tenancy.register_platform(platform_spec("https://new.example", "c-new", "Org New"), NOW).organisation_id
    while_the_first_waits_to_commit(app, lambda: ensure_defaults(org, NOW), lambda: ensure_defaults(org, NOW))
    rules = db.session.scalar(select(func.count()).select_from(Rule).where(Rule.organisation_id == org))
    badges = db.session.scalar(select(func.count()).select_from(BadgeClass).where(BadgeClass.organisation_id == org))
    assert (rules, badges) == (11, 9)
