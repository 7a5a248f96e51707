"""Course copy in Canvas: the copy has a new context id and names the old ones in the custom parameter
context_id_history ($Context.id.history, comma-separated, most recent first). A manager's first launch in
the copy offers to carry the old course's settings over; learners never see the offer; nothing about people
comes along."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from plugin.audit.models import AuditEvent
from plugin.challenges.models import Challenge
from plugin.core.clock import utcnow
from plugin.experiments.models import Experiment
from plugin.extensions import db
from plugin.lti import service_token
from plugin.outbox.models import GradeSync
from plugin.tenancy.models import Course, Membership
from tests.support.ags import FakeAgs
from tests.support.platform import LTI, FakePlatform, token_from
from tests.web.helpers import log_experiment, text, visible

AGS = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
OLD, OLDER, NEW = "4dde05e8ca1973bcca9bffc13e1548820eee93a3", "0" * 40, "9f3c0d4b2a1e8f7d6c5b4a3928171615a0b1c2d3"
TITLES = {OLD: "Prompting 101 (Spring)", NEW: "Prompting 101 (Autumn)"}
CANVAS = {  # context + institution + system roles together, as Canvas sends them
    "instructor": ["http://purl.imsglobal.org/vocab/lis/v2/institution/person#Instructor",
                   "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor",
                   "http://purl.imsglobal.org/vocab/lis/v2/system/person#User"],
    "learner": ["http://purl.imsglobal.org/vocab/lis/v2/institution/person#Student",
                "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner",
                "http://purl.imsglobal.org/vocab/lis/v2/system/person#User"],
}


@pytest.fixture
def ags(app):
    from plugin.lti import keys

    def tool_jwks():
        with app.app_context():
            return keys.public_jwks()

    fake = FakeAgs("10000000000042", tool_jwks)
    service_token.forget()
    yield fake
    fake.close()
    service_token.forget()


@pytest.fixture
def canvas(cli, ags):
    fake = FakePlatform(issuer="https://canvas.instructure.com", client_id="10000000000042",
                        deployment_id="123:0123456789abcdef0123456789abcdef01234567")
    result = cli(*fake.register_args(token_url=ags.token_url, org="Example University"))
    assert result.exit_code == 0, result.output
    yield fake
    fake.close()


@pytest.fixture
def launch(client, canvas, ags):
    """A Canvas launch; returns the redirect response. history=None: Canvas's value for a course never copied."""
    def do(role: str, sub: str, context_id: str, history: str | None = None):
        title = TITLES.get(context_id, "Some course")
        overrides = {LTI + "roles": CANVAS[role], AGS: ags.claim(),
                     LTI + "custom": {"context_id_history": history or ""},
                     LTI + "context": {"id": context_id, "title": title, "label": title[:8],
                                       "type": ["http://purl.imsglobal.org/vocab/lis/v2/course#CourseOffering"]}}
        response, _ = canvas.launch(client, role=role, sub=sub, context_id=context_id, overrides=overrides)
        assert response.status_code == 303, text(response)[:800]
        return response

    return do


def token(response) -> str:
    return token_from(response)


@pytest.fixture
def old_course(client, launch, app):
    """Spring term: boards team-only and relative, grade sync on (progress), one course-wide challenge that
    ran in the past, and a learner with an experiment."""
    teacher = token(launch("instructor", "teacher-1", OLD))
    assert client.post("/app/manage/boards", data={"lt": teacher, "mode": "team_only", "relative": "on"}).status_code == 303
    assert client.post("/app/manage/grades", data={"lt": teacher, "enabled": "on", "mode": "progress"}).status_code == 303
    created = client.post("/app/challenges/", data={
        "lt": teacher, "title": "Five experiments in week one", "description": "Try five tasks.", "goal_kind": "count",
        "goal_value": "5", "starts_at": "2026-01-05T09:00", "ends_at": "2026-01-12T09:00"})
    assert created.status_code == 303, text(created)[:1500]
    mission = client.post("/app/challenges/", data={
        "lt": teacher, "title": "Sandbox: summarise a survey", "goal_kind": "participation", "goal_value": "50",
        "starts_at": "2026-02-02T09:00", "ends_at": "2026-02-16T09:00", "is_mission": "on",
        "scenario": "Summarise the synthetic survey answers.", "dataset_text": "answer,score\nfine,3\ngreat,5\n"})
    assert mission.status_code == 303, text(mission)[:1500]
    learner = token(launch("learner", "learner-1", OLD))
    assert log_experiment(client, learner).status_code == 303
    return teacher


def _count(app, model, **where) -> int:
    with app.app_context():
        query = select(func.count()).select_from(model)
        for name, value in where.items():
            query = query.where(getattr(model, name) == value)
        return db.session.scalar(query)


def _course_id(app, context_id: str) -> int:
    with app.app_context():
        return db.session.scalar(select(Course.id).where(Course.context_id == context_id))


