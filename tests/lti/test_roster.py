"""Names and Role Provisioning roster sync against a fake LMS over real HTTP: paging with case-sensitive
next URLs, roles and status, Canvas's Test Student, LMS groups as teams, the CLI and the background sync."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from plugin.core.actor import Actor, Role
from plugin.extensions import db
from plugin.lti import roster_jobs
from plugin.lti.roster import next_link
from plugin.tenancy.models import Course, Membership, User
from tests.support.nrps import LIS, NRPS_CLAIM, FakeNrps, canvas_member, moodle_member
from tests.support.platform import token_from
from tests.support.refusals import assert_refused_privately
from tests.web.helpers import visible

TEST_USER = "http://purl.imsglobal.org/vocab/lti/system/person#TestUser"


def roster() -> list[dict]:
    return [
        moodle_member("teacher-1", "Instructor", "Tess Teacher"),
        moodle_member("3", "Learner", "Ada Lovelace", group_enrollments=[{"group_id": "g1"}]),
        canvas_member("c0ffee42", "Bo Canvas", group_enrollments=[{"group_id": "g1"}]),
        canvas_member("ta-7", "Tam Assistant", [f"{LIS}membership/Instructor#TeachingAssistant"],
                      group_enrollments=[{"group_id": "g2"}]),
        moodle_member("4", "Learner", "Cy Moodle", group_enrollments=[{"group_id": "g2"}]),
        canvas_member("test-student-x", "Test Student", [f"{LIS}membership#Learner", TEST_USER],
                      group_enrollments=[]),
        {**moodle_member("9", "Learner", "Ina Active"), "status": "Inactive"},
        canvas_member("only-faculty", "Fay Faculty", [f"{LIS}institution/person#Faculty"]),
    ]


@pytest.fixture
def lms(app, cli, platform, live_server):
    """The fake LMS, with the test platform's token URL pointing at it and its course-1 roster loaded."""
    from plugin.lti import service_token

    fake = FakeNrps(platform.client_id, f"{live_server.base_url}/lti/jwks")
    args = platform.register_args()
    args[args.index("--token-url") + 1] = fake.token_url
    assert cli(*args).exit_code == 0
    fake.rosters["course-1"] = roster()
    fake.groups["course-1"] = [{"id": "g1", "name": "Red team"}, {"id": "g2", "name": "Blue team"}]
    service_token.forget()
    yield fake
    roster_jobs.wait_for_background()
    fake.close()


@pytest.fixture
def no_launch_sync(app, monkeypatch):
    monkeypatch.setitem(app.config, "LTI_ROSTER_SYNC_ON_LAUNCH", False)


def launch_with_roster(client, platform, lms, context_id="course-1", groups=True, sub="teacher-1"):
    response, _ = platform.launch(client, role="instructor", sub=sub, context_id=context_id,
                                  overrides=lms.claims(context_id, groups))
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    # The test client ran the launch inside the test's app context: end its transaction (SQLite writer).
    db.session.rollback()


def memberships(context_id="course-1") -> dict[str, Membership]:
    course = db.session.scalar(select(Course).where(Course.context_id == context_id))
    rows = db.session.scalars(select(Membership).where(Membership.course_id == course.id))
    return {m.user.sub: m for m in rows}


def team_members(context_id="course-1") -> dict[str, set[str]]:
    from plugin.teams.models import Team, TeamMember

    course = db.session.scalar(select(Course).where(Course.context_id == context_id))
    rows = db.session.execute(select(Team.name, User.sub).join(TeamMember, TeamMember.team_id == Team.id)
                              .join(User, User.id == TeamMember.user_id).where(Team.course_id == course.id))
    out: dict[str, set[str]] = {}
    for name, sub in rows:
        out.setdefault(name, set()).add(sub)
    return out


def test_next_link_keeps_case_and_picks_next_among_several_relations():
    base = "https://canvas.example/api/lti/courses/1/names_and_roles"
    header = (f'<{base}?page=1>; rel="current",<{base}?page=AbC&per_page=2>; rel="next",'
              f'<{base}?page=1>; rel="first"')
    assert next_link(header, base) == f"{base}?page=AbC&per_page=2"
    assert next_link('</names?p=XyZ>; REL=next', base) == "https://canvas.example/names?p=XyZ"
    assert next_link(f'<{base}?page=1>; rel="first"', base) is None
    assert next_link(None, base) is None


