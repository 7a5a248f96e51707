"""Boards from maintained aggregates: periods in the organisation's time zone, around-me, ties, organisation
scope, anonymity, who counts, team boards fair to team size, and rebuilt == maintained."""
import itertools
import random
import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import event, select, update

from plugin.core.actor import Actor, Role
from plugin.extensions import db
from plugin.leaderboards import queries, rebuild, reconcile
from plugin.leaderboards import service as boards
from plugin.leaderboards.models import BoardScore, TeamStanding
from plugin.leaderboards.periods import ALL, WEEK, current_key
from plugin.leaderboards.queries import ANONYMOUS, Scope, board, team_board, team_figures
from plugin.ledger.service import Posting, post_entry, reverse_entry
from plugin.peer_help.service import HELPED_ME, record_help
from plugin.recognition.service import give_kudos, revoke_badge
from plugin.settings.models import OrganisationSettings
from plugin.settings.service import time_zone
from plugin.teams.service import add_member, ensure_team
from plugin.tenancy import service as tenancy
from plugin.tenancy.models import Membership
from tests.services.factories import NOW, identity, log, make_actor, make_platform

_keys = itertools.count(1)
SUNDAY_LATE_ISTANBUL = datetime(2026, 11, 29, 20, 30, tzinfo=timezone.utc)  # Sunday 23:30 at UTC+3
MONDAY_ISTANBUL = datetime(2026, 11, 29, 21, 30, tzinfo=timezone.utc)       # Monday 00:30 at UTC+3, Sunday in UTC


@pytest.fixture
def platform(appctx):
    return make_platform()


def award(actor, points: int, now: datetime = NOW, dimension: str = "experimenting") -> int:
    return post_entry(Posting(organisation_id=actor.organisation_id, course_id=actor.course_id, user_id=actor.user_id,
                              amount=points, dimension=dimension, source_type="manual", source_id=None,
                              key=f"board-test:{next(_keys)}"), now)


def learners(platform, *points: int, context_id: str = "course-1", now: datetime = NOW) -> list[Actor]:
    people = []
    for i, p in enumerate(points):
        person = make_actor(platform, f"{context_id}-l{i}", context_id=context_id, name=f"{context_id} L{i}")
        if p:
            award(person, p, now)
        people.append(person)
    return people


def manager(platform, context_id: str = "course-1") -> Actor:
    return make_actor(platform, f"{context_id}-manager", Role.MANAGER, context_id=context_id, name="The Manager")


def set_zone(organisation_id: int, name: str) -> None:
    db.session.get(OrganisationSettings, organisation_id).time_zone = name
    db.session.flush()


def ranks(result) -> list[tuple[int, int]]:
    return [(r.rank, r.points) for r in result.rows]


# --- around me, ties ----------------------------------------------------------------------------------
def test_a_viewer_far_down_sees_the_top_and_their_neighbours_with_true_ranks(platform):
    people = learners(platform, *[10 * (i + 1) for i in range(30)])  # L29 leads with 300
    viewer = people[15]  # 160 points: rank 15
    result = board(Scope.course(viewer.course_id), viewer_user_id=viewer.user_id, limit=5, around=2)
    assert ranks(result) == [(1, 300), (2, 290), (3, 280), (4, 270), (5, 260)]
    assert [(r.rank, r.points, r.is_viewer) for r in result.around] == [
        (13, 180, False), (14, 170, False), (15, 160, True), (16, 150, False), (17, 140, False)]
    assert result.viewer.rank == 15 and not result.viewer_in_top and result.participants == 30


def test_neighbours_inside_a_tie_are_listed_by_account_and_share_the_rank(platform):
    people = learners(platform, 50, 20, 20, 20, 20, 10)
    result = board(Scope.course(people[0].course_id), viewer_user_id=people[3].user_id, limit=1, around=1)
    assert [(r.rank, r.user_id) for r in result.around] == [
        (2, people[2].user_id), (2, people[3].user_id), (2, people[4].user_id)]


def test_relative_mode_shows_only_neighbours(platform):
    people = learners(platform, 40, 30, 20, 10)
    result = board(Scope.course(people[0].course_id), viewer_user_id=people[2].user_id, relative=True, around=1)
    assert result.rows == []
    assert [(r.rank, r.points) for r in result.around] == [(2, 30), (3, 20), (4, 10)]


@pytest.mark.parametrize("seed", range(6))
def test_ranks_equal_a_brute_force_count_after_random_awards_and_reversals(platform, seed):
    rng = random.Random(seed)
    people = learners(platform, *[0] * 25)
    entries = []
    for _ in range(120):
        person = rng.choice(people)
        entries.append(award(person, rng.choice([5, 10, 10, 15, 20]), dimension=rng.choice(["experimenting", "helping"])))
    for entry_id in rng.sample(entries, 20):
        reverse_entry(entry_id, f"undo:{entry_id}", NOW)
    course_id = people[0].course_id
    totals = dict(db.session.execute(select(BoardScore.user_id, BoardScore.points).where(
        BoardScore.board == f"c{course_id}:all:total")).all())
    expected_rank = {u: 1 + sum(1 for q in totals.values() if q > p) for u, p in totals.items()}
    full = board(Scope.course(course_id), limit=100)
    assert [(r.user_id, r.rank) for r in full.rows] == sorted(
        ((u, expected_rank[u]) for u in totals), key=lambda x: (-totals[x[0]], x[0]))
    for person in rng.sample(people, 8):
        if person.user_id in totals:
            seen = board(Scope.course(course_id), viewer_user_id=person.user_id, limit=3, around=2).viewer
            assert seen.rank == expected_rank[person.user_id] and seen.points == totals[person.user_id]


