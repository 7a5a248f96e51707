"""Launches shaped like the LMSs really send them (../shared/LMS-NOTES.md): each is accepted and lands
with the right role, course and person, through the full validation."""
import pytest
from sqlalchemy import select

from tests.support.platform import DROP, LTI, FakePlatform, token_from

LIS = "http://purl.imsglobal.org/vocab/lis/v2/"

# name: (platform kwargs, claim overrides, expected role, expected course title)
QUIRKS = {
    "moodle-student": (
        {"issuer": "https://moodle.example.edu", "client_id": "AbCdEfGhIjKlMnO", "deployment_id": "1"},
        {"sub": "3", LTI + "roles": [LIS + "membership#Learner"],
         LTI + "context": {"id": "2", "label": "AIW", "title": "AI at Work", "type": ["CourseSection"]},
         LTI + "lis": {"person_sourcedid": "", "course_section_sourcedid": ""},
         LTI + "ext": {"user_username": "student1", "lms": "moodle-2"},
         "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice": {
             "context_memberships_url": "https://moodle.example.edu/mod/lti/services.php/CourseSection/2/bindings/1/memberships",
             "service_versions": ["1.0", "2.0"]},
         "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint": {
             "lineitems": "https://moodle.example.edu/mod/lti/services.php/2/lineitems?type_id=1",
             "scope": ["https://purl.imsglobal.org/spec/lti-ags/scope/score"]}},
        "learner", "AI at Work"),
    "moodle-site-admin": (
        {"issuer": "https://moodle.example.edu", "client_id": "AbCdEfGhIjKlMnO", "deployment_id": "1"},
        {"sub": "2", LTI + "roles": [LIS + "institution/person#Administrator", LIS + "membership#Instructor",
                                     LIS + "system/person#Administrator"],
         LTI + "context": {"id": "2", "label": "AIW", "title": "AI at Work", "type": ["CourseSection"]}},
        "admin", "AI at Work"),
    "canvas-student": (
        {"issuer": "https://canvas.instructure.com", "client_id": "10000000000042",
         "deployment_id": "7:3f2a1b4c5d6e7f8091a2b3c4d5e6f708192a3b4c"},
        {"sub": "535fa085f22b4655f48cd5a36a9215f64c062838",
         LTI + "roles": [LIS + "institution/person#Student", LIS + "membership#Learner", LIS + "system/person#User"],
         LTI + "context": {"id": "4dde05e8ca1973bcca9bffc13e1548820eee93a3", "label": "L&D", "title": "L&D Academy",
                           "type": [LIS + "course#CourseOffering"]},
         "https://purl.imsglobal.org/spec/lti/claim/custom": {"canvas_user_id": "42"},
         "name": DROP, "email": DROP},
        "learner", "L&D Academy"),
    "canvas-ta": (
        {"issuer": "https://canvas.instructure.com", "client_id": "10000000000042",
         "deployment_id": "7:3f2a1b4c5d6e7f8091a2b3c4d5e6f708192a3b4c"},
        {LTI + "roles": [LIS + "membership/Instructor#TeachingAssistant", LIS + "institution/person#Instructor"],
         LTI + "context": {"id": "4dde05e8ca1973bcca9bffc13e1548820eee93a3", "title": "L&D Academy"}},
        "manager", "L&D Academy"),
    "canvas-observer": (
        {"issuer": "https://canvas.instructure.com", "client_id": "10000000000042",
         "deployment_id": "7:3f2a1b4c5d6e7f8091a2b3c4d5e6f708192a3b4c"},
        {LTI + "roles": [LIS + "membership#Mentor"],
         LTI + "context": {"id": "4dde05e8ca1973bcca9bffc13e1548820eee93a3", "title": "L&D Academy"},
         LTI + "role_scope_mentor": ["a62c52c02ba262003f5e"]},
        "observer", "L&D Academy"),
    "blackboard-instructor": (
        {"issuer": "https://blackboard.com", "client_id": "b8c3f0a5-1d2e-4f3a-9b8c-7d6e5f4a3b2c",
         "deployment_id": "8a4c1e7b-7d1f-4a6e-9b2d-5c3e1f0a9b8d"},
        {LTI + "roles": [LIS + "membership#Instructor", LIS + "institution/person#Faculty"],
         LTI + "context": {"id": "_12345_1", "label": "AI101", "title": "AI 101",
                           "type": [LIS + "course#CourseOffering"]}},
        "manager", "AI 101"),
    "brightspace-learner": (
        {"issuer": "https://school.brightspace.com", "client_id": "6f1f2c3b-0c9f-4d1d-8b5a-2f3e4d5c6b7a",
         "deployment_id": "d7e8f9a0-b1c2-43d4-95e6-f7a8b9c0d1e2"},
        {LTI + "roles": [LIS + "membership#Learner", "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Learner"],
         LTI + "context": {"id": "6606", "label": "AIW", "title": "AI at Work (D2L)"}},
        "learner", "AI at Work (D2L)"),
    "sakai-short-roles": (
        {"issuer": "https://sakai.example.edu", "client_id": "tinker-sakai", "deployment_id": "1"},
        {LTI + "roles": ["Instructor"], LTI + "context": {"id": "site-1", "title": "Sakai site"}},
        "manager", "Sakai site"),
    "lti11-urn-roles": (
        {"issuer": "https://legacy.example.edu", "client_id": "legacy", "deployment_id": "1"},
        {LTI + "roles": ["urn:lti:role:ims/lis/Learner"], LTI + "context": {"id": "c-legacy", "title": "Legacy"}},
        "learner", "Legacy"),
}


@pytest.mark.parametrize("quirk", sorted(QUIRKS))
def test_real_platform_shapes_launch(app, cli, quirk):
    kwargs, overrides, role, title = QUIRKS[quirk]
    platform = FakePlatform(**kwargs)
    try:
        assert cli(*platform.register_args()).exit_code == 0
        client = app.test_client()
        response, flow = platform.launch(client, overrides=overrides, sub=overrides.get("sub", "user-1"))
        token_from(response)
        with app.app_context():
            from plugin.extensions import db
            from plugin.tenancy.models import Course, Membership, User

            user = db.session.scalar(select(User).where(User.sub == flow.claims["sub"]))
            membership = db.session.scalar(select(Membership).where(Membership.user_id == user.id))
            course = db.session.get(Course, membership.course_id)
            assert membership.role == role
            assert course.title == title
            if overrides.get("name") is DROP:  # the LMS withholds name and e-mail (Canvas privacy level)
                assert user.name is None and user.email is None
    finally:
        platform.close()


def test_hosted_canvas_two_schools_share_the_issuer_but_not_their_courses(app, cli):
    """One issuer, two developer keys (client ids) in two organisations: each launch lands in its own."""
    schools = [FakePlatform(issuer="https://canvas.instructure.com", client_id=cid, deployment_id=f"{n}:abc")
               for n, cid in ((1, "10000000000001"), (2, "10000000000002"))]
    try:
        for n, school in enumerate(schools, start=1):
            assert cli(*school.register_args(org=f"School {n}")).exit_code == 0
        client = app.test_client()
        for school in schools:
            token_from(school.launch(client, sub="same-opaque-id", context_id="same-context")[0])
        with app.app_context():
            from plugin.extensions import db
            from plugin.tenancy.models import Course

            organisations = {c.organisation_id for c in db.session.scalars(select(Course))}
            assert len(organisations) == 2
    finally:
        for school in schools:
            school.close()
