"""Signed claims of the wrong type or size, as a buggy or oddly configured LMS sends them: a malformed optional
claim is ignored as if the LMS had left it out (the launch lands, and text is cut to what Tinker keeps); a
malformed required claim refuses the launch with a 400 page that names it. Never a server error (on PostgreSQL
an over-long value would not fit its column)."""
import pytest
from sqlalchemy import select

from tests.lti.test_launch_rejections import assert_rejected, sessions
from tests.support.platform import LTI, deep_linking_request, token_from


def _person_and_course(app, sub: str = "user-1"):
    from plugin.extensions import db
    from plugin.lti.models import LaunchSession
    from plugin.tenancy.models import Course, User

    with app.app_context():
        user = db.session.scalar(select(User).where(User.sub == sub))
        course = db.session.scalar(select(Course))
        launch_locale = db.session.scalar(select(LaunchSession.locale))
        return ({"name": user.name, "email": user.email, "locale": user.locale},
                {"title": course.title, "label": course.label}, launch_locale)


@pytest.mark.parametrize("presentation", ["iframe", ["iframe"], 42, True])
def test_a_launch_presentation_that_is_not_an_object_is_ignored(client, platform, app, presentation):
    response, _ = platform.launch(client, overrides={LTI + "launch_presentation": presentation})
    token_from(response)
    assert response.headers["Location"].startswith("/app/")


@pytest.mark.parametrize("locale, return_url", [(["tr"], {"url": "x"}), (7, 7), ("x" * 21, "https://" + "a" * 2000)])
def test_locale_and_return_url_of_the_wrong_shape_are_ignored(client, platform, app, locale, return_url):
    response, _ = platform.launch(client, overrides={
        LTI + "launch_presentation": {"locale": locale, "return_url": return_url}, "locale": "tr"})
    token_from(response)
    person, _course, launch_locale = _person_and_course(app)
    assert person["locale"] == "tr" == launch_locale  # the top-level locale claim, the usable one


def test_person_claims_of_the_wrong_type_are_ignored(client, platform, app):
    response, _ = platform.launch(client, overrides={
        "name": {"full": "Ada"}, "given_name": "Ada", "family_name": ["Lovelace"], "email": ["ada@example.edu"]})
    token_from(response)
    person, _course, _locale = _person_and_course(app)
    assert person == {"name": "Ada", "email": None, "locale": "en"}


def test_context_title_and_label_of_the_wrong_type_are_ignored(client, platform, app):
    response, _ = platform.launch(client, overrides={
        LTI + "context": {"id": "course-9", "title": ["AI at Work"], "label": {"short": "AIW"}}})
    token_from(response)
    _person, course, _locale = _person_and_course(app)
    assert course == {"title": "course-9", "label": ""}  # a course without a title is named by its id


def test_over_long_text_is_cut_to_fit_and_unusable_values_are_left_out(client, platform, app):
    response, _ = platform.launch(client, overrides={
        "name": "N" * 1000, "email": "e" * 400 + "@example.edu",
        LTI + "context": {"id": "course-1", "title": "T" * 1000, "label": "L" * 1000},
        LTI + "launch_presentation": {"locale": "en-GB-x-" + "a" * 40}})
    token_from(response)
    person, course, _locale = _person_and_course(app)
    assert person == {"name": "N" * 400, "email": None, "locale": None}
    assert course == {"title": "T" * 400, "label": "L" * 200}


def test_nul_characters_in_names_and_titles_are_dropped_not_a_server_error(client, platform, app):
    """PostgreSQL refuses a NUL character in any text column: a name or course title holding one (a legacy import in
    the LMS) must still launch, with the character left out."""
    response, _ = platform.launch(client, overrides={
        "name": "Ada\x00 Lovelace", "given_name": "Ada\x00", "email": "ada\x00@example.edu",
        LTI + "context": {"id": "course-1", "title": "AI\x00 at Work", "label": "AI\x00W"}})
    token_from(response)
    person, course, _locale = _person_and_course(app)
    assert person["name"] == "Ada Lovelace" and person["email"] in (None, "ada@example.edu")
    assert course == {"title": "AI at Work", "label": "AIW"}
    for needle in ("sub", LTI + "deployment_id"):
        response, _ = platform.launch(client, overrides={needle: "x\x00y"})
        assert response.status_code == 400 and sessions(app) == 1, needle  # an id with NUL is refused, cleanly


@pytest.mark.parametrize("overrides, fragment", [
    ({LTI + "context": {"id": {"id": "course-1"}}}, "context.id claim is malformed"),
    ({LTI + "context": {"id": ["course-1"]}}, "context.id claim is malformed"),
    ({LTI + "context": {"id": "c" * 401}}, "context.id claim is malformed"),
    ({"sub": "s" * 401}, "sub claim is malformed"),
    ({LTI + "deployment_id": "d" * 401}, "deployment_id claim is malformed"),
    ({LTI + "resource_link": "rl-1"}, "resource_link claim is malformed"),
    ({LTI + "message_type": ["LtiResourceLinkRequest"]}, "message type"),
    ({LTI + "context": "course-1"}, "outside a course"),
], ids=["context-id-object", "context-id-list", "context-id-too-long", "sub-too-long", "deployment-too-long",
        "resource-link-string", "message-type-list", "context-string"])
def test_a_malformed_required_claim_refuses_the_launch(client, platform, app, overrides, fragment):
    response, _ = platform.launch(client, overrides=overrides)
    body = assert_rejected(response, fragment)
    assert "wrong type or length" in body or "malformed" not in fragment
    assert sessions(app) == 0


def test_deep_linking_settings_that_are_not_an_object_refuse_the_launch(client, platform, app):
    overrides = deep_linking_request()
    overrides["https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"] = ["ltiResourceLink"]
    response, _ = platform.launch(client, role="instructor", overrides=overrides)
    assert_rejected(response, "deep_linking_settings claim is malformed")
    assert sessions(app) == 0


def test_a_numeric_context_id_still_launches(client, platform, app):
    """Some LMSs send the context id as a number: it is the course's id as text."""
    response, _ = platform.launch(client, overrides={LTI + "context": {"id": 2, "title": "AI at Work"}})
    token_from(response)
    _person, course, _locale = _person_and_course(app)
    assert course["title"] == "AI at Work"
