"""Canvas groups as Tinker teams. Canvas offers neither the NRPS group extension nor the Course Groups
Service: a launch lists the course's group ids ($com.instructure.Course.groupIds substituted into the custom
parameter canvas_course_group_ids) and Tinker reads each group's roster from
/api/lti/groups/:group_id/names_and_roles (paged with Link rel="next"), served here by the fake LMS in the
shapes Canvas documents."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from plugin.extensions import db
from plugin.lti import install, roster_jobs
from plugin.lti.claims import CUSTOM
from plugin.lti.registration import PlatformConfiguration, client_registration
from plugin.tenancy.models import Course, User
from tests.support.nrps import LIS, FakeNrps, canvas_member

GROUP_MEMBER = [f"{LIS}membership#Member"]


def course_roster() -> list[dict]:
    return [canvas_member("teacher-1", "Tess Teacher", [f"{LIS}membership#Instructor"]),
            *(canvas_member(f"s{n}", f"Student {n}") for n in range(1, 7)),
            {**canvas_member("gone-1", "Gus Gone"), "status": "Inactive"}]


@pytest.fixture
def canvas(app, cli, platform, live_server, monkeypatch):
    """A Canvas-like LMS: a course roster, and two groups of course-1 (group 23 spans two pages)."""
    from plugin.lti import service_token

    monkeypatch.setitem(app.config, "LTI_ROSTER_SYNC_ON_LAUNCH", False)
    fake = FakeNrps(platform.client_id, f"{live_server.base_url}/lti/jwks")
    args = platform.register_args()
    args[args.index("--token-url") + 1] = fake.token_url
    assert cli(*args).exit_code == 0
    fake.rosters["course-1"] = course_roster()
    fake.canvas_groups["23"] = ("Red team", [canvas_member(s, s, GROUP_MEMBER) for s in ("s1", "s2", "s3", "s4")])
    # s9 is in the group but not (any more) in the course: not a member of the team either.
    fake.canvas_groups["24"] = ("Blue team", [canvas_member(s, s, GROUP_MEMBER) for s in ("s5", "s9")])
    service_token.forget()
    yield fake
    roster_jobs.wait_for_background()
    fake.close()


def launch(client, platform, lms, group_ids: str | None, context_id: str = "course-1") -> None:
    claims = lms.claims(context_id, groups=False)  # Canvas sends no groups service claim
    if group_ids is not None:
        claims[CUSTOM] = {install.CUSTOM_COURSE_GROUPS: group_ids}
    response, _ = platform.launch(client, role="instructor", sub="teacher-1", context_id=context_id,
                                  overrides=claims)
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    db.session.rollback()


def teams(context_id: str = "course-1") -> dict[str, set[str]]:
    from plugin.teams.models import Team, TeamMember

    course = db.session.scalar(select(Course).where(Course.context_id == context_id))
    out: dict[str, set[str]] = {name: set() for name in db.session.scalars(
        select(Team.name).where(Team.course_id == course.id))}
    for name, sub in db.session.execute(select(Team.name, User.sub).join(TeamMember, TeamMember.team_id == Team.id)
                                        .join(User, User.id == TeamMember.user_id).where(Team.course_id == course.id)):
        out[name].add(sub)
    return out


def test_canvas_groups_listed_at_launch_become_teams_with_their_rosters(client, platform, canvas, cli, appctx):
    launch(client, platform, canvas, "23,24")
    result = cli("lti", "sync-roster")
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith("2 LMS teams (2 new), 5 joined, 0 left")
    assert teams() == {"Red team": {"s1", "s2", "s3", "s4"}, "Blue team": {"s5"}}
    group_pages = [u.removeprefix(canvas.base) for u in canvas.requests if "/api/lti/groups/" in u]
    # Group 23 has four members in pages of three: the case-sensitive next link was followed as sent.
    # Each asks for large pages (limit); the fake LMS gives at most three.
    assert group_pages == ["/api/lti/groups/23/names_and_roles?limit=1000",
                           "/api/lti/groups/23/names_and_roles?page=AbC&limit=1000",
                           "/api/lti/groups/24/names_and_roles?limit=1000"]
    assert canvas.token_requests == 1  # one NRPS token reads the course and its groups


def test_a_group_changed_or_deleted_in_canvas_follows_at_the_next_sync(client, platform, canvas, cli, appctx):
    launch(client, platform, canvas, "23,24")
    assert cli("lti", "sync-roster").exit_code == 0
    canvas.canvas_groups["23"] = ("Red team (renamed)", [canvas_member("s1", "s1", GROUP_MEMBER),
                                                         canvas_member("s6", "s6", GROUP_MEMBER)])
    del canvas.canvas_groups["24"]  # deleted in Canvas after the launch listed it: a 404 for its roster
    result = cli("lti", "sync-roster")
    assert result.exit_code == 0, result.output
    assert teams() == {"Red team (renamed)": {"s1", "s6"}, "Blue team": set()}  # a gone group's team stays, empty
    # The next launch no longer lists it at all.
    launch(client, platform, canvas, "23")
    assert db.session.scalar(select(Course.lms_group_ids)) == "23"


def test_a_course_without_groups_and_an_lms_that_does_not_substitute_the_variable(client, platform, canvas, cli,
                                                                                    appctx):
    launch(client, platform, canvas, "")  # Canvas, a course without groups
    result = cli("lti", "sync-roster")
    assert result.output.strip().endswith("0 LMS teams (0 new), 0 joined, 0 left"), result.output
    launch(client, platform, canvas, "$com.instructure.Course.groupIds", context_id="course-2")  # not Canvas
    canvas.rosters["course-2"] = course_roster()
    result = cli("lti", "sync-roster")
    assert "'Course course-2': 7 added, 0 updated, 0 deactivated; no LMS groups" in result.output, result.output
    assert [u for u in canvas.requests if "/api/lti/groups/" in u] == []


def test_a_failing_group_roster_fails_the_sync_and_leaves_teams_alone(client, platform, canvas, cli, appctx):
    launch(client, platform, canvas, "23,24")
    assert cli("lti", "sync-roster").exit_code == 0
    canvas.canvas_groups["24"] = ("Blue team", None)  # Canvas fails to serve this group's roster
    result = cli("lti", "sync-roster")
    assert result.exit_code == 1 and "groups/24/names_and_roles?limit=1000 answered HTTP 500" in result.output
    db.session.expire_all()
    assert teams() == {"Red team": {"s1", "s2", "s3", "s4"}, "Blue team": {"s5"}}


def test_canvas_is_asked_for_its_group_ids_and_other_lmss_are_not(app):
    assert install.canvas_config("https://tinker.example")["custom_fields"][install.CUSTOM_COURSE_GROUPS] == \
        "$com.instructure.Course.groupIds"

    def registered(product: str) -> dict:
        platform = PlatformConfiguration(issuer="https://lms.example", authorization_endpoint="a", token_endpoint="t",
                                         jwks_uri="j", registration_endpoint="r", product=product,
                                         messages=frozenset(), placements=())
        return client_registration("https://tinker.example", platform)[
            "https://purl.imsglobal.org/spec/lti-tool-configuration"]["custom_parameters"]

    assert registered("canvas 2024")[install.CUSTOM_COURSE_GROUPS] == "$com.instructure.Course.groupIds"
    assert install.CUSTOM_COURSE_GROUPS not in registered("moodle 4.4")