def test_large_pages_are_asked_for_keeping_the_services_own_query():
    from plugin.lti.roster import PAGE_SIZE, with_page_size

    moodle = "https://moodle.example.edu/mod/lti/services.php/CourseSection/2/bindings/1/memberships"
    assert with_page_size(moodle) == f"{moodle}?limit={PAGE_SIZE}"
    assert with_page_size(f"{moodle}?rlid=Ab%2FC&role=Learner") == f"{moodle}?rlid=Ab%2FC&role=Learner&limit={PAGE_SIZE}"
    assert with_page_size(f"{moodle}?limit=25") == f"{moodle}?limit=25"  # the platform's own choice stays


def test_launch_records_the_roster_and_syncs_it_in_the_background(client, platform, lms, appctx):
    launch_with_roster(client, platform, lms)
    roster_jobs.wait_for_background()

    course = db.session.scalar(select(Course).where(Course.context_id == "course-1"))
    assert course.roster_url == lms.memberships_url("course-1")
    assert course.groups_url == lms.groups_url("course-1")
    assert course.roster_status.startswith("6 added, 0 updated, 0 deactivated"), course.roster_status
    # Three pages of members (large pages asked for, three given), the next URLs followed exactly as sent
    # (a lower-cased token would 404).
    member_pages = [u for u in lms.requests if "names_and_roles" in u]
    assert [u.partition("?")[2] for u in member_pages] == ["limit=1000", "page=AbC&limit=1000", "page=dEf&limit=1000"]
    assert lms.token_errors == []
    assert lms.token_requests == 2  # one NRPS token for all three pages, one groups token

    people = memberships()
    assert {sub: m.role for sub, m in people.items()} == {
        "teacher-1": "manager", "3": "learner", "c0ffee42": "learner", "ta-7": "manager", "4": "learner",
        "test-student-x": "learner", "9": "learner"}  # only-faculty has no course role: not a member
    assert people["test-student-x"].test_user and people["test-student-x"].status == "active"
    assert people["9"].status == "inactive"
    assert people["3"].user.name == "Ada Lovelace" and people["3"].user.email == "ada@moodle.example"
    assert team_members() == {"Red team": {"3", "c0ffee42"}, "Blue team": {"ta-7", "4"}}

    # Another launch within the interval does not sync again (the claim is in the database).
    seen = len(lms.requests)
    launch_with_roster(client, platform, lms, sub="3")
    roster_jobs.wait_for_background()
    assert len(lms.requests) == seen


def test_a_returning_launch_before_the_next_sync_leaves_pages_data_version_as_it_was(client, platform, lms,
                                                                                   appctx):
    """Boards' and insights' ETags hold across launches that change nothing: neither remembering the same
    roster service nor the (not yet due) sync claim notes a data change."""
    from plugin.insights.version import data_version

    launch_with_roster(client, platform, lms)
    roster_jobs.wait_for_background()
    for sub in ("3", "teacher-1"):  # the names the roster gave them go back to what their launches say
        launch_with_roster(client, platform, lms, sub=sub)
    course_id = db.session.scalar(select(Course.id).where(Course.context_id == "course-1"))
    now = datetime.now(timezone.utc)
    before = data_version(course_id, now)
    db.session.rollback()
    launch_with_roster(client, platform, lms, sub="3")
    launch_with_roster(client, platform, lms)
    assert data_version(course_id, now) == before