# --- periods -------------------------------------------------------------------------------------------
def test_weeks_turn_at_monday_midnight_in_the_organisations_time_zone(platform):
    a, b = learners(platform, 0, 0)
    set_zone(a.organisation_id, "Europe/Istanbul")
    award(a, 10, SUNDAY_LATE_ISTANBUL)
    award(b, 30, MONDAY_ISTANBUL)
    scope = Scope.course(a.course_id)
    assert [(r.user_id, r.points) for r in board(scope, "2026-W48").rows] == [(a.user_id, 10)]
    assert [(r.user_id, r.points) for r in board(scope, "2026-W49").rows] == [(b.user_id, 30)]
    assert [(r.user_id, r.points) for r in board(scope, "2026-11").rows] == [(b.user_id, 30), (a.user_id, 10)]
    assert [r.user_id for r in board(scope, ALL).rows] == [b.user_id, a.user_id]


def test_the_current_week_follows_the_time_zone(platform):
    a, = learners(platform, 0)
    set_zone(a.organisation_id, "Europe/Istanbul")
    award(a, 10, MONDAY_ISTANBUL)
    week = boards.individual_board(a, "course", "week", "total", MONDAY_ISTANBUL + timedelta(minutes=5))
    assert week.period == "2026-W49" and week.viewer.points == 10


def test_a_reversal_leaves_the_week_the_points_were_earned_in(platform):
    a, b = learners(platform, 0, 0)
    first = award(a, 40, NOW)
    award(b, 5, NOW)
    reverse_entry(first, "undo-first", NOW + timedelta(days=10))  # a later week
    scope = Scope.course(a.course_id)
    earned_week = f"{NOW.isocalendar().year}-W{NOW.isocalendar().week:02d}"
    assert [(r.user_id, r.points) for r in board(scope, earned_week).rows] == [(b.user_id, 5), (a.user_id, 0)]
    later = NOW + timedelta(days=10)
    assert board(scope, f"{later.isocalendar().year}-W{later.isocalendar().week:02d}").rows == []


def test_changing_the_time_zone_moves_points_to_their_local_week(platform):
    a, = learners(platform, 0)
    admin = make_actor(platform, "admin-1", Role.ADMIN, name="Admin")
    award(a, 10, MONDAY_ISTANBUL)
    scope = Scope.course(a.course_id)
    assert board(scope, "2026-W48").viewer is None and board(scope, "2026-W48").rows[0].points == 10
    assert boards.change_time_zone(admin, "Europe/Istanbul", NOW)
    assert board(scope, "2026-W48").rows == []
    assert board(scope, "2026-W49").rows[0].points == 10
    assert rebuild.verify() == {}


@pytest.mark.parametrize("first", ["award", "time zone"])
def test_an_experiment_logged_while_the_time_zone_changes_lands_in_its_local_week(appctx, platform, first):
    """An admin changes the time zone (the week and month boards are rebuilt) while a learner logs an experiment
    late on a Sunday: whichever commits first, the entry's points count in the week of the new zone, as a rebuild
    from the ledger says, not in the old zone's week the award read before the change was saved."""
    from plugin.experiments.service import log_experiment
    from tests.services.factories import experiment_data
    from tests.services.test_concurrency import while_the_first_waits_to_commit

    a, = learners(platform, 0)
    admin = make_actor(platform, "admin-1", Role.ADMIN, name="Admin")
    data = experiment_data(a.organisation_id)
    work = {"award": lambda: log_experiment(a, data, MONDAY_ISTANBUL).experiment.id,
            "time zone": lambda: boards.change_time_zone(admin, "Europe/Istanbul", MONDAY_ISTANBUL)}
    second = "time zone" if first == "award" else "award"
    while_the_first_waits_to_commit(appctx, work[first], work[second])
    db.session.expire_all()
    scope = Scope.course(a.course_id)
    assert board(scope, "2026-W48").rows == []
    assert [r.points for r in board(scope, "2026-W49").rows] == [10]
    assert rebuild.verify() == {}


# --- scopes, privacy, who counts ------------------------------------------------------------------------
def test_the_organisation_board_sums_its_courses_and_never_another_organisation(platform):
    here = make_actor(platform, "shared-person", context_id="course-1", name="Both Courses")
    award(here, 10)
    there = make_actor(platform, "shared-person", context_id="course-2", name="Both Courses")
    award(there, 25)
    other, = learners(platform, 12, context_id="course-2")
    foreign_platform = make_platform(issuer="https://other.example", organisation="Org B")
    foreign = make_actor(foreign_platform, "foreign", name="Foreign Learner")
    award(foreign, 500)
    result = board(Scope.organisation(here.organisation_id))
    assert [(r.name, r.points) for r in result.rows] == [("Both Courses", 35), ("course-2 L0", 12)]
    assert other.organisation_id == here.organisation_id != foreign.organisation_id


