"""Teams on the real database: managers create, rename, fill and delete teams of their course only; LMS teams
stay the LMS's; every membership change moves the team's figures (and rebuilt equals maintained)."""
from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from plugin.audit.models import AuditEvent
from plugin.catalog.service import items
from plugin.challenges.models import Challenge
from plugin.challenges.queries import progress_of
from plugin.challenges.schemas import ChallengeIn
from plugin.challenges.service import cancel_challenge, create_challenge
from plugin.core.actor import Role
from plugin.errors import Conflict, Forbidden, InvalidInput, NotFound
from plugin.extensions import db
from plugin.insights.privacy import set_min_group_size
from plugin.leaderboards import rebuild
from plugin.leaderboards.periods import ALL
from plugin.leaderboards.queries import EXPERIMENTERS, TeamRow, team_board, team_figures
from plugin.ledger.service import balances
from plugin.teams import service as teams
from plugin.teams.models import Team, TeamMember
from plugin.teams.progress import team_progress
from plugin.teams.schemas import TeamIn
from tests.services.factories import NOW, log, make_actor, make_platform
from tests.services.test_concurrency import THREADS, race, while_the_first_waits_to_commit


@pytest.fixture
def course(appctx):
    platform = make_platform()
    return SimpleNamespace(platform=platform, boss=make_actor(platform, "boss", Role.MANAGER, name="Boss"),
                           ada=make_actor(platform, "ada", name="Ada"), bo=make_actor(platform, "bo", name="Bo"),
                           cy=make_actor(platform, "cy", name="Cy"))


def name(value: str) -> dict:
    return TeamIn().load({"name": value})


def team_ids(actor) -> list[str]:
    return [t.name for t in teams.course_teams(actor)]