def test_inactive_members_and_test_student_are_left_off_board_and_adoption(client, platform, lms, cli,
                                                                           no_launch_sync, appctx):
    from plugin.insights.queries import participation
    from plugin.leaderboards.queries import Scope
    from plugin.leaderboards.queries import board as course_board
    from plugin.ledger.service import Posting, post_entry

    launch_with_roster(client, platform, lms)
    assert cli("lti", "sync-roster").exit_code == 0
    people = memberships()
    course_id = people["3"].course_id
    organisation_id = db.session.get(Course, course_id).organisation_id
    for sub, points in (("3", 10), ("c0ffee42", 5), ("test-student-x", 50), ("9", 40)):
        post_entry(Posting(organisation_id=organisation_id, course_id=course_id, user_id=people[sub].user_id,
                           amount=points, dimension="experimenting", source_type="manual", source_id=None,
                           key=f"roster-test:{sub}"), datetime.now(timezone.utc))
    db.session.commit()

    board = course_board(Scope.course(course_id))
    assert [s.name for s in board.rows] == ["Ada Lovelace", "Bo Canvas"]
    teacher = people["teacher-1"]
    course = db.session.get(Course, course_id)
    actor = Actor(user_id=teacher.user_id, course_id=course_id, organisation_id=course.organisation_id,
                  platform_id=course.platform_id, role=Role.MANAGER)
    listed = {p.name for p in participation(actor)}
    assert "Test Student" not in listed and "Ina Active" not in listed
    assert {"Ada Lovelace", "Bo Canvas", "Cy Moodle"} <= listed


def test_cli_sync_is_idempotent_and_a_member_who_left_becomes_inactive(client, platform, lms, cli,
                                                                      no_launch_sync, appctx):
    from plugin.core.clock import utcnow
    from plugin.teams import service as teams

    launch_with_roster(client, platform, lms)
    people = memberships()
    course_id = people["teacher-1"].course_id
    result = cli("lti", "sync-roster")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == (f"course {course_id} 'Course course-1': 6 added, 0 updated, 0 deactivated; "
                                     "2 LMS teams (2 new), 4 joined, 0 left")
    # A manager's own team with Ada in it: roster sync never touches it.
    own = teams.ensure_team(course_id, "Study buddies", utcnow())
    teams.add_member(own, memberships()["3"].user_id)
    db.session.commit()

    again = cli("lti", "sync-roster")
    assert again.output.strip().endswith("0 added, 0 updated, 0 deactivated; 2 LMS teams (0 new), 0 joined, 0 left")

    lms.rosters["course-1"] = [m for m in roster() if m["user_id"] != "3"]
    third = cli("lti", "sync-roster")
    assert third.output.strip().endswith("0 added, 0 updated, 1 deactivated; 2 LMS teams (0 new), 0 joined, 1 left")
    db.session.expire_all()
    people = memberships()
    assert people["3"].status == "inactive" and people["3"].user.name == "Ada Lovelace"  # kept, not deleted
    assert team_members() == {"Red team": {"c0ffee42"}, "Blue team": {"ta-7", "4"}, "Study buddies": {"3"}}
    assert lms.token_requests == 2  # tokens cached across pages and across syncs until they expire


def test_a_site_administrator_teaching_the_course_stays_its_organisations_admin_after_a_sync(
        client, platform, lms, cli, no_launch_sync, appctx):
    """A Moodle site admin teaches the course: their launch carries the institution Administrator role, but the
    course roster lists only their course role (Instructor). A sync must not make them a plain manager until their
    next launch: the roster cannot see institution roles, so it never takes the admin role away."""
    response, _ = platform.launch(client, role="admin", sub="teacher-1", overrides=lms.claims("course-1", True))
    assert response.status_code == 303
    db.session.rollback()
    assert memberships()["teacher-1"].role == "admin"
    assert cli("lti", "sync-roster").exit_code == 0
    db.session.expire_all()
    people = memberships()
    assert people["teacher-1"].role == "admin" and people["ta-7"].role == "manager" and people["3"].role == "learner"


def test_nul_characters_from_the_lms_are_left_out_of_names_not_a_failed_sync(client, platform, lms, cli,
                                                                             no_launch_sync, appctx):
    """PostgreSQL refuses a NUL character in text: a roster naming someone (or a group) with one must still sync, the
    character left out; a member whose LMS id holds one is left out (no launch could ever carry that id)."""
    lms.rosters["course-1"] = roster()[:2] + [
        moodle_member("5", "Learner", "Nul\x00 Person", group_enrollments=[{"group_id": "g\x003"}]),
        moodle_member("6\x00", "Learner", "Ghost Person")]
    lms.groups["course-1"] = [{"id": "g1", "name": "Red team"}, {"id": "g\x003", "name": "Gr\x00een team"}]
    launch_with_roster(client, platform, lms)
    result = cli("lti", "sync-roster")
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    people = memberships()
    assert people["5"].user.name == "Nul Person" and people["5"].user.email == "nul@moodle.example"
    assert not any("Ghost" in (m.user.name or "") for m in people.values())
    assert team_members()["Green team"] == {"5"}