def test_an_opted_out_learner_is_anonymous_to_others_and_themselves_to_themselves(platform):
    shy, bold = learners(platform, 30, 20)
    boards.set_opt_out(shy, True, NOW)
    seen_by_other = board(Scope.course(shy.course_id), viewer_user_id=bold.user_id)
    assert [(r.name, r.user_id, r.rank) for r in seen_by_other.rows] == [(ANONYMOUS, None, 1), (bold.display_name, bold.user_id, 2)]
    seen_by_self = board(Scope.course(shy.course_id), viewer_user_id=shy.user_id)
    assert seen_by_self.rows[0].name == shy.display_name and seen_by_self.rows[0].is_viewer
    org_board = board(Scope.organisation(shy.organisation_id), viewer_user_id=bold.user_id)
    assert org_board.rows[0].name == ANONYMOUS and org_board.rows[0].user_id is None
    boards.set_opt_out(shy, False, NOW)
    assert board(Scope.course(shy.course_id), viewer_user_id=bold.user_id).rows[0].name == shy.display_name


def test_staff_are_never_on_learner_boards(platform):
    people = learners(platform, 10)
    boss = manager(platform)
    award(boss, 50)  # even points posted to a manager by hand stay off the boards
    assert [r.user_id for r in board(Scope.course(boss.course_id)).rows] == [people[0].user_id]
    assert [r.user_id for r in board(Scope.organisation(boss.organisation_id)).rows] == [people[0].user_id]
    assert rebuild.verify() == {}


def test_board_settings_saved_twice_at_once_are_audited_once(appctx, platform):
    """A double click on Save (or two managers choosing the same): the second finds the mode set and records no
    second change in the audit log."""
    from plugin.audit.models import AuditEvent
    from tests.services.test_concurrency import while_the_first_waits_to_commit

    boss = manager(platform)
    off = {"mode": "off", "relative": False}
    while_the_first_waits_to_commit(appctx, lambda: boards.update_settings(boss, off, NOW).mode,
                                    lambda: boards.update_settings(boss, off, NOW).mode)
    db.session.expire_all()
    changes = db.session.scalars(select(AuditEvent.details).where(AuditEvent.action == "boards.settings_changed")).all()
    assert changes == [{"mode": ["on", "off"]}]


def test_learners_cannot_change_board_settings_and_modes_limit_what_learners_see(platform):
    a, = learners(platform, 10)
    boss = manager(platform)
    with pytest.raises(Exception, match="managers"):
        boards.update_settings(a, {"mode": "off", "relative": False}, NOW)
    boards.update_settings(boss, {"mode": "team_only", "relative": False}, NOW)
    with pytest.raises(Exception, match="team boards only"):
        boards.individual_board(a, "course", "all", "total", NOW)
    assert boards.individual_board(boss, "course", "all", "total", NOW).rows[0].user_id == a.user_id
    boards.update_settings(boss, {"mode": "off", "relative": False}, NOW)
    with pytest.raises(Exception, match="turned off"):
        boards.teams_board(a, "all", "points_per_member", NOW)


def test_people_the_roster_drops_leave_the_boards_and_return_with_their_points(platform):
    a, b = learners(platform, 30, 20)
    # The roster no longer lists a: inactive.
    tenancy.sync_members(a.course_id, [tenancy.RosterEntry(sub="course-1-l1", role=Role.LEARNER, lti_roles=(),
                                                           active=True, name="course-1 L1")], NOW)
    reconcile.reconcile_course(a.course_id)
    assert [r.user_id for r in board(Scope.course(a.course_id)).rows] == [b.user_id]
    assert [r.user_id for r in board(Scope.organisation(a.organisation_id)).rows] == [b.user_id]
    # A launch brings them back, with everything they had earned.
    tenancy.provision(identity(platform, "course-1-l0", name="course-1 L0"), NOW)
    assert reconcile.reconcile_member(a.course_id, a.user_id)
    assert [(r.user_id, r.points) for r in board(Scope.course(a.course_id)).rows] == [(a.user_id, 30), (b.user_id, 20)]
    assert rebuild.verify() == {}


def drop_all_but(course_id: int, sub: str) -> None:
    """The roster now lists only `sub` in the course."""
    tenancy.sync_members(course_id, [tenancy.RosterEntry(sub=sub, role=Role.LEARNER, lti_roles=(), active=True,
                                                         name=sub)], NOW)


def test_someone_returning_keeps_a_row_on_a_week_their_points_net_to_zero_on(platform):
    a, _b = learners(platform, 0, 7)
    reverse_entry(award(a, 10, NOW), "undo", NOW + timedelta(minutes=1))  # the week nets to 0
    award(a, 5, NOW + timedelta(days=10))
    drop_all_but(a.course_id, "course-1-l1")
    reconcile.reconcile_course(a.course_id)
    tenancy.provision(identity(platform, "course-1-l0", name="course-1 L0"), NOW)
    assert reconcile.reconcile_member(a.course_id, a.user_id)
    week = current_key(WEEK, NOW, time_zone(a.organisation_id))
    assert a.user_id in [r.user_id for r in board(Scope.course(a.course_id), period=week).rows]  # there, with 0
    assert rebuild.verify() == {}