def test_manager_is_offered_the_carry_over_and_gets_settings_but_no_people(app, client, launch, old_course):
    first = launch("instructor", "teacher-1", NEW, history=f"{OLD},{OLDER}")
    assert "/lti/course-copy" in first.headers["Location"]
    offer = client.get(first.headers["Location"])
    assert "This course was copied from Prompting 101 (Spring)" in visible(offer)
    teacher = token(first)
    done = client.post("/lti/course-copy", data={"lt": teacher, "decision": "copy", "view": ""})
    assert done.status_code == 303 and "/lti/course-copy" not in done.headers["Location"]

    boards = text(client.get(f"/app/manage/boards?lt={teacher}"))
    assert re.search(r'value="team_only"[^>]*checked', boards) and re.search(r'name="relative"[^>]*checked', boards)
    grades = visible(client.get(f"/app/manage/grades?lt={teacher}"))
    assert "Grade sync is on" in grades
    challenges = visible(client.get(f"/app/challenges/?lt={teacher}"))
    assert "Five experiments in week one" in challenges and "Sandbox: summarise a survey" in challenges

    new_id = _course_id(app, NEW)
    with app.app_context():
        copy, copied_mission = db.session.scalars(select(Challenge).where(Challenge.course_id == new_id)
                                                  .order_by(Challenge.starts_at)).all()
        old, old_mission = db.session.scalars(select(Challenge).where(Challenge.course_id == _course_id(app, OLD))
                                              .order_by(Challenge.starts_at)).all()
        assert copied_mission.is_mission and copied_mission.dataset == old_mission.dataset
        assert copied_mission.starts_at - old_mission.starts_at == copy.starts_at - old.starts_at  # same spacing
        assert copy.starts_at >= utcnow() - timedelta(minutes=5) and copy.starts_at - old.starts_at == timedelta(
            weeks=(copy.starts_at - old.starts_at).days // 7)
        assert copy.ends_at - copy.starts_at == old.ends_at - old.starts_at
        assert copy.starts_at.weekday() == old.starts_at.weekday() and copy.progress_count == 0
        sync = db.session.get(GradeSync, new_id)
        assert sync.enabled and sync.mode == "progress" and sync.lineitem_url is None  # its own line item comes next
        audit = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "course.copy_carried_over"))
        assert audit.course_id == new_id and audit.details["challenges"] == 2
    # People's data stays behind: only the teacher who launched is a member, no experiments came along.
    assert _count(app, Membership, course_id=new_id) == 1
    assert _count(app, Experiment, course_id=new_id) == 0

    # Asked once: a second answer changes nothing, the next launch goes straight in.
    client.post("/lti/course-copy", data={"lt": teacher, "decision": "copy", "view": ""})
    assert _count(app, Challenge, course_id=new_id) == 2
    again = launch("instructor", "teacher-1", NEW, history=f"{OLD},{OLDER}")
    assert "/lti/course-copy" not in again.headers["Location"]


def test_learners_never_see_the_offer(app, client, launch, old_course):
    response = launch("learner", "learner-2", NEW, history=OLD)
    assert "/lti/course-copy" not in response.headers["Location"]
    assert client.get(f"/lti/course-copy?lt={token(response)}").status_code == 403
    assert client.post("/lti/course-copy", data={"lt": token(response), "decision": "copy"}).status_code == 403
    assert _count(app, Challenge, course_id=_course_id(app, NEW)) == 0


def test_start_fresh_is_remembered_and_audited(app, client, launch, old_course):
    first = launch("instructor", "teacher-1", NEW, history=OLD)
    teacher = token(first)
    response = client.post("/lti/course-copy", data={"lt": teacher, "decision": "decline", "view": "leaderboard"})
    assert response.status_code == 303 and "/lti/course-copy" not in response.headers["Location"]
    new_id = _course_id(app, NEW)
    assert _count(app, Challenge, course_id=new_id) == 0 and _count(app, GradeSync, course_id=new_id) == 0
    assert _count(app, AuditEvent, action="course.copy_declined", course_id=new_id) == 1
    assert "/lti/course-copy" not in launch("instructor", "teacher-2", NEW, history=OLD).headers["Location"]


def test_no_offer_without_a_known_predecessor_or_once_configured(client, launch, old_course):
    # Canvas leaves the history empty for a course never copied; an LMS without the variable echoes it back.
    assert "/lti/course-copy" not in launch("instructor", "teacher-1", NEW, history="").headers["Location"]
    assert "/lti/course-copy" not in launch("instructor", "teacher-1", NEW,
                                            history="$Context.id.history").headers["Location"]
    assert "/lti/course-copy" not in launch("instructor", "teacher-1", NEW, history=OLDER).headers["Location"]
    # A course that already has settings of its own is not offered someone else's.
    teacher = token(launch("instructor", "teacher-1", NEW))
    client.post("/app/manage/boards", data={"lt": teacher, "mode": "off"})
    assert "/lti/course-copy" not in launch("instructor", "teacher-1", NEW, history=OLD).headers["Location"]