def test_unreachable_roster_service_fails_only_its_course(client, platform, lms, cli, no_launch_sync, appctx):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}/api/lti/courses/2/names_and_roles"
    launch_with_roster(client, platform, lms)
    response, _ = platform.launch(client, role="instructor", sub="teacher-1", context_id="course-2",
                                  overrides={NRPS_CLAIM: {"context_memberships_url": dead, "service_versions": ["2.0"]}})
    assert response.status_code == 303
    result = cli("lti", "sync-roster")
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 2
    assert "'Course course-1': 6 added" in lines[0]
    assert "'Course course-2': error:" in lines[1] and "unreachable" in lines[1]
    course = db.session.scalar(select(Course).where(Course.context_id == "course-2"))
    assert course.roster_status.startswith("error:")
    assert memberships("course-1")["4"].status == "active"


def test_no_roster_sync_for_a_launch_without_the_names_and_roles_claim(client, launch, lms, cli, appctx):
    launch(role="instructor", sub="teacher-1")
    assert roster_jobs._threads == []
    course = db.session.scalar(select(Course).where(Course.context_id == "course-1"))
    assert course.roster_url is None
    result = cli("lti", "sync-roster")
    assert result.exit_code == 0 and "No course has a roster service" in result.output
    assert lms.requests == [] and lms.token_requests == 0


def test_bearer_token_never_follows_a_next_link_to_another_site(client, platform, lms, cli, no_launch_sync,
                                                                 appctx):
    launch_with_roster(client, platform, lms)
    lms.next_base = "http://127.0.0.2:9"
    result = cli("lti", "sync-roster")
    assert result.exit_code == 1
    assert "error: the next page is on another site (http://127.0.0.2:9)" in result.output
    assert memberships().keys() == {"teacher-1"}  # nothing half-applied


def test_bearer_token_never_follows_a_next_link_whose_host_parsers_read_differently(
        client, platform, lms, cli, no_launch_sync, appctx):
    """https://other\\@lms/...: urlsplit reads the LMS's host, the HTTP client connects to the other one."""
    launch_with_roster(client, platform, lms)
    lms.next_base = "http://127.0.0.2:9\\@" + lms.base.split("://", 1)[1]
    result = cli("lti", "sync-roster")
    assert result.exit_code == 1
    assert "error: the next page is on another site" in result.output
    assert memberships().keys() == {"teacher-1"}


def test_an_lms_answer_quoted_in_the_sync_error_never_reaches_the_terminal_raw(client, platform, lms, cli,
                                                                                no_launch_sync, appctx):
    """What the LMS answered is quoted in the operator's output: its escape sequences and line breaks are shown as
    text, not played by the terminal."""
    launch_with_roster(client, platform, lms)
    lms.token_refusal = "\x1b[2J\x1b[31mall clear\nfake line"
    result = cli("lti", "sync-roster")
    assert result.exit_code == 1
    assert "\x1b" not in result.output and "\\x1b[2J\\x1b[31mall clear\\nfake line" in result.output


def canvas_course(size: int) -> list[dict]:
    return [moodle_member("teacher-1", "Instructor", "Tess Teacher")] + [
        canvas_member(f"learner-{i}", f"Learner {i}") for i in range(1, size)]


def test_a_course_larger_than_the_page_cap_at_the_platforms_default_page_size_syncs_whole(
        client, platform, lms, cli, no_launch_sync, appctx, monkeypatch):
    """Canvas serves 10 members a page unless the request asks for more (at most 50): without a `limit`, a
    course of more than 500 x 10 members never synced. Here 5 pages stand for the 500."""
    from plugin.lti import roster

    monkeypatch.setattr(roster, "MAX_PAGES", 5)
    lms.page_size, lms.max_page_size = 10, 50
    lms.rosters["course-1"] = canvas_course(60)
    launch_with_roster(client, platform, lms, groups=False)
    result = cli("lti", "sync-roster")
    assert result.exit_code == 0, result.output
    people = memberships()
    assert len(people) == 60 and {m.status for m in people.values()} == {"active"}
    member_pages = [u for u in lms.requests if "names_and_roles" in u]
    assert len(member_pages) == 2  # 50 + 10