def test_leaving_one_course_takes_only_that_courses_weeks_off_the_organisation_board(platform):
    here = make_actor(platform, "p", context_id="course-1", name="P")
    there = make_actor(platform, "p", context_id="course-2", name="P")
    learners(platform, 3)  # someone else in course-1, who stays
    award(here, 10, NOW)  # a week only course-1 fed
    award(there, 4, NOW + timedelta(days=10))  # a later week, from course-2
    drop_all_but(here.course_id, "course-1-l0")
    reconcile.reconcile_course(here.course_id)
    week = current_key(WEEK, NOW, time_zone(here.organisation_id))
    assert here.user_id not in [r.user_id for r in board(Scope.organisation(here.organisation_id), period=week).rows]
    assert [(r.user_id, r.points) for r in board(Scope.organisation(here.organisation_id)).rows
            if r.user_id == here.user_id] == [(here.user_id, 4)]
    assert rebuild.verify() == {}


def test_the_test_student_never_counts(platform):
    a, fake = learners(platform, 10, 0)
    db.session.execute(update(Membership).where(Membership.user_id == fake.user_id).values(test_user=True))
    award(fake, 99)
    assert [r.user_id for r in board(Scope.course(a.course_id)).rows] == [a.user_id]


# --- teams -----------------------------------------------------------------------------------------------
def test_team_boards_compare_points_per_member_and_breadth_not_size(platform):
    people = learners(platform, *[0] * 12)
    small, big = ensure_team(people[0].course_id, "Small", NOW), ensure_team(people[0].course_id, "Big", NOW)
    for p in people[:2]:
        add_member(small, p.user_id)
    for p in people[2:]:
        add_member(big, p.user_id)
    for team in (small, big):
        reconcile.team_members_changed(team.id)
    for p in people[:2]:
        award(p, 40)
    for p in people[2:]:
        award(p, 10)
    log(people[0])  # one experiment in Small (1 of 2), none yet in Big
    log(people[2])
    log(people[3])  # two experimenters in Big (2 of 10)
    rows = team_board(people[0].course_id, ALL).rows
    by_name = {r.name: r for r in rows}
    assert [r.name for r in rows] == ["Small", "Big"]
    assert by_name["Big"].points > by_name["Small"].points  # more points in total, yet second per member
    assert by_name["Small"].members == 2 and by_name["Big"].members == 10
    assert by_name["Small"].experimenters_share == 0.5 and by_name["Big"].experimenters_share == 0.2
    by_breadth = team_board(people[0].course_id, ALL, "experimenters").rows
    assert [r.name for r in by_breadth] == ["Small", "Big"]


def test_a_member_joining_brings_their_figures_and_leaving_takes_them(platform):
    a, b = learners(platform, 0, 0)
    log(a)
    team = ensure_team(a.course_id, "Red", NOW)
    add_member(team, b.user_id)
    reconcile.team_members_changed(team.id)
    assert team_figures(team.id, [ALL])[ALL].get("experiments", 0) == 0
    add_member(team, a.user_id)
    reconcile.team_members_changed(team.id)
    figures = team_figures(team.id, [ALL])[ALL]
    assert figures["experiments"] == 1 and figures["experimenters"] == 1 and figures["members"] == 2
    assert figures["points:total"] > 0
    assert rebuild.verify() == {}


# --- rebuilt equals maintained --------------------------------------------------------------------------------
def test_rebuilding_from_the_ledger_and_facts_gives_exactly_what_the_writers_maintained(platform):
    set_zone(platform.organisation_id, "Europe/Istanbul")
    people = learners(platform, 0, 0, 0, 0)
    others = learners(platform, 0, 0, context_id="course-2")
    boss = manager(platform)
    team = ensure_team(people[0].course_id, "Blue", NOW)
    add_member(team, people[0].user_id)
    add_member(team, people[1].user_id)
    reconcile.team_members_changed(team.id)
    moments = [SUNDAY_LATE_ISTANBUL, MONDAY_ISTANBUL, MONDAY_ISTANBUL + timedelta(days=3)]
    for i, person in enumerate(people + others):
        for j, moment in enumerate(moments):
            log(person, moment + timedelta(minutes=i), outcome=["worked", "partly", "failed"][j],
                learned="What I learned from trying this out with the tool." if j == 2 else "")
    helped = record_help(people[1], other_user_id=people[0].user_id, direction=HELPED_ME,
                         description="Showed me prompt chaining", now=MONDAY_ISTANBUL)
    assert helped.help.status == "confirmed"
    kudos = give_kudos(boss, receiver_id=people[2].user_id, message="Great share", now=MONDAY_ISTANBUL,
                       submission_key="k-1", points=20)
    assert kudos.id
    from plugin.badges.models import BadgeAward
    award_id = db.session.scalar(select(BadgeAward.id).where(BadgeAward.user_id == people[0].user_id))
    if award_id:
        revoke_badge(boss, award_id, "Awarded by mistake", MONDAY_ISTANBUL + timedelta(days=4))
    add_member(team, people[3].user_id)
    reconcile.team_members_changed(team.id)
    award(people[3], 5, MONDAY_ISTANBUL + timedelta(days=1))  # the team's boards move after the change too
    standing_weeks = set(db.session.scalars(select(TeamStanding.period).where(TeamStanding.team_id == team.id)))
    assert standing_weeks >= {ALL, "2026-W48", "2026-W49"}  # the team board's rows, on both sides of midnight
    assert rebuild.verify() == {}
    # Guard for the guard: a tampered aggregate row is noticed.
    db.session.execute(update(TeamStanding).where(TeamStanding.team_id == team.id).values(
        points=TeamStanding.points + 1))
    assert set(rebuild.verify()) == {"team_standing"}
    db.session.execute(update(BoardScore).where(BoardScore.user_id == people[0].user_id).values(
        points=BoardScore.points + 1))
    differences = rebuild.verify()
    assert "board_score" in differences