def test_a_course_of_another_organisation_is_never_a_source(app, client, launch, old_course, cli, ags):
    other = FakePlatform(issuer="https://canvas.instructure.com", client_id="10000000000099", deployment_id="9:abc")
    assert cli(*other.register_args(token_url=ags.token_url, org="Another School")).exit_code == 0
    try:
        response, _ = other.launch(client, role="instructor", sub="teacher-9", context_id=NEW, overrides={
            LTI + "roles": CANVAS["instructor"], LTI + "custom": {"context_id_history": OLD}})
        assert "/lti/course-copy" not in response.headers["Location"]
    finally:
        other.close()



def test_naming_a_course_one_never_managed_copies_nothing_from_it(app, client, launch, old_course):
    """The history is a custom parameter an instructor may be able to edit: another instructor's course named
    there is not offered, and its challenges (a mission's data set among them) stay with it."""
    stranger = launch("instructor", "teacher-2", NEW, history=f"{OLD}")
    assert "/lti/course-copy" not in stranger.headers["Location"]
    refused = client.post("/lti/course-copy", data={"lt": token(stranger), "decision": "copy", "view": ""})
    assert refused.status_code == 409
    assert _count(app, Challenge, course_id=_course_id(app, NEW)) == 0


def test_copied_challenges_keep_their_local_times_across_a_clock_change(appctx):
    """An organisation on Amsterdam time: a challenge that ran Monday 09:00 to Monday 09:00 in January (CET) is
    carried into a course copied in May (CEST) as Monday 09:00 to Monday 09:00 local, not 10:00."""
    from datetime import datetime, timezone
    from zoneinfo import ZoneInfo

    from plugin.challenges.schemas import ChallengeIn
    from plugin.challenges.service import create_challenge
    from plugin.core.actor import Role
    from plugin.course_copy.service import carry_over
    from plugin.settings.service import set_time_zone
    from tests.services.factories import make_actor, make_platform

    amsterdam = ZoneInfo("Europe/Amsterdam")
    january, may = datetime(2025, 1, 2, 12, tzinfo=timezone.utc), datetime(2025, 5, 7, 12, tzinfo=timezone.utc)
    platform = make_platform()
    admin = make_actor(platform, "admin", Role.ADMIN, context_id=OLD)
    set_time_zone(admin, "Europe/Amsterdam", january)
    teacher_old = make_actor(platform, "teacher-1", Role.MANAGER, context_id=OLD)
    create_challenge(teacher_old, ChallengeIn().load({
        "title": "Five experiments in week one", "goal_kind": "count", "goal_value": "5",
        "starts_at": "2025-01-06T09:00", "ends_at": "2025-01-13T09:00"}), january)
    db.session.commit()
    teacher_new = make_actor(platform, "teacher-1", Role.MANAGER, context_id=NEW)
    carry_over(teacher_new, [OLD], None, may)
    db.session.commit()
    copy = db.session.scalar(select(Challenge).where(Challenge.course_id == teacher_new.course_id))
    starts, ends = copy.starts_at.astimezone(amsterdam), copy.ends_at.astimezone(amsterdam)
    assert (starts.weekday(), starts.hour, starts.minute) == (0, 9, 0)
    assert (ends.weekday(), ends.hour, ends.minute) == (0, 9, 0) and (ends - starts).days == 7
    assert copy.starts_at >= may


def test_a_challenge_on_a_tool_taken_off_the_list_is_left_out_and_the_offer_says_so(app, client, launch, old_course):
    """Copied without its filter, "Three experiments with Gemini" would count every tool: it is left out, and
    the manager reads so before deciding."""
    from tests.web.helpers import options

    teacher = old_course
    tools = options(text(client.get("/app/experiments/new", query_string={"lt": teacher})), "ai_tool")
    created = client.post("/app/challenges/", data={
        "lt": teacher, "title": "Three experiments with Gemini", "goal_kind": "count", "goal_value": "3",
        "ai_tool": tools["Gemini"], "starts_at": "2026-03-02T09:00", "ends_at": "2026-03-09T09:00"})
    assert created.status_code == 303, text(created)[:1500]
    with app.app_context():
        from plugin.catalog.models import AiTool

        db.session.get(AiTool, int(tools["Gemini"])).active = False
        db.session.commit()

    first = launch("instructor", "teacher-1", NEW, history=OLD)
    offer = visible(client.get(first.headers["Location"]))
    assert "Left out: Three experiments with Gemini" in offer, offer
    teacher = token(first)
    assert client.post("/lti/course-copy", data={"lt": teacher, "decision": "copy", "view": ""}).status_code == 303
    challenges = visible(client.get(f"/app/challenges/?lt={teacher}"))
    assert "Five experiments in week one" in challenges and "Three experiments with Gemini" not in challenges
    with app.app_context():
        audit = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "course.copy_carried_over"))
        assert audit.details["challenges"] == 2
        assert audit.details["challenges_left_out"] == ["Three experiments with Gemini"]