def test_a_roster_past_the_page_cap_fails_the_sync_and_nobody_is_taken_for_gone(
        client, platform, lms, cli, no_launch_sync, appctx, monkeypatch):
    """The page cap never cuts a roster short: the members on the pages not read would count as having
    left the course. The sync stops, says so on the course, and changes nobody."""
    from plugin.lti import roster

    monkeypatch.setattr(roster, "MAX_PAGES", 2)
    lms.page_size, lms.max_page_size = 10, 50
    lms.rosters["course-1"] = canvas_course(100)
    launch_with_roster(client, platform, lms, groups=False)
    assert cli("lti", "sync-roster").exit_code == 0
    lms.rosters["course-1"] = canvas_course(101)  # one more: a third page

    result = cli("lti", "sync-roster")
    assert result.exit_code == 1
    assert "stopped after 2 pages" in result.output, result.output
    db.session.expire_all()
    course = db.session.scalar(select(Course).where(Course.context_id == "course-1"))
    assert course.roster_status.startswith("error: ") and "stopped after 2 pages" in course.roster_status
    people = memberships()
    assert len(people) == 100 and {m.status for m in people.values()} == {"active"}


def test_a_roster_sync_does_not_bring_back_an_erased_learner_but_their_own_launch_does(client, platform, lms, cli,
                                                                                     no_launch_sync, appctx):
    """After an erasure, the LMS still lists the person: a background sync must not re-create them with the name
    and e-mail just erased; launching Tinker again is the person coming back, and starts a fresh account."""
    from plugin.core.clock import utcnow
    from plugin.privacy.erase import erase_person

    lms.rosters["course-1"][1]["email"] = "ada@uni.example"
    launch_with_roster(client, platform, lms)
    assert cli("lti", "sync-roster").exit_code == 0
    ada, teacher = memberships()["3"], memberships()["teacher-1"]
    admin = Actor(user_id=teacher.user_id, course_id=teacher.course_id, organisation_id=db.session.get(Course, teacher.course_id).organisation_id,
                  platform_id=teacher.user.platform_id, role=Role.ADMIN, display_name="Tess Teacher")
    erase_person(admin, ada.user_id, utcnow())
    db.session.commit()

    result = cli("lti", "sync-roster")
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    assert db.session.scalar(select(User).where(User.sub == "3")) is None
    assert db.session.scalar(select(User).where((User.name == "Ada Lovelace") | (User.email == "ada@uni.example"))) is None
    assert team_members()["Red team"] == {"c0ffee42"}

    response, _ = platform.launch(client, role="learner", sub="3", name="Ada Lovelace")
    assert response.status_code == 303
    db.session.rollback()
    assert cli("lti", "sync-roster").exit_code == 0
    db.session.expire_all()
    back = memberships()["3"]
    assert back.user_id != ada.user_id and back.status == "active" and back.user.name == "Ada Lovelace"
    assert team_members()["Red team"] == {"c0ffee42", "3"}


def test_a_turkish_manager_reads_the_roster_status_in_turkish_with_its_figures_and_addresses(
        client, platform, lms, cli, no_launch_sync, appctx):
    """The status is stored in English (the CLI prints it so); the overview gives it in the reader's language."""
    turkish = {"https://purl.imsglobal.org/spec/lti/claim/launch_presentation": {
        "return_url": "https://lms.example.edu/course/view.php?id=1", "locale": "tr"}}

    def overview() -> str:
        response, _ = platform.launch(client, role="instructor", sub="teacher-1",
                                      overrides={**lms.claims("course-1", True), **turkish})
        db.session.rollback()
        return visible(client.get("/app/manage/", query_string={"lt": token_from(response)}))

    launch_with_roster(client, platform, lms)
    result = cli("lti", "sync-roster")
    assert result.exit_code == 0 and "6 added, 0 updated, 0 deactivated; 2 LMS teams (2 new)" in result.output
    page = overview()
    assert "6 eklendi, 0 güncellendi, 0 devre dışı bırakıldı; 2 LMS ekibi (2 yeni)" in page
    assert "6 added" not in page

    lms.next_base = "http://127.0.0.2:9"
    assert cli("lti", "sync-roster").exit_code == 1
    db.session.expire_all()
    course = db.session.scalar(select(Course).where(Course.context_id == "course-1"))
    assert course.roster_status == "error: the next page is on another site (http://127.0.0.2:9); not following it"
    page = overview()
    assert "hata: sonraki sayfa başka bir sitede (http://127.0.0.2:9); izlenmiyor" in page
    assert "another site" not in page