def test_rebuilding_one_organisation_repairs_its_boards_and_leaves_another_organisations_alone(platform):
    ours = learners(platform, 30, 10)
    theirs = learners(make_platform("https://other.example.edu", "client-9", "Org B"), 40, 20)
    # Damage both organisations' boards: a changed total, a row nobody earned, a rank bucket that is off.
    for actor in (ours[0], theirs[0]):
        db.session.execute(update(BoardScore).where(BoardScore.user_id == actor.user_id,
                                                    BoardScore.board == f"c{actor.course_id}:all:total")
                           .values(points=BoardScore.points + 7))
        db.session.add(BoardScore(board=f"c{actor.course_id}:all:sharing", user_id=actor.user_id, points=99))
    db.session.flush()
    assert rebuild.verify(ours[0].organisation_id) and rebuild.verify(theirs[0].organisation_id)
    rebuild.rebuild(ours[0].organisation_id)
    assert rebuild.verify(ours[0].organisation_id) == {}
    assert [(r.name, r.points, r.rank) for r in board(Scope.course(ours[0].course_id)).rows] == [
        ("course-1 L0", 30, 1), ("course-1 L1", 10, 2)]
    assert board(Scope.course(theirs[0].course_id)).rows[0].points == 47  # still damaged: not this rebuild's
    assert "board_score" in rebuild.verify(theirs[0].organisation_id)


def _busy_organisation(platform) -> list[Actor]:
    """Two courses, weeks on both sides of a local midnight, teams (one of them empty, one holding a manager and a
    person in two teams), experiments, a confirmed help and kudos: every aggregate table gets rows."""
    set_zone(platform.organisation_id, "Europe/Istanbul")
    people = learners(platform, 0, 0, 0)
    others = learners(platform, 0, 0, context_id="course-2")
    boss = manager(platform)
    blue, green = ensure_team(people[0].course_id, "Blue", NOW), ensure_team(people[0].course_id, "Green", NOW)
    empty = ensure_team(people[0].course_id, "Empty", NOW)
    for team, members in ((blue, people[:2]), (green, [people[1], people[2], boss])):
        for person in members:
            add_member(team, person.user_id)
        reconcile.team_members_changed(team.id)
    reconcile.team_members_changed(empty.id)
    for i, person in enumerate(people + others):
        for j, moment in enumerate((SUNDAY_LATE_ISTANBUL, MONDAY_ISTANBUL + timedelta(days=9))):
            log(person, moment + timedelta(minutes=i), outcome=["worked", "failed"][j],
                learned="What I learned from trying this out with the tool." if j else "")
    record_help(people[1], other_user_id=people[0].user_id, direction=HELPED_ME, description="Showed me how",
                now=MONDAY_ISTANBUL)
    give_kudos(boss, receiver_id=people[2].user_id, message="Great share", now=MONDAY_ISTANBUL,
               submission_key="k-busy", points=20)
    award(people[0], -5, MONDAY_ISTANBUL)  # a board value below zero: its rank block counts down
    return people


def _wipe_aggregates(course_ids: list[int] | None = None, organisation_id: int | None = None) -> None:
    from sqlalchemy import or_

    from plugin.leaderboards.models import BoardRank, MemberStat, TeamStat
    from plugin.teams.models import Team

    for model in (BoardScore, BoardRank, MemberStat, TeamStat, TeamStanding):
        query = db.session.query(model)
        if course_ids is not None and model in (BoardScore, BoardRank):  # test data: no challenge boards
            query = query.filter(or_(model.board.startswith(f"o{organisation_id}:"),
                                     *[model.board.startswith(f"c{c}:") for c in course_ids]))
        elif course_ids is not None and model is TeamStat:
            query = query.filter(TeamStat.team_id.in_(select(Team.id).where(Team.course_id.in_(course_ids))))
        elif course_ids is not None:
            query = query.filter(model.course_id.in_(course_ids))
        query.delete(synchronize_session=False)
    db.session.flush()


