"""LTI roles -> Tinker roles, with the role lists real platforms send."""
import pytest

from plugin.core.actor import Role
from plugin.lti.roles import map_roles

LIS = "http://purl.imsglobal.org/vocab/lis/v2/"
LEARNER = LIS + "membership#Learner"
INSTRUCTOR = LIS + "membership#Instructor"
MENTOR = LIS + "membership#Mentor"
TA = LIS + "membership/Instructor#TeachingAssistant"
INST_ADMIN = LIS + "institution/person#Administrator"
INST_STUDENT = LIS + "institution/person#Student"
INST_INSTRUCTOR = LIS + "institution/person#Instructor"
INST_FACULTY = LIS + "institution/person#Faculty"
SYS_ADMIN = LIS + "system/person#Administrator"
SYS_USER = LIS + "system/person#User"


# --- Moodle (full URIs) ---------------------------------------------------------------------------
def test_moodle_student_is_a_learner():
    assert map_roles([LEARNER]) is Role.LEARNER


def test_moodle_teacher_is_a_manager():
    assert map_roles([INSTRUCTOR]) is Role.MANAGER


def test_moodle_site_admin_is_an_admin():
    assert map_roles([INST_ADMIN, INSTRUCTOR, SYS_ADMIN]) is Role.ADMIN


# --- Canvas combinations --------------------------------------------------------------------------
def test_canvas_student_with_institution_and_system_roles_is_a_learner():
    assert map_roles([INST_STUDENT, LEARNER, SYS_USER]) is Role.LEARNER


def test_canvas_teaching_assistant_sub_role_is_a_manager():
    assert map_roles([TA, SYS_USER]) is Role.MANAGER


def test_canvas_observer_is_an_observer():
    assert map_roles([MENTOR, SYS_USER]) is Role.OBSERVER


def test_canvas_admin_not_enrolled_in_the_course_is_an_admin():
    assert map_roles([INST_ADMIN]) is Role.ADMIN


def test_canvas_account_admin_as_canvas_sends_it_is_an_admin():
    assert map_roles([INST_ADMIN, LIS + "system/person#SysAdmin", SYS_USER]) is Role.ADMIN


def test_an_administrator_of_one_course_is_its_staff_not_the_organisations_admin():
    assert map_roles([LIS + "membership#Administrator"]) is Role.MANAGER
    assert map_roles([LIS + "membership/Administrator#Support", LEARNER]) is Role.MANAGER
    assert map_roles([LIS + "membership#Administrator", INST_ADMIN]) is Role.ADMIN


def test_faculty_at_the_institution_who_is_a_learner_in_this_course_is_a_learner():
    assert map_roles([INST_INSTRUCTOR, INST_FACULTY, LEARNER]) is Role.LEARNER


# --- short and LTI 1.1 forms ----------------------------------------------------------------------
@pytest.mark.parametrize("roles, expected", [
    (["Learner"], Role.LEARNER),
    (["Instructor"], Role.MANAGER),
    (["Student"], Role.LEARNER),
    (["TeachingAssistant"], Role.MANAGER),
    (["ContentDeveloper"], Role.MANAGER),
    (["Mentor"], Role.OBSERVER),
    (["Administrator"], Role.MANAGER),  # a context role: this course's administrator
    ([" Learner "], Role.LEARNER),
])
def test_short_forms(roles, expected):
    assert map_roles(roles) is expected


@pytest.mark.parametrize("roles, expected", [
    (["urn:lti:role:ims/lis/Instructor"], Role.MANAGER),
    (["urn:lti:role:ims/lis/Learner"], Role.LEARNER),
    (["urn:lti:role:ims/lis/Instructor/TeachingAssistant"], Role.MANAGER),
    (["urn:lti:role:ims/lis/Learner/NonCreditLearner"], Role.LEARNER),
    (["urn:lti:role:ims/lis/Mentor"], Role.OBSERVER),
    (["urn:lti:role:ims/lis/Administrator"], Role.MANAGER),
    (["urn:lti:instrole:ims/lis/Administrator"], Role.ADMIN),
    (["urn:lti:sysrole:ims/lis/Administrator"], Role.ADMIN),
])
def test_lti_1_1_urn_forms(roles, expected):
    assert map_roles(roles) is expected


def test_lti_1_1_institution_instructor_alone_gives_no_course_role():
    assert map_roles(["urn:lti:instrole:ims/lis/Instructor"]) is None


# --- refused --------------------------------------------------------------------------------------
@pytest.mark.parametrize("roles", [
    [INST_FACULTY],
    [INST_INSTRUCTOR],
    [INST_STUDENT],
    [SYS_USER],
    [INST_FACULTY, INST_INSTRUCTOR, SYS_USER],
    [],
    ["http://purl.imsglobal.org/vocab/lti/system/person#TestUser"],
    ["Guest", "Member"],
], ids=["faculty", "inst-instructor", "inst-student", "sys-user", "institution-only", "empty", "test-user",
        "unknown-short"])
def test_no_course_role_means_no_access(roles):
    assert map_roles(roles) is None


def test_empty_tuple_means_no_access():
    assert map_roles(()) is None


def test_non_string_junk_is_ignored_and_does_not_crash():
    assert map_roles([None, 42, {"role": "Instructor"}, ["Instructor"], LEARNER]) is Role.LEARNER
    assert map_roles([None, 42, {"role": "Instructor"}]) is None


# --- precedence -----------------------------------------------------------------------------------
@pytest.mark.parametrize("roles, expected", [
    ([LEARNER, MENTOR], Role.LEARNER),
    ([MENTOR, LEARNER], Role.LEARNER),
    ([INSTRUCTOR, LEARNER], Role.MANAGER),
    ([LEARNER, INSTRUCTOR], Role.MANAGER),
    ([LEARNER, TA], Role.MANAGER),
    ([MENTOR, INSTRUCTOR], Role.MANAGER),
    ([LEARNER, INST_ADMIN], Role.ADMIN),
    ([INSTRUCTOR, SYS_ADMIN], Role.ADMIN),
])
def test_the_strongest_course_role_wins(roles, expected):
    assert map_roles(roles) is expected