def test_a_roster_status_too_long_for_its_column_still_reads_in_turkish(client, platform, lms, cli, no_launch_sync,
                                                                        appctx, monkeypatch):
    """Roster page addresses can be long (a 255-character context id, a university's long host name, Canvas's
    bookmark page tokens): the status naming one is cut to fit its column, yet a Turkish manager still reads it in
    Turkish, not as cut English. (The fake LMS's host is short: a longer context id makes up for it.)"""
    from plugin.lti import roster

    context_id = "c" * 300
    turkish = {"https://purl.imsglobal.org/spec/lti/claim/launch_presentation": {
        "return_url": "https://lms.example.edu/course/view.php?id=1", "locale": "tr"}}
    monkeypatch.setattr(roster, "MAX_PAGES", 1)
    lms.page_size, lms.max_page_size = 10, 10
    lms.rosters[context_id] = canvas_course(20)
    launch_with_roster(client, platform, lms, context_id=context_id, groups=False)
    assert cli("lti", "sync-roster").exit_code == 1
    db.session.expire_all()
    course = db.session.scalar(select(Course).where(Course.context_id == context_id))
    assert len(course.roster_status) <= 400 and course.roster_status.startswith("error: stopped after 1 pages")
    response, _ = platform.launch(client, role="instructor", sub="teacher-1", context_id=context_id,
                                  overrides={**lms.claims(context_id, False), **turkish})
    db.session.rollback()
    page = visible(client.get("/app/manage/", query_string={"lt": token_from(response)}))
    assert "hata: 1 sayfadan sonra durduruldu (sıradaki http" in page
    assert "stopped after" not in page


def test_an_lms_group_without_a_name_is_named_in_the_readers_language(client, platform, lms, cli, no_launch_sync,
                                                                    appctx):
    """The groups service lists a group with no name: its team is stored as "Group g2" (the API and exports keep
    it), and Turkish managers and learners read "Grup g2" on the team pages and the team board."""
    from plugin.teams.models import Team

    lms.groups["course-1"] = [{"id": "g1", "name": "Red team"}, {"id": "g2"}]
    launch_with_roster(client, platform, lms)
    assert cli("lti", "sync-roster").exit_code == 0
    assert set(db.session.scalars(select(Team.name))) == {"Red team", "Group g2"}
    turkish = {"https://purl.imsglobal.org/spec/lti/claim/launch_presentation": {
        "return_url": "https://lms.example.edu/course/view.php?id=1", "locale": "tr"}}
    response, _ = platform.launch(client, role="instructor", sub="teacher-1",
                                  overrides={**lms.claims("course-1", True), **turkish})
    db.session.rollback()
    manager = token_from(response)
    team_id = db.session.scalar(select(Team.id).where(Team.name == "Group g2"))
    for path, query in (("/app/teams/manage", {}), (f"/app/teams/{team_id}", {}), ("/app/leaderboard", {"tab": "teams"})):
        page = visible(client.get(path, query_string={"lt": manager, **query}))
        assert "Grup g2" in page and "Group g2" not in page, path


def test_a_sync_that_cannot_sign_its_token_request_says_so_on_the_course_in_the_readers_language(
        app, client, platform, lms, cli, no_launch_sync, appctx, monkeypatch):
    """After the operator changed TINKER_SECRET_KEY the tool's key cannot be decrypted: the sync fails, and the
    course says why (it kept showing the last good sync as if this one had gone well), in Turkish for Turkish
    managers."""
    from plugin.lti import service_token

    launch_with_roster(client, platform, lms)
    assert cli("lti", "sync-roster").exit_code == 0
    monkeypatch.setitem(app.config, "SECRET_KEY", "another-secret-key-entirely-0123456789")
    service_token.forget()
    assert cli("lti", "sync-roster").exit_code == 1
    db.session.expire_all()
    course = db.session.scalar(select(Course).where(Course.context_id == "course-1"))
    assert course.roster_status == ("error: no access token: the tool key cannot be decrypted: was TINKER_SECRET_KEY "
                                    "changed?")
    turkish = {"https://purl.imsglobal.org/spec/lti/claim/launch_presentation": {
        "return_url": "https://lms.example.edu/course/view.php?id=1", "locale": "tr"}}
    response, _ = platform.launch(client, role="instructor", sub="teacher-1",
                                  overrides={**lms.claims("course-1", True), **turkish})
    db.session.rollback()
    page = visible(client.get("/app/manage/", query_string={"lt": token_from(response)}))
    assert "hata: erişim belirteci alınamadı: aracın anahtarı çözülemiyor" in page and "cannot be decrypted" not in page