def test_a_rebuild_into_empty_tables_writes_what_a_rebuild_over_existing_rows_does(platform):
    people = _busy_organisation(platform)
    maintained = rebuild.snapshot()
    assert all(maintained.values())  # every table has rows to compare
    _wipe_aggregates()
    assert board(Scope.course(people[0].course_id)).rows == []
    rebuild.rebuild()  # straight into the empty tables
    assert rebuild.snapshot() == maintained
    db.session.execute(update(BoardScore).where(BoardScore.user_id == people[1].user_id).values(
        points=BoardScore.points + 3))
    rebuild.rebuild()  # over rows that are there, some of them wrong
    assert rebuild.snapshot() == maintained and rebuild.verify() == {}


def test_a_rebuild_puts_entries_at_the_edges_of_local_days_in_their_own_week_and_month(platform):
    """Each organisation's local days are found in its own calendar (two zones, one with a summer-time change):
    an entry at the very moment a local week or month starts counts in it, one a microsecond earlier in the one
    before, after a rebuild into empty tables just as the writers put them."""
    from zoneinfo import ZoneInfo

    istanbul, = learners(platform, 0)
    new_york, = learners(make_platform("https://ny.example.edu", "client-ny", "Org NY"), 0)
    set_zone(istanbul.organisation_id, "Europe/Istanbul")
    set_zone(new_york.organisation_id, "America/New_York")
    tick = timedelta(microseconds=1)
    edges = {istanbul: datetime(2026, 11, 30, tzinfo=ZoneInfo("Europe/Istanbul")),   # Monday, week 49
             new_york: datetime(2026, 11, 2, tzinfo=ZoneInfo("America/New_York"))}   # Monday after the clocks go back
    for person, edge in edges.items():
        award(person, 1, (edge - tick).astimezone(timezone.utc))
        award(person, 10, edge.astimezone(timezone.utc))
        award(person, 100, datetime(2026, 12, 1, tzinfo=ZoneInfo(time_zone(person.organisation_id).key)))
    maintained = rebuild.snapshot()
    _wipe_aggregates()
    rebuild.rebuild()
    assert rebuild.snapshot() == maintained
    for person, week in ((istanbul, 49), (new_york, 45)):
        scope = Scope.course(person.course_id)
        assert board(scope, f"2026-W{week - 1}").rows[0].points == 1
        assert board(scope, f"2026-W{week}").rows[0].points == 10 + (100 if week == 49 else 0)
        assert board(scope, "2026-12").rows[0].points == 100
    assert board(Scope.course(new_york.course_id), "2026-W49").rows[0].points == 100
    assert board(Scope.course(new_york.course_id), "2026-11").rows[0].points == 11


def _board_writes_during(action) -> list[str]:
    """The statements that delete from or write into board_score while `action` runs."""
    seen: list[str] = []

    def remember(conn, cursor, statement, parameters, context, executemany):
        text = " ".join(statement.lower().split())
        if text.startswith(("delete from board_score", "insert into board_score")):
            seen.append(text)

    event.listen(db.engine, "before_cursor_execute", remember)
    try:
        action()
    finally:
        event.remove(db.engine, "before_cursor_execute", remember)
    return seen


def test_a_rebuild_where_most_rows_are_wrong_replaces_them_and_a_repair_writes_only_the_wrong_ones(platform):
    people = _busy_organisation(platform)
    maintained = rebuild.snapshot()
    # Every board row off (as after a bulk import or a restore of the ledger alone): the rows are replaced outright.
    db.session.execute(update(BoardScore).values(points=BoardScore.points + 11))
    writes = _board_writes_during(rebuild.rebuild)
    assert rebuild.snapshot() == maintained and rebuild.verify() == {}
    assert any(w.startswith("delete from board_score") and "exists" not in w for w in writes)  # all of them
    assert not any("on conflict" in w for w in writes)
    # One person's rows off (a repair): only theirs are written, nothing is deleted wholesale.
    db.session.execute(update(BoardScore).where(BoardScore.user_id == people[1].user_id).values(
        points=BoardScore.points + 3))
    writes = _board_writes_during(rebuild.rebuild)
    assert rebuild.snapshot() == maintained and rebuild.verify() == {}
    assert any("on conflict" in w for w in writes)
    assert not any(w.startswith("delete from board_score") and "exists" not in w for w in writes)


def test_a_first_rebuild_of_one_organisation_leaves_another_organisations_rows_alone(platform):
    ours = _busy_organisation(platform)
    theirs = learners(make_platform("https://other.example.edu", "client-9", "Org B"), 40, 20)
    organisation = ours[0].organisation_id
    maintained, other = rebuild.snapshot(organisation), rebuild.snapshot(theirs[0].organisation_id)
    courses = list(db.session.scalars(select(Membership.course_id).where(
        Membership.user_id.in_([p.user_id for p in ours])).distinct()))
    _wipe_aggregates(courses, organisation)
    assert rebuild.snapshot(theirs[0].organisation_id) == other  # the wipe kept to our courses
    rebuild.rebuild(organisation)
    assert rebuild.snapshot(organisation) == maintained
    assert rebuild.snapshot(theirs[0].organisation_id) == other