def audit(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def members(team_id: int) -> set[int]:
    return set(db.session.scalars(select(TeamMember.user_id).where(TeamMember.team_id == team_id)))


def group_size(course, k: int) -> None:
    """The organisation's minimum group size for insights (what a manager's team page needs too)."""
    set_min_group_size(make_actor(course.platform, "admin", Role.ADMIN), {"min_group_size": k}, NOW)


def lms_team(course, *people) -> Team:
    teams.sync_lms_teams(course.boss.course_id, {"g-1": "Canvas group"}, {"g-1": {p.user_id for p in people}}, NOW)
    return db.session.scalar(select(Team).where(Team.external_id == "g-1"))


# --- create, rename, delete -----------------------------------------------------------------------------
def test_a_manager_creates_renames_and_deletes_a_team_and_each_step_is_audited(course):
    team = teams.create_team(course.boss, name("  Red   team "), NOW)
    assert team.name == "Red team" and team.external_id is None  # spaces tidied by the schema
    assert [(t.name, t.source_label, t.members) for t in teams.course_teams(course.boss)] == [("Red team", "Created here", 0)]
    teams.rename_team(course.boss, team.id, name("Crimson"), NOW)
    assert team_ids(course.boss) == ["Crimson"]
    assert teams.delete_team(course.boss, team.id, NOW) is True
    assert team_ids(course.boss) == []
    assert [e.details for e in audit("team.created")] == [{"name": "Red team"}]
    assert [e.details for e in audit("team.renamed")] == [{"name": ["Red team", "Crimson"]}]
    assert [e.details["name"] for e in audit("team.deleted")] == ["Crimson"]


def test_deleting_twice_is_one_deletion(course):
    team = teams.create_team(course.boss, name("Red"), NOW)
    assert teams.delete_team(course.boss, team.id, NOW) is True
    assert teams.delete_team(course.boss, team.id, NOW) is False  # a second click: nothing left to do
    assert len(audit("team.deleted")) == 1


def test_duplicate_names_are_refused_whatever_their_case(course):
    red = teams.create_team(course.boss, name("Red"), NOW)
    blue = teams.create_team(course.boss, name("Blue"), NOW)
    with pytest.raises(Conflict, match="already has a team called “Red”") as err:
        teams.create_team(course.boss, name("red"), NOW)
    assert err.value.status == 409 and "name" in err.value.errors
    with pytest.raises(Conflict):
        teams.rename_team(course.boss, blue.id, name("RED"), NOW)
    teams.rename_team(course.boss, red.id, name("Red"), NOW)  # keeping its own name is fine
    assert sorted(team_ids(course.boss)) == ["Blue", "Red"]


def test_a_name_typed_decomposed_is_the_same_team_and_control_characters_are_left_out(course):
    """"Çizelge" from a Mac (C and a combining cedilla) is the team "Çizelge" already has; the JSON API's name goes
    through the service as the form's does."""
    teams.create_team(course.boss, name("Çizelge"), NOW)
    with pytest.raises(Conflict, match="already has a team called “Çizelge”"):
        teams.create_team(course.boss, {"name": "C\u0327izelge"}, NOW)
    created = teams.create_team(course.boss, {"name": " Blue\x1b[0m\t team\n"}, NOW)
    assert created.name == "Blue [0m team"
    with pytest.raises(InvalidInput, match="Give the team a name"):
        teams.create_team(course.boss, {"name": "\x00\x07 "}, NOW)
    assert sorted(team_ids(course.boss)) == ["Blue [0m team", "Çizelge"]


def test_an_lms_group_name_is_stored_as_names_are(course):
    teams.sync_lms_teams(course.boss.course_id, {"g-1": "O\u0308lc\u0327me\r\nGrubu"}, {"g-1": set()}, NOW)
    assert db.session.scalar(select(Team.name).where(Team.external_id == "g-1")) == "Ölçme Grubu"


def test_the_same_name_is_fine_in_another_course(course):
    other = make_actor(course.platform, "boss-2", Role.MANAGER, context_id="course-2")
    teams.create_team(course.boss, name("Red"), NOW)
    assert teams.create_team(other, name("Red"), NOW).course_id == other.course_id


def test_a_name_is_required(course):
    from marshmallow import ValidationError
    with pytest.raises(ValidationError) as err:
        name("   ")
    assert err.value.messages == {"name": ["Give the team a name."]}


# --- members ------------------------------------------------------------------------------------------------
def test_members_are_added_and_removed_idempotently(course):
    team = teams.create_team(course.boss, name("Red"), NOW)
    assert teams.add_members(course.boss, team.id, [course.ada.user_id, course.bo.user_id], NOW) == sorted(
        [course.ada.user_id, course.bo.user_id])
    assert teams.add_members(course.boss, team.id, [course.ada.user_id], NOW) == []  # a double submit
    assert members(team.id) == {course.ada.user_id, course.bo.user_id}
    assert teams.remove_member(course.boss, team.id, course.ada.user_id, NOW) is True
    assert teams.remove_member(course.boss, team.id, course.ada.user_id, NOW) is False
    assert members(team.id) == {course.bo.user_id}
    assert len(audit("team.members_added")) == 1 and len(audit("team.member_removed")) == 1


def test_a_learner_may_be_in_several_teams(course):
    red, blue = teams.create_team(course.boss, name("Red"), NOW), teams.create_team(course.boss, name("Blue"), NOW)
    teams.add_members(course.boss, red.id, [course.ada.user_id], NOW)
    teams.add_members(course.boss, blue.id, [course.ada.user_id], NOW)
    assert [t.name for t in teams.my_teams(course.ada)] == ["Blue", "Red"]


def test_only_learners_of_the_course_can_be_added(course):
    team = teams.create_team(course.boss, name("Red"), NOW)
    stranger = make_actor(course.platform, "stranger", context_id="course-2")
    for user_id in (stranger.user_id, course.boss.user_id, 999_999):
        with pytest.raises(InvalidInput, match="Only learners of this course"):
            teams.add_members(course.boss, team.id, [course.ada.user_id, user_id], NOW)
    assert members(team.id) == set()


def test_candidates_are_the_learners_not_yet_in_the_team(course):
    team = teams.create_team(course.boss, name("Red"), NOW)
    teams.add_members(course.boss, team.id, [course.ada.user_id], NOW)
    people, more = teams.candidates(course.boss, team.id)
    assert [u.name for u in people] == ["Bo", "Cy"] and not more
    assert [u.name for u in teams.candidates(course.boss, team.id, "c")[0]] == ["Cy"]
    assert [u.name for u in teams.candidates(course.boss, team.id, "%")[0]] == []  # no wildcard injection
    assert len(teams.candidates(course.boss, team.id, limit=1)[0]) == 1 and teams.candidates(
        course.boss, team.id, limit=1)[1]


def test_candidates_match_names_case_insensitively_beyond_ascii(course):
    can = make_actor(course.platform, "can", name="Can Öztürk")
    ayse = make_actor(course.platform, "ayse", name="Ayşe Şen")
    cem = make_actor(course.platform, "cem", name="Cem Çelik")
    team = teams.create_team(course.boss, name("Red"), NOW)
    for search, found in (("öztürk", can), ("ÖZTÜRK", can), ("şen", ayse), ("ŞEN", ayse), ("çelik", cem)):
        assert [u.id for u in teams.candidates(course.boss, team.id, search)[0]] == [found.user_id], search


# --- LMS teams ------------------------------------------------------------------------------------------------
def test_lms_teams_are_listed_but_their_name_and_members_stay_the_lms(course):
    team = lms_team(course, course.ada)
    summary = teams.course_teams(course.boss)[0]
    assert (summary.name, summary.source_label, summary.listed) == ("Canvas group", "LMS group", 1)
    for change in (lambda: teams.add_members(course.boss, team.id, [course.bo.user_id], NOW),
                   lambda: teams.remove_member(course.boss, team.id, course.ada.user_id, NOW),
                   lambda: teams.rename_team(course.boss, team.id, name("Mine now"), NOW),
                   lambda: teams.delete_team(course.boss, team.id, NOW)):
        with pytest.raises(Forbidden, match="comes? from the LMS"):
            change()
    assert members(team.id) == {course.ada.user_id} and team.name == "Canvas group"


def test_roster_sync_still_leaves_teams_made_here_alone(course):
    mine = teams.create_team(course.boss, name("Study buddies"), NOW)
    teams.add_members(course.boss, mine.id, [course.bo.user_id], NOW)
    lms_team(course, course.ada)
    teams.sync_lms_teams(course.boss.course_id, {}, {}, NOW)
    assert members(mine.id) == {course.bo.user_id}


def test_lms_groups_that_swapped_names_are_renamed_at_the_next_sync(course):
    """Each wanted name was held by the other group's team, so neither took it, at this sync or any later one."""
    course_id = course.boss.course_id
    teams.sync_lms_teams(course_id, {"g-1": "Red", "g-2": "Blue", "g-3": "Green"}, {}, NOW)
    mine = teams.create_team(course.boss, name("Yellow"), NOW)
    teams.sync_lms_teams(course_id, {"g-1": "Blue", "g-2": "Red", "g-3": "Yellow"}, {}, NOW + timedelta(hours=1))
    by_group = dict(db.session.execute(select(Team.external_id, Team.name).where(Team.course_id == course_id)).all())
    assert by_group == {"g-1": "Blue", "g-2": "Red", "g-3": "Green", None: "Yellow"}  # a manager's name stays theirs
    assert mine.name == "Yellow"


def test_an_lms_group_named_like_a_managers_team_but_for_case_gets_a_name_of_its_own(course):
    """Team names are unique in a course whatever their case (a manager cannot make "red" beside "Red"): two teams
    called "Red" and "red" on the team board could not be told apart."""
    teams.create_team(course.boss, name("Red"), NOW)
    teams.sync_lms_teams(course.boss.course_id, {"g-1": "red"}, {}, NOW)
    assert sorted(t.name for t in teams.course_teams(course.boss)) == ["Red", "red (LMS g-1)"]


def test_an_lms_group_named_like_a_managers_team_but_for_turkish_capitals_gets_a_name_of_its_own(course):
    teams.create_team(course.boss, name("İletişim"), NOW)
    teams.sync_lms_teams(course.boss.course_id, {"g-1": "iletişim", "g-2": "IŞIK"}, {}, NOW)
    teams.create_team(course.boss, name("Ölçme"), NOW)
    with pytest.raises(Conflict):
        teams.create_team(course.boss, name("Işık"), NOW)
    assert sorted(t.name for t in teams.course_teams(course.boss)) == ["IŞIK", "iletişim (LMS g-1)", "Ölçme", "İletişim"]


# --- scope and roles ---------------------------------------------------------------------------------------
def test_another_course_cannot_see_or_change_a_team(course):
    team = teams.create_team(course.boss, name("Red"), NOW)
    teams.add_members(course.boss, team.id, [course.ada.user_id], NOW)
    other = make_actor(course.platform, "boss-2", Role.MANAGER, context_id="course-2")
    assert teams.course_teams(other) == []
    for attempt in (lambda: teams.get_team(other, team.id),
                    lambda: teams.rename_team(other, team.id, name("Mine"), NOW),
                    lambda: teams.add_members(other, team.id, [course.bo.user_id], NOW),
                    lambda: teams.remove_member(other, team.id, course.ada.user_id, NOW),
                    lambda: teams.delete_team(other, team.id, NOW),
                    lambda: team_progress(other, team.id, NOW)):
        with pytest.raises(NotFound):
            attempt()
    assert members(team.id) == {course.ada.user_id} and team_ids(course.boss) == ["Red"]


def test_learners_cannot_manage_teams(course):
    team = teams.create_team(course.boss, name("Red"), NOW)
    for attempt in (lambda: teams.create_team(course.ada, name("Mine"), NOW),
                    lambda: teams.add_members(course.ada, team.id, [course.ada.user_id], NOW),
                    lambda: teams.course_teams(course.ada),
                    lambda: teams.delete_team(course.ada, team.id, NOW)):
        with pytest.raises(Forbidden):
            attempt()


def test_a_team_page_is_for_its_members_and_the_managers(course):
    team = teams.create_team(course.boss, name("Red"), NOW)
    teams.add_members(course.boss, team.id, [course.ada.user_id], NOW)
    assert teams.viewable_team(course.ada, team.id).id == team.id
    assert teams.viewable_team(course.boss, team.id).id == team.id
    with pytest.raises(Forbidden, match="Only this team's members"):
        teams.viewable_team(course.bo, team.id)


# --- figures follow membership -------------------------------------------------------------------------------
def test_adding_a_member_brings_their_points_and_experiments_and_removing_takes_them_away(course):
    log(course.ada, minutes_saved=90)
    log(course.ada, now=NOW + timedelta(hours=1), outcome="failed", learned="Needs the source text.")
    points = balances(course.ada.course_id, course.ada.user_id)["total"]
    assert points > 0
    team = teams.create_team(course.boss, name("Red"), NOW)
    assert team_figures(team.id, [ALL])[ALL] == {}

    teams.add_members(course.boss, team.id, [course.ada.user_id], NOW)
    figures = team_figures(team.id, [ALL])[ALL]
    assert (figures["members"], figures["experiments"], figures["points:total"], figures["minutes"]) == (
        1, 2, points, 90)
    assert figures["experimenters"] == 1 and figures["out:failed"] == 1
    assert rebuild.verify() == {}

    teams.remove_member(course.boss, team.id, course.ada.user_id, NOW)
    assert team_figures(team.id, [ALL])[ALL] == {}
    assert rebuild.verify() == {}


def test_figures_keep_counting_after_joining_and_deleting_a_team_drops_them(course):
    team = teams.create_team(course.boss, name("Red"), NOW)
    teams.add_members(course.boss, team.id, [course.ada.user_id, course.bo.user_id], NOW)
    log(course.ada)
    log(course.bo)
    assert team_figures(team.id, [ALL])[ALL]["experiments"] == 2
    assert rebuild.verify() == {}
    teams.delete_team(course.boss, team.id, NOW)
    assert team_figures(team.id, [ALL])[ALL] == {}
    assert rebuild.verify() == {}


def fresh(challenge: Challenge) -> Challenge:
    db.session.expire(challenge)
    return db.session.get(Challenge, challenge.id)


def challenge_for(course, team, **overrides):
    raw = {"title": "Ten together", "goal_kind": "count", "goal_value": "10", "team": str(team.id),
           "starts_at": "2025-03-01T00:00", "ends_at": "2025-04-01T00:00", **overrides}
    return create_challenge(course.boss, ChallengeIn().load(raw), NOW)


def test_membership_changes_keep_the_team_challenge_board_equal_to_its_rebuild(course):
    team = teams.create_team(course.boss, name("Red"), NOW)
    teams.add_members(course.boss, team.id, [course.bo.user_id], NOW)
    challenge_for(course, team)
    log(course.ada, now=NOW + timedelta(minutes=5))  # points in the window, before joining the team
    teams.add_members(course.boss, team.id, [course.ada.user_id], NOW + timedelta(minutes=10))
    assert rebuild.verify() == {}
    teams.remove_member(course.boss, team.id, course.ada.user_id, NOW + timedelta(minutes=20))
    assert rebuild.verify() == {}



def test_a_team_challenges_progress_follows_who_is_in_the_team(course):
    """Someone who leaves the team leaves its open challenges' progress (as they leave its board); someone who
    joins brings their experiments inside the window, as they bring their points to its board."""
    team = teams.create_team(course.boss, name("Red"), NOW)
    teams.add_members(course.boss, team.id, [course.ada.user_id, course.bo.user_id, course.cy.user_id], NOW)
    everyone = challenge_for(course, team, goal_kind="participation", goal_value="100", title="All of Red")
    log(course.ada, now=NOW + timedelta(minutes=1))
    assert progress_of(fresh(everyone)).text.startswith("33% of learners took part (1 of 3)")
    teams.remove_member(course.boss, team.id, course.ada.user_id, NOW + timedelta(minutes=2))
    left = fresh(everyone)
    assert (left.progress_count, left.contributor_count) == (0, 0)
    assert progress_of(left).text.startswith("0% of learners took part (0 of 2)")  # it said 50%, 1 of 2
    teams.add_members(course.boss, team.id, [course.ada.user_id], NOW + timedelta(minutes=3))
    assert (fresh(everyone).progress_count, fresh(everyone).contributor_count) == (1, 1)
    assert fresh(everyone).completed_at is None

def test_a_team_with_challenges_is_not_deleted_until_they_are_cancelled(course):
    team = teams.create_team(course.boss, name("Red"), NOW)
    challenge = challenge_for(course, team)
    with pytest.raises(Conflict, match="Cancel them first"):
        teams.delete_team(course.boss, team.id, NOW)
    cancel_challenge(course.boss, challenge.id, NOW)
    assert teams.delete_team(course.boss, team.id, NOW) is True


# --- the progress read model -------------------------------------------------------------------------------------
def test_team_progress_reads_weeks_categories_outcomes_hours_and_goals(course):
    categories = items(course.ada.organisation_id, "categories")
    team = teams.create_team(course.boss, name("Red"), NOW)
    teams.add_members(course.boss, team.id, [course.ada.user_id, course.bo.user_id], NOW)
    log(course.ada, minutes_saved=45, task_category=categories[0].id)
    log(course.ada, now=NOW - timedelta(days=7), minutes_saved=30, task_category=categories[1].id,
        outcome="partly")                                       # the week before, in February
    log(course.cy, minutes_saved=600)                           # not in the team
    challenge_for(course, team, goal_value="4")
    group_size(course, 2)  # the organisation lets its managers see groups of two
    make_actor(course.platform, "di", name="Di")  # and the rest of the course (Cy, Di) is a group of two too
    progress = team_progress(course.boss, team.id, NOW + timedelta(days=1))

    assert progress.members == 2 and progress.month_key == "2025-03" and progress.month_label == "March 2025"
    assert [(w.key, w.experimenters, w.percent) for w in progress.weeks[-2:]] == [
        ("2025-W09", 1, 50), ("2025-W10", 1, 50)]
    assert len(progress.weeks) == 12 and progress.weeks[0].key == "2024-W51"
    assert (progress.experiments.month, progress.experiments.all_time) == (1, 2)
    assert (progress.hours_month, progress.hours_all_time) == (0.8, 1.2)  # the page formats them per locale
    assert [(c.label, c.month, c.all_time) for c in progress.categories] == [
        (categories[0].name, 1, 1), (categories[1].name, 0, 1)]
    assert [(o.key, o.month, o.all_time) for o in progress.outcomes] == [
        ("worked", 1, 1), ("partly", 0, 1), ("failed", 0, 0)]
    assert progress.points_per_member_month == round(progress.points_month / 2, 1)
    [goal] = progress.goals
    # The window opened on 1 March: Ada's experiment of the 3rd counts; February's does not.
    assert (goal.title, goal.progress.text, goal.percent, goal.status) == ("Ten together", "1 of 4 experiments", 25,
                                                                          "open")



def test_a_weeks_participation_rounds_half_up_as_the_team_board_shows_it(course):
    """1 of 8 members is 12.5%: the team board says 13%, and so does the team page (it said 12%)."""
    people = [course.ada, course.bo, course.cy] + [make_actor(course.platform, f"m{i}") for i in range(5)]
    team = teams.create_team(course.boss, name("Eight"), NOW)
    teams.add_members(course.boss, team.id, [p.user_id for p in people], NOW)
    log(course.ada)
    week = team_progress(course.boss, team.id, NOW + timedelta(minutes=1)).weeks[-1]
    [row] = team_board(course.boss.course_id, week.key, EXPERIMENTERS).rows
    assert (week.key, week.experimenters, week.members) == ("2025-W10", 1, 8)
    assert row.experimenters_percent == 13
    assert week.percent == 13
    forty = TeamRow(1, team.id, "Forty", 40, 0, 23, 23)  # 57.5%: the board's float arithmetic showed 57%
    assert (forty.experimenters_percent, forty.helpers_percent) == (58, 58)

# --- double submits, for real: requests racing on the database -------------------------------------------------
def test_racing_submits_of_the_same_add_and_remove_apply_once(appctx, course):
    log(course.ada)
    team = teams.create_team(course.boss, name("Red"), NOW)
    team_id, ada = team.id, course.ada.user_id

    def add(_i):
        added = teams.add_members(course.boss, team_id, [ada], NOW)
        db.session.commit()
        return added

    assert sorted(race(appctx, add), key=len) == [[]] * (THREADS - 1) + [[ada]]
    assert members(team_id) == {ada} and team_figures(team_id, [ALL])[ALL]["experiments"] == 1
    assert len(audit("team.members_added")) == 1

    def remove(_i):
        gone = teams.remove_member(course.boss, team_id, ada, NOW)
        db.session.commit()
        return gone

    assert sorted(race(appctx, remove)) == [False] * (THREADS - 1) + [True]
    assert members(team_id) == set() and team_figures(team_id, [ALL])[ALL] == {}
    assert rebuild.verify() == {}


def test_adding_a_member_while_their_award_is_being_saved_keeps_the_teams_figures_exact(appctx, course):
    """The manager adds Ada while her experiment is being saved: the team's figures, recomputed from her points, must
    include the award once it commits, not be recomputed without it and stay one award short."""
    log(course.ada)
    team_id, ada, boss = teams.create_team(course.boss, name("Red"), NOW).id, course.ada, course.boss
    while_the_first_waits_to_commit(appctx, lambda: log(ada, NOW + timedelta(minutes=2)).experiment.id,
                                    lambda: teams.add_members(boss, team_id, [ada.user_id], NOW))
    db.session.expire_all()
    assert rebuild.verify() == {}
    assert team_figures(team_id, [ALL])[ALL]["points:experimenting"] == 20


@pytest.mark.parametrize("change", ["added", "removed", "deleted"])
def test_an_award_waiting_on_a_team_change_counts_for_the_team_as_it_now_is(appctx, course, change):
    """The other order: the manager's change of Red is being saved when Ada presses Save. Her award waits for it and
    must then count for Red if she was just added (not leave Red one award short), and not if she was just removed."""
    log(course.ada)
    team_id, ada, boss = teams.create_team(course.boss, name("Red"), NOW).id, course.ada, course.boss
    if change != "added":
        teams.add_members(boss, team_id, [ada.user_id], NOW)

    def change_team():
        if change == "added":
            return teams.add_members(boss, team_id, [ada.user_id], NOW)
        if change == "removed":
            return teams.remove_member(boss, team_id, ada.user_id, NOW)
        return teams.delete_team(boss, team_id, NOW)

    while_the_first_waits_to_commit(appctx, change_team, lambda: log(ada, NOW + timedelta(minutes=2)).experiment.id)
    db.session.expire_all()
    assert rebuild.verify() == {}
    assert team_figures(team_id, [ALL]).get(ALL, {}).get("points:experimenting", 0) == (20 if change == "added" else 0)


def test_adding_a_member_while_their_kudos_is_being_revoked_keeps_the_teams_figures_exact(appctx, course):
    """The manager adds Ada to a team while an admin revokes kudos she received: the team's figures, recomputed from
    her points, must leave out the kudos once the revocation commits, not keep it and stay 15 points too high."""
    from plugin.recognition.service import give_kudos, revoke_kudos

    admin = make_actor(course.platform, "admin", Role.ADMIN)
    kudos_id = give_kudos(course.boss, receiver_id=course.ada.user_id, message="Great prompt library, thank you",
                          now=NOW, submission_key="k-1", points=15).id
    log(course.ada)
    team_id, ada, boss = teams.create_team(course.boss, name("Red"), NOW).id, course.ada, course.boss
    while_the_first_waits_to_commit(appctx, lambda: revoke_kudos(admin, kudos_id, "Given by mistake",
                                                                 NOW + timedelta(minutes=2)).id,
                                    lambda: teams.add_members(boss, team_id, [ada.user_id], NOW))
    db.session.expire_all()
    assert rebuild.verify() == {}
    assert team_figures(team_id, [ALL])[ALL]["points:total"] == balances(ada.course_id, ada.user_id)["total"]


def test_adding_a_member_while_their_badge_is_being_revoked_keeps_the_teams_figures_exact(appctx, course):
    """As with kudos: a badge revoked (its rule firing's points taken back) while the manager adds its holder."""
    from plugin.badges.models import BadgeAward
    from plugin.badges.service import get_or_create_badge
    from plugin.recognition.service import revoke_badge
    from plugin.rules.definitions import create_rule

    badge = get_or_create_badge(course.ada.organisation_id, "starter", NOW, name="Starter")
    rule = create_rule(course.ada.organisation_id, {"name": "Starter", "condition": "experiment_count",
                                                    "params": {"count": 1}, "points": 15, "badge_id": badge.id,
                                                    "repeatable": False}, NOW)
    log(course.ada)
    award_id = db.session.scalar(select(BadgeAward.id).where(BadgeAward.rule_id == rule.id))
    team_id, ada, boss = teams.create_team(course.boss, name("Red"), NOW).id, course.ada, course.boss
    before = balances(ada.course_id, ada.user_id)["total"]
    while_the_first_waits_to_commit(appctx, lambda: revoke_badge(boss, award_id, "Given by mistake",
                                                                 NOW + timedelta(minutes=2)).id,
                                    lambda: teams.add_members(boss, team_id, [ada.user_id], NOW))
    db.session.expire_all()
    assert balances(ada.course_id, ada.user_id)["total"] < before
    assert rebuild.verify() == {}
    assert team_figures(team_id, [ALL])[ALL]["points:total"] == balances(ada.course_id, ada.user_id)["total"]


def test_an_lms_group_sync_adding_a_member_while_their_award_is_being_saved_keeps_the_teams_figures_exact(appctx, course):
    """The roster sync puts Ada in her Canvas group's team while her experiment is being saved: the team's figures,
    recomputed from her points, must include the award once it commits (as a manager's add_members does)."""
    from plugin.lti import roster
    from plugin.tenancy.service import RosterEntry

    log(course.ada)
    course_id, ada = course.ada.course_id, course.ada
    lms_team(course)  # the group exists, empty, from an earlier sync
    everyone = [RosterEntry("boss", Role.MANAGER, ("role:manager",), True, name="Boss")] + [  # as they launched
        RosterEntry(sub, Role.LEARNER, ("role:learner",), True, name=who) for sub, who in (("ada", "Ada"), ("bo", "Bo"),
                                                                                          ("cy", "Cy"))]
    fetched = roster.Fetched(entries=everyone, enrollments={"ada": ["g-1"]}, groups={"g-1": "Canvas group"})
    while_the_first_waits_to_commit(appctx, lambda: log(ada, NOW + timedelta(minutes=2)).experiment.id,
                                    lambda: roster.apply(course_id, fetched, NOW + timedelta(minutes=3)))
    db.session.expire_all()
    team_id = db.session.scalar(select(Team.id).where(Team.external_id == "g-1"))
    assert members(team_id) == {ada.user_id}
    assert rebuild.verify() == {}
    assert team_figures(team_id, [ALL])[ALL]["points:experimenting"] == 20


def test_racing_creates_of_one_name_make_one_team(appctx, course):
    def create(i):
        try:
            teams.create_team(course.boss, name("Red" if i % 2 else "red"), NOW)
            db.session.commit()
            return "created"
        except Conflict:
            db.session.rollback()
            return "refused"

    results = race(appctx, create)
    assert results.count("created") == 1 and team_ids(course.boss) in (["Red"], ["red"])


def test_a_learner_sees_a_teams_figures_only_from_three_counted_members_on(course):
    """In a team of two, the figures are the teammate's own entries, private ones included."""
    team = teams.create_team(course.boss, name("Pair"), NOW)
    teams.add_members(course.boss, team.id, [course.ada.user_id, course.bo.user_id], NOW)
    log(course.bo, visibility="private", outcome="failed", minutes_saved=45,
        learned="It made up the figures; I will paste the source next time.")
    group_size(course, 2)
    make_actor(course.platform, "di", name="Di")  # the rest of the course (Cy, Di) is two too
    pair = team_progress(course.ada, team.id, NOW + timedelta(minutes=1))
    assert pair.withheld and (pair.experiments.all_time, pair.minutes.all_time) == (0, 0)
    assert [o.all_time for o in pair.outcomes] == [0, 0, 0] and pair.members == 2 and pair.needed == 3
    manager = team_progress(course.boss, team.id, NOW + timedelta(minutes=1))
    assert not manager.withheld and (manager.experiments.all_time, manager.minutes.all_time) == (1, 45)
    teams.add_members(course.boss, team.id, [course.cy.user_id], NOW + timedelta(minutes=2))
    three = team_progress(course.ada, team.id, NOW + timedelta(minutes=3))
    assert not three.withheld and (three.experiments.all_time, three.minutes.all_time) == (1, 45)


def test_a_manager_sees_a_teams_figures_from_the_organisations_minimum_group_size_on(course):
    """A manager makes teams: a team of one would be one person's entries, private failures and minutes included,
    which Insights withholds below the organisation's minimum group size (5 unless an admin changed it)."""
    team = teams.create_team(course.boss, name("Solo"), NOW)
    teams.add_members(course.boss, team.id, [course.bo.user_id], NOW)
    log(course.bo, visibility="private", outcome="failed", minutes_saved=45,
        learned="It made up the figures; I will paste the source next time.")
    alone = team_progress(course.boss, team.id, NOW + timedelta(minutes=1))
    assert alone.withheld and alone.needed == 5 and alone.members == 1
    assert (alone.experiments.all_time, alone.minutes.all_time, alone.hours_all_time) == (0, 0, 0)
    assert [o.all_time for o in alone.outcomes] == [0, 0, 0] and alone.points_month == 0
    teams.add_members(course.boss, team.id, [course.ada.user_id, course.cy.user_id], NOW + timedelta(minutes=2))
    assert team_progress(course.boss, team.id, NOW + timedelta(minutes=3)).withheld  # 3 of 5
    group_size(course, 3)
    three = team_progress(course.boss, team.id, NOW + timedelta(minutes=3))
    assert not three.withheld and three.needed == 3
    assert (three.experiments.all_time, three.minutes.all_time) == (1, 45)
    assert [o.all_time for o in three.outcomes if o.all_time] == [1]


def test_a_manager_does_not_see_the_figures_of_a_team_of_everyone_but_too_few(course):
    """Beside the course's insights, a team of everyone but one is that one person's figures: the team page withholds
    the team's figures while the rest of the course is below the minimum group size, as Insights does."""
    group_size(course, 3)
    di = make_actor(course.platform, "di", name="Di")
    team = teams.create_team(course.boss, name("Most"), NOW)
    teams.add_members(course.boss, team.id, [course.ada.user_id, course.bo.user_id, course.cy.user_id], NOW)
    log(di, visibility="private", outcome="failed", minutes_saved=45, learned="It invented a source; I check now.")
    log(course.ada, minutes_saved=10)
    most = team_progress(course.boss, team.id, NOW + timedelta(minutes=1))
    assert most.members == 3 and most.needed == 3 and most.withheld  # the course minus the team is Di alone
    assert (most.experiments.all_time, most.minutes.all_time) == (0, 0)
    make_actor(course.platform, "ed", name="Ed")
    assert team_progress(course.boss, team.id, NOW + timedelta(minutes=2)).withheld  # Di, Ed: still two
    log(make_actor(course.platform, "fi", name="Fi"), minutes_saved=5)
    apart = team_progress(course.boss, team.id, NOW + timedelta(minutes=3))  # Di, Ed and Fi: three
    assert not apart.withheld and (apart.experiments.all_time, apart.minutes.all_time) == (1, 10)
    assert not team_progress(course.ada, team.id, NOW + timedelta(minutes=3)).withheld  # learners: from three


def test_names_differing_only_in_turkish_or_accented_capitals_are_the_same_team(course):
    """"ölçme" beside "Ölçme" is refused on both databases, as "red" beside "Red" is (SQLite's lower() folds
    ASCII only)."""
    teams.create_team(course.boss, name("Ölçme Ekibi"), NOW)
    with pytest.raises(Conflict, match="already has a team called “Ölçme Ekibi”"):
        teams.create_team(course.boss, name("ÖLÇME EKİBİ"), NOW)
    with pytest.raises(Conflict):
        teams.create_team(course.boss, name("ölçme ekibi"), NOW)


def test_a_roster_sync_and_a_peer_help_between_two_of_its_people_do_not_deadlock(appctx, course):
    """A roster sync changes Bo's roles (its flush writes his membership row) and puts Ada in her LMS group (her row
    next), while Ada records help from Bo (both rows, in id order: Ada's, then Bo's). On PostgreSQL each held the row
    the other wanted: a deadlock, and one of them a server error. Both must go through, one after the other."""

    from sqlalchemy import text

    from plugin.lti import roster
    from plugin.peer_help.service import I_HELPED, record_help
    from plugin.tenancy.service import RosterEntry
    from tests.services.test_concurrency import committing_thread, until_sessions_wait_for_locks

    if db.engine.dialect.name != "postgresql":
        pytest.skip("row locks: PostgreSQL")
    team_id = lms_team(course).id
    course_id, ada, bo = course.ada.course_id, course.ada, course.bo
    everyone = [RosterEntry("boss", Role.MANAGER, ("role:manager",), True, name="Boss"),
                RosterEntry("ada", Role.LEARNER, ("role:learner",), True, name="Ada"),
                RosterEntry("bo", Role.LEARNER, ("role:learner", "role:mentor"), True, name="Bo"),
                RosterEntry("cy", Role.LEARNER, ("role:learner",), True, name="Cy")]
    # the LMS renamed the group: the sync writes the team's row between its members' flush and Ada's move
    fetched = roster.Fetched(entries=everyone, enrollments={"ada": ["g-1"]}, groups={"g-1": "Canvas group, renamed"})
    db.session.commit()
    errors: list[BaseException] = []

    def waiting(count: int) -> None:
        assert until_sessions_wait_for_locks(count), f"nobody waited: {count} {errors!r}"

    gate = db.engine.connect()  # someone holding the team's row: the sync stops there, after its flush
    try:
        gate.execute(text(f"SELECT 1 FROM {Team.__tablename__} WHERE id = :id FOR UPDATE"), {"id": team_id})
        sync = committing_thread(appctx, "sync", lambda: roster.apply(course_id, fetched, NOW), errors)
        waiting(1)
        helped = committing_thread(appctx, "help", lambda: record_help(
            ada, other_user_id=bo.user_id, direction=I_HELPED, description="Showed me how to prompt for tests",
            now=NOW), errors)
        waiting(2)
    finally:
        gate.rollback()
        gate.close()
    sync.join(30)
    helped.join(30)
    assert errors == [] and not sync.is_alive() and not helped.is_alive()
    db.session.expire_all()
    assert members(team_id) == {ada.user_id}