def test_a_sync_that_fails_unexpectedly_says_so_on_the_course_instead_of_the_last_good_result(
        app, client, platform, lms, appctx, monkeypatch, caplog):
    """A background sync that raises something other than a roster error (a bug, an IntegrityError from a race with
    a launch) used to leave the course showing the previous sync's "6 added, ..." beside the new sync time, so
    managers read a failed sync as a good one. Now the course says the sync failed (in the reader's language) and
    the log has the traceback. No real input makes the sync raise like this: the test makes writing the members
    raise (monkeypatched), as a race or a bug would."""
    from sqlalchemy.exc import IntegrityError

    from plugin.tenancy import service as tenancy

    launch_with_roster(client, platform, lms)
    roster_jobs.wait_for_background()
    course = db.session.scalar(select(Course).where(Course.context_id == "course-1"))
    assert course.roster_status.startswith("6 added"), course.roster_status
    synced_at = course.roster_sync_at
    db.session.rollback()

    def clash(*args, **kwargs):
        raise IntegrityError("INSERT INTO membership ...", {}, Exception("duplicate key value"))

    monkeypatch.setattr(tenancy, "sync_members", clash)
    monkeypatch.setitem(app.config, "LTI_ROSTER_SYNC_INTERVAL", 0)  # due again at the next launch
    turkish = {"https://purl.imsglobal.org/spec/lti/claim/launch_presentation": {
        "return_url": "https://lms.example.edu/course/view.php?id=1", "locale": "tr"}}
    response, _ = platform.launch(client, role="instructor", sub="teacher-1",
                                  overrides={**lms.claims("course-1", True), **turkish})
    assert response.status_code == 303
    db.session.rollback()
    roster_jobs.wait_for_background()

    db.session.expire_all()
    course = db.session.scalar(select(Course).where(Course.context_id == "course-1"))
    assert course.roster_sync_at > synced_at
    assert course.roster_status == ("error: the sync failed unexpectedly (IntegrityError); the roster was left as it "
                                    "was, and the server log has the details")
    assert "roster sync of course" in caplog.text and "IntegrityError" in caplog.text
    page = visible(client.get("/app/manage/", query_string={"lt": token_from(response)}))
    assert "hata: eşitleme beklenmedik biçimde başarısız oldu (IntegrityError)" in page and "6 eklendi" not in page


def test_where_lmss_are_kept_to_public_addresses_a_roster_service_on_the_servers_own_network_is_never_called(
        client, platform, lms, cli, no_launch_sync, appctx, app, monkeypatch, caplog):
    """The roster URL and the token endpoint come from the LMS: in production, one on a private address (here
    loopback) is not called, and the course's status says so and names the setting, not anything it answered (the
    address it resolved to is in the operator's log)."""
    launch_with_roster(client, platform, lms)
    monkeypatch.setitem(app.config, "LTI_ALLOW_PRIVATE_PLATFORMS", False)
    result = cli("lti", "sync-roster")
    assert result.exit_code == 1
    assert "not called, it is on a private network address;" in result.output
    assert_refused_privately(result.output, caplog.text)
    assert "TINKER_LTI_ALLOW_PRIVATE_PLATFORMS" in result.output
    assert lms.requests == [] and lms.token_requests == 0
    monkeypatch.setitem(app.config, "LTI_ALLOW_PRIVATE_PLATFORMS", True)
    assert cli("lti", "sync-roster").exit_code == 0 and lms.token_requests > 0 and lms.requests