# --- the read path never touches the ledger --------------------------------------------------------------------
def test_no_board_or_team_read_touches_the_ledger(platform):
    people = learners(platform, 30, 20, 10)
    team = ensure_team(people[0].course_id, "Green", NOW)
    add_member(team, people[0].user_id)
    reconcile.team_members_changed(team.id)
    boards.set_opt_out(people[1], True, NOW)
    statements: list[str] = []

    def remember(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement.lower())

    engine = db.engine
    event.listen(engine, "before_cursor_execute", remember)
    try:
        for period in ("all", "week", "month"):
            for scope in ("course", "organisation"):
                boards.individual_board(people[2], scope, period, "total", NOW)
            boards.teams_board(people[2], period, "points_per_member", NOW)
        team_figures(team.id, [ALL, "2025-W10"])
    finally:
        event.remove(engine, "before_cursor_execute", remember)
    assert statements, "the listener saw the board reads"
    read_tables = [re.findall(r"\b(?:from|join)\s+([a-z_]+)", s) for s in statements]
    assert not [tables for tables in read_tables if {"ledger_entry", "experiment"} & set(tables)]
    assert all(tables for tables in read_tables), "every statement names the tables it reads"


def test_on_sqlite_the_top_of_a_board_is_read_off_its_index(platform):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("EXPLAIN QUERY PLAN is SQLite's")
    learners(platform, 10, 20)
    plan = " | ".join(row[-1] for row in db.session.execute(db.text(
        "EXPLAIN QUERY PLAN SELECT user_id, points FROM board_score WHERE board = 'c1:all:total' "
        "ORDER BY points DESC, user_id LIMIT 20")))
    assert "ix_board_score_rank" in plan and "SCAN board_score" not in plan.replace("USING INDEX", "")


def test_on_sqlite_a_board_around_someone_in_a_tie_is_read_in_index_order_without_sorting(platform):
    """Thousands share the median's points on a big board: a read that sorted the tie grew with it."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("EXPLAIN QUERY PLAN is SQLite's")
    people = learners(platform, 10, 10, 10, 20, 20, 5)
    sql = queries._board_sql(Scope.course(people[0].course_id), 20, 2)
    params = {"board": f"c{people[0].course_id}:all:total", "blocks": f"c{people[0].course_id}:all:total#",
              "viewer": people[1].user_id, "scope_id": people[0].course_id}
    plan = " | ".join(row[-1] for row in db.session.execute(db.text("EXPLAIN QUERY PLAN " + sql._build.text), params))
    assert "ix_board_score_rank" in plan and "TEMP B-TREE" not in plan, plan


def test_hiding_your_name_in_one_course_hides_it_on_every_board_of_the_organisation(platform):
    shy = make_actor(platform, "shy", context_id="course-1", name="Shy Person")
    shy_elsewhere = make_actor(platform, "shy", context_id="course-2", name="Shy Person")
    bold, = learners(platform, 5, context_id="course-2")
    award(shy, 10)
    award(shy_elsewhere, 20)
    boards.set_opt_out(shy, True, NOW)
    assert boards.is_opted_out(shy_elsewhere)
    for scope in (Scope.course(shy_elsewhere.course_id), Scope.organisation(shy.organisation_id)):
        assert [r.name for r in board(scope, viewer_user_id=bold.user_id).rows][0] == ANONYMOUS
    boards.set_opt_out(shy_elsewhere, False, NOW)  # showing it again, from either course, shows it everywhere
    assert not boards.is_opted_out(shy)
    assert board(Scope.course(shy.course_id), viewer_user_id=bold.user_id).rows[0].name == "Shy Person"


def test_the_organisation_board_never_names_learners_of_a_course_without_individual_boards(platform):
    quiet, = learners(platform, 40, context_id="course-1")
    open_course, = learners(platform, 10, context_id="course-2")
    boss = manager(platform, "course-1")
    boards.update_settings(boss, {"mode": "team_only", "relative": False}, NOW)
    rows = board(Scope.organisation(quiet.organisation_id), viewer_user_id=open_course.user_id).rows
    assert [(r.name, r.user_id, r.points) for r in rows] == [
        (ANONYMOUS, None, 40), ("course-2 L0", open_course.user_id, 10)]
    assert board(Scope.organisation(quiet.organisation_id), viewer_user_id=quiet.user_id).rows[0].name == "course-1 L0"


def test_learners_team_boards_leave_out_teams_too_small_to_stay_anonymous(platform):
    people = learners(platform, 10, 20, 30, 40)
    boss = manager(platform)
    trio, solo = ensure_team(people[0].course_id, "Trio", NOW), ensure_team(people[0].course_id, "Solo", NOW)
    for p in people[:3]:
        add_member(trio, p.user_id)
    add_member(solo, people[3].user_id)
    for team in (trio, solo):
        reconcile.team_members_changed(team.id)
    assert [r.name for r in boards.teams_board(people[0], "all", "points_per_member", NOW).rows] == ["Trio"]
    assert [r.name for r in boards.teams_board(boss, "all", "points_per_member", NOW).rows] == ["Solo", "Trio"]


def test_periods_far_outside_the_calendar_are_refused_not_crashed_on(platform):
    a, = learners(platform, 10)
    for key in ("9999-W52", "0001-01", "2026-W99"):
        with pytest.raises(Exception, match="Unknown period"):
            boards.individual_board(a, "course", key, "total", NOW)


def test_settings_read_once_per_request_are_read_again_after_a_change_in_the_same_transaction(platform):
    from plugin.levels.service import add_dimension, dimension_names
    from plugin.settings.service import set_time_zone, time_zone_name

    a, = learners(platform, 10)
    boss, root = manager(platform), make_actor(platform, "root", Role.ADMIN, name="Root Admin")
    assert boards.view_of(a).individual and not boards.is_opted_out(a)
    assert time_zone_name(a.organisation_id) == "UTC" and "curiosity" not in dimension_names(a.organisation_id)

    boards.update_settings(boss, {"mode": "team_only", "relative": True}, NOW)  # no commit in between
    boards.set_opt_out(a, True, NOW)
    set_time_zone(root, "Europe/Istanbul", NOW)
    add_dimension(root, "Curiosity")
    assert boards.settings_of(a.course_id) == boards.Settings("team_only", True)
    assert not boards.view_of(a).individual and boards.view_of(a).teams and boards.is_opted_out(a)
    assert time_zone_name(a.organisation_id) == "Europe/Istanbul"
    assert dimension_names(a.organisation_id)["curiosity"] == "Curiosity"
    set_zone(a.organisation_id, "Asia/Tokyo")  # an edit of the row itself, flushed
    assert time_zone_name(a.organisation_id) == "Asia/Tokyo"
    db.session.execute(db.text("UPDATE organisation_settings SET time_zone = 'Europe/Lisbon' WHERE organisation_id = :o"),
                       {"o": a.organisation_id})  # a textual write
    assert time_zone_name(a.organisation_id) == "Europe/Lisbon"
    db.session.rollback()
    assert boards.view_of(a).individual and time_zone_name(a.organisation_id) == "UTC"


def test_a_team_board_shows_its_top_then_the_viewers_own_teams_at_their_true_ranks(platform):
    people = learners(platform, 60, 60, 60, 50, 50, 50, 40, 40, 40, 40, 40, 40, 10, 10, 10)
    boss = manager(platform)
    for name, members in (("Alpha", people[0:3]), ("Beta", people[3:6]), ("Gamma", people[6:9]),
                          ("Delta", people[9:12]), ("Omega", people[12:15])):
        team = ensure_team(people[0].course_id, name, NOW)
        for p in members:
            add_member(team, p.user_id)
        reconcile.team_members_changed(team.id)

    def shown(viewer, **kw):
        standing = boards.teams_board(viewer, "all", "points_per_member", NOW, limit=2, **kw)
        return ([(r.rank, r.name) for r in standing.rows], [(r.rank, r.name) for r in standing.mine],
                standing.total, standing.cut)

    assert shown(people[0]) == ([(1, "Alpha"), (2, "Beta")], [], 5, True)
    assert shown(people[9]) == ([(1, "Alpha"), (2, "Beta")], [(3, "Delta")], 5, True)  # level with Gamma: rank 3
    assert shown(people[12]) == ([(1, "Alpha"), (2, "Beta")], [(5, "Omega")], 5, True)
    assert shown(people[12], full=True) == shown(people[12])  # every team is for managers only
    assert shown(boss, full=True) == ([(1, "Alpha"), (2, "Beta"), (3, "Delta"), (3, "Gamma"), (5, "Omega")], [], 5,
                                      False)


def test_the_board_page_reads_its_settings_in_one_go_as_the_single_readers_do(platform):
    a, = learners(platform, 10)
    other, = learners(platform, 5, context_id="course-2")  # a course nobody configured: the defaults
    boards.update_settings(manager(platform), {"mode": "team_only", "relative": True}, NOW)
    boards.set_opt_out(a, True, NOW)
    set_zone(a.organisation_id, "Europe/Istanbul")
    db.session.commit()

    page = boards.board_page(a, NOW, period="all")
    assert (page.view, page.hidden, page.zone) == (boards.view_of(a), True, "Europe/Istanbul")
    assert page.view == boards.View(boards.Settings("team_only", True), False, True, True)
    assert page.tab == boards.TEAMS and page.teams.total == 0 and page.board is None and page.closed is None
    closed = boards.board_page(a, NOW, tab=boards.PEOPLE, period="all")
    assert closed.closed == "This course shows team boards only." and closed.board is None
    elsewhere = boards.board_page(other, NOW, period="all", dimension="helping")
    assert (elsewhere.view.settings, elsewhere.tab, elsewhere.hidden) == (boards.Settings(), boards.PEOPLE, False)
    assert elsewhere.board.rows == [] and elsewhere.dimensions["helping"] == "Helping"
    with pytest.raises(Exception, match="Unknown dimension"):
        boards.board_page(other, NOW, dimension="charisma")


def test_on_postgresql_the_apps_connections_use_generic_plans(platform):
    """What config.py asks of every connection: a prepared board statement is planned once, not per page."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("plan_cache_mode is PostgreSQL's")
    assert db.session.execute(db.text("SHOW plan_cache_mode")).scalar() == "force_generic_plan"
