"""Team boards read off the maintained team standings (team_standing): the same order, ranks and figures as a
plain ranking of the team figures, fair to team size (points per counted member, shares of members), ties
sharing a rank and listed by name, periods in the organisation's time zone (a quiet week lists every team at
zero), staff and people who left never counted, opted-out learners counted; and what the writers keep equals
what `rebuild` (and migration 0021) computes from the truth, through membership changes, renames and weeks."""
import importlib.util
import itertools
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import delete, select, text, update

from plugin.core.actor import Actor, Role
from plugin.extensions import db
from plugin.leaderboards import rebuild, reconcile
from plugin.leaderboards import service as boards
from plugin.leaderboards.models import TeamStanding
from plugin.leaderboards.periods import ALL
from plugin.leaderboards.queries import EXPERIMENTERS, HELPERS, POINTS_PER_MEMBER, team_board, team_figures
from plugin.ledger.service import Posting, post_entry, reverse_entry
from plugin.peer_help.service import HELPED_ME, record_help
from plugin.settings.models import OrganisationSettings
from plugin.teams import service as teams
from plugin.tenancy import service as tenancy
from tests.services.factories import NOW, log, make_actor, make_platform

_keys = itertools.count(1)
SUNDAY_LATE_ISTANBUL = datetime(2026, 11, 29, 20, 30, tzinfo=timezone.utc)  # Sunday 23:30 at UTC+3: 2026-W48
MONDAY_ISTANBUL = datetime(2026, 11, 29, 21, 30, tzinfo=timezone.utc)       # Monday 00:30 at UTC+3: 2026-W49


@pytest.fixture
def platform(appctx):
    return make_platform()


def award(actor: Actor, points: int, now: datetime = NOW) -> int:
    return post_entry(Posting(organisation_id=actor.organisation_id, course_id=actor.course_id, user_id=actor.user_id,
                              amount=points, dimension="experimenting", source_type="manual", source_id=None,
                              key=f"standing-test:{next(_keys)}"), now)


def people(platform, count: int, context_id: str = "course-1") -> list[Actor]:
    return [make_actor(platform, f"{context_id}-p{i}", context_id=context_id, name=f"P{i:02d}") for i in range(count)]


def manager(platform, context_id: str = "course-1") -> Actor:
    return make_actor(platform, f"{context_id}-boss", Role.MANAGER, context_id=context_id, name="Boss")


def team_of(boss: Actor, name: str, members: list[Actor], now: datetime = NOW) -> int:
    team = teams.create_team(boss, {"name": name}, now)
    teams.add_members(boss, team.id, [p.user_id for p in members], now)
    return team.id


def shown(result) -> list[tuple]:
    return [(r.rank, r.name, r.members, r.points) for r in result]


# --- the board a plain ranking of the team figures gives ----------------------------------------------------
_FIGURE = {POINTS_PER_MEMBER: "points:total", EXPERIMENTERS: "experimenters", HELPERS: "helpers"}


def expected_board(course_id: int, period: str, measure: str, limit: int | None, viewer: int | None,
                   min_members: int):
    """(rows, mine, total) from team_stat alone: every team's figures, sorted in Python."""
    found = []
    for team in db.session.scalars(select(teams.Team).where(teams.Team.course_id == course_id)):
        figures = team_figures(team.id, [ALL, period])
        members = figures[ALL].get("members", 0)
        if members and members >= min_members:
            value = figures[period].get(_FIGURE[measure], 0)
            found.append((-(value / members), team.name, team.id, figures[period].get("points:total", 0), members))
    found.sort()
    mine = set(db.session.scalars(select(teams.TeamMember.team_id).where(teams.TeamMember.user_id == viewer)))
    ranked, rank = [], 0
    for position, (key, name, team_id, points, members) in enumerate(found, start=1):
        if position == 1 or key != found[position - 2][0]:
            rank = position
        ranked.append((rank, name, members, points, team_id in mine))
    top = ranked if limit is None else ranked[:limit]
    return top, [r for r in ranked[len(top):] if r[4]], len(found)


def test_team_boards_equal_a_plain_ranking_of_the_team_figures_for_every_period_measure_and_viewer(platform):
    rng = random.Random(11)
    crowd = people(platform, 24)
    boss = manager(platform)
    sizes = [1, 2, 3, 3, 4, 5, 6, 2, 3]
    for i, size in enumerate(sizes):  # overlapping teams: some people are in two
        team_of(boss, f"Team {chr(ord('A') + (i * 5) % len(sizes))}{i}", rng.sample(crowd, size))
    days = [NOW - timedelta(days=8), NOW, NOW + timedelta(days=1), NOW + timedelta(days=30)]
    for person in crowd:
        for _ in range(rng.randint(0, 3)):
            at = rng.choice(days)
            award(person, rng.choice((10, 20, 20, 30, 45)), at)
        if rng.random() < 0.5:
            log(person, rng.choice(days))
        if rng.random() < 0.3:
            helped = rng.choice([p for p in crowd if p is not person])
            record_help(helped, other_user_id=person.user_id, direction=HELPED_ME, description="Showed me how",
                        now=rng.choice(days))
    entry = award(crowd[0], 25, NOW)
    reverse_entry(entry, "a mistake", NOW + timedelta(hours=1))
    week, earlier_week = boards.period_key(crowd[0], "week", NOW), boards.period_key(crowd[0], "week", days[0])
    periods = [ALL, week, earlier_week, boards.period_key(crowd[0], "month", NOW), "2024-W10"]
    viewers = [None, crowd[3].user_id, crowd[17].user_id, boss.user_id]
    checked = 0
    for period in periods:
        for measure in (POINTS_PER_MEMBER, EXPERIMENTERS, HELPERS):
            for limit, min_members in ((None, 1), (3, 3), (2, 1)):
                for viewer in viewers:
                    result = team_board(crowd[0].course_id, period, measure, limit=limit, viewer_user_id=viewer,
                                        min_members=min_members)
                    rows, mine, total = expected_board(crowd[0].course_id, period, measure, limit, viewer, min_members)
                    assert [(*shown([r])[0], r.is_mine) for r in result.rows] == rows, (period, measure, limit)
                    assert [(*shown([r])[0], r.is_mine) for r in result.mine] == mine, (period, measure, viewer)
                    assert result.total == total
                    checked += bool(rows)
    assert checked > 100  # the boards compared were not empty
    assert rebuild.verify() == {}


# --- what people see ----------------------------------------------------------------------------------------
def test_equal_points_per_member_share_a_rank_listed_by_name_whatever_the_team_sizes(platform):
    crowd = people(platform, 10)
    boss = manager(platform)
    zeta = team_of(boss, "Zeta", crowd[0:3])    # 3 members, 60 points: 20 each
    alpha = team_of(boss, "Alpha", crowd[3:7])  # 4 members, 80 points: 20 each
    team_of(boss, "Mid", crowd[7:10])           # 3 members, 90 points: 30 each
    for p in crowd[0:3]:
        award(p, 20)
    for p, pts in zip(crowd[3:7], (50, 10, 10, 10)):
        award(p, pts)
    for p in crowd[7:10]:
        award(p, 30)
    standing = boards.teams_board(crowd[1], "all", POINTS_PER_MEMBER, NOW)
    assert [(r.rank, r.name, r.points_per_member) for r in standing.rows] == [
        (1, "Mid", 30.0), (2, "Alpha", 20.0), (2, "Zeta", 20.0)]
    assert [r.is_mine for r in standing.rows] == [False, False, True] and standing.total == 3
    # The viewer's team below the top keeps its true (shared) rank.
    below = boards.teams_board(crowd[1], "all", POINTS_PER_MEMBER, NOW, limit=2)
    assert [(r.rank, r.name) for r in below.rows] == [(1, "Mid"), (2, "Alpha")]
    assert [(r.rank, r.name, r.is_mine) for r in below.mine] == [(2, "Zeta", True)]
    assert zeta != alpha


def test_breadth_is_the_share_of_members_who_experimented_or_helped_in_the_period(platform):
    crowd = people(platform, 7)
    boss = manager(platform)
    team_of(boss, "Four", crowd[0:4])
    team_of(boss, "Three", crowd[4:7])
    log(crowd[0])
    log(crowd[0])  # a second experiment by the same person is still one experimenter
    log(crowd[1])
    log(crowd[4], NOW - timedelta(days=7))  # last week: not in this week's share
    record_help(crowd[5], other_user_id=crowd[6].user_id, direction=HELPED_ME, description="Paired on prompts",
                now=NOW)
    week = boards.period_key(crowd[0], "week", NOW)
    by_experimenters = team_board(crowd[0].course_id, week, EXPERIMENTERS)
    assert [(r.rank, r.name, r.experimenters_share) for r in by_experimenters.rows] == [
        (1, "Four", 0.5), (2, "Three", 0.0)]
    by_helpers = team_board(crowd[0].course_id, week, HELPERS)
    assert [(r.name, round(r.helpers_share, 3)) for r in by_helpers.rows] == [("Three", 0.333), ("Four", 0.0)]
    all_time = team_board(crowd[0].course_id, ALL, EXPERIMENTERS)
    assert [(r.rank, r.name) for r in all_time.rows] == [(1, "Four"), (2, "Three")]  # 2/4 against 1/3
    assert rebuild.verify() == {}


def test_weeks_roll_over_in_the_organisations_zone_and_a_quiet_week_lists_every_team_at_zero(platform):
    db.session.get(OrganisationSettings, platform.organisation_id).time_zone = "Europe/Istanbul"
    db.session.flush()
    crowd = people(platform, 6)
    boss = manager(platform)
    team_of(boss, "Red", crowd[0:3], SUNDAY_LATE_ISTANBUL)
    team_of(boss, "Blue", crowd[3:6], SUNDAY_LATE_ISTANBUL)
    award(crowd[0], 30, SUNDAY_LATE_ISTANBUL)  # Sunday evening in Istanbul: week 48
    award(crowd[3], 60, MONDAY_ISTANBUL)       # already Monday in Istanbul (still Sunday in UTC): week 49
    course = crowd[0].course_id
    assert shown(team_board(course, "2026-W48").rows) == [(1, "Red", 3, 30), (2, "Blue", 3, 0)]
    assert shown(team_board(course, "2026-W49").rows) == [(1, "Blue", 3, 60), (2, "Red", 3, 0)]
    assert shown(team_board(course, "2026-11").rows) == [(1, "Blue", 3, 60), (2, "Red", 3, 30)]  # both Novembers
    assert shown(team_board(course, "2026-12").rows) == [(1, "Blue", 3, 0), (1, "Red", 3, 0)]
    quiet = team_board(course, "2026-W50", limit=1, viewer_user_id=crowd[0].user_id)
    assert shown(quiet.rows) == [(1, "Blue", 3, 0)] and quiet.total == 2
    assert [(r.rank, r.name, r.is_mine) for r in quiet.mine] == [(1, "Red", True)]
    current = boards.teams_board(crowd[0], "week", POINTS_PER_MEMBER, MONDAY_ISTANBUL + timedelta(days=1))
    assert [r.name for r in current.rows] == ["Blue", "Red"]  # "this week" is week 49 in Istanbul
    assert rebuild.verify() == {}


def test_staff_and_people_who_left_never_count_and_learners_who_hid_their_name_still_do(platform):
    crowd = people(platform, 7)
    boss = manager(platform)
    shy_team = team_of(boss, "Shy", crowd[0:3])
    left_team = team_of(boss, "Leavers", crowd[3:7])
    boards.set_opt_out(crowd[0], True, NOW)
    award(crowd[0], 90)  # hid their name: still counts for the team
    teams.add_member(db.session.get(teams.Team, shy_team), boss.user_id)  # staff on the list (seed data, LMS group)
    reconcile.team_members_changed(shy_team)
    award(boss, 500)  # staff earn nothing on boards, and are not a team's member there
    for p in crowd[3:7]:
        award(p, 40)
    before = {r.name: (r.members, r.points, r.points_per_member) for r in team_board(crowd[0].course_id).rows}
    assert before == {"Shy": (3, 90, 30.0), "Leavers": (4, 160, 40.0)}
    # The roster drops one of the Leavers: they stop counting, points and all.
    stay = [tenancy.RosterEntry(sub=f"course-1-p{i}", role=Role.LEARNER, lti_roles=(), active=True, name=f"P{i:02d}")
            for i in range(6)]
    tenancy.sync_members(crowd[0].course_id, stay, NOW)
    reconcile.reconcile_course(crowd[0].course_id)
    after = [(r.rank, r.name, r.members, r.points) for r in boards.teams_board(boss, "all", POINTS_PER_MEMBER, NOW).rows]
    assert after == [(1, "Leavers", 3, 120), (2, "Shy", 3, 90)]
    assert left_team and rebuild.verify() == {}


def test_learners_of_a_team_only_course_see_the_team_board_and_small_teams_stay_off_it(platform):
    crowd = people(platform, 5)
    boss = manager(platform)
    boards.update_settings(boss, {"mode": "team_only", "relative": False}, NOW)
    team_of(boss, "Trio", crowd[0:3])
    team_of(boss, "Duo", crowd[3:5])
    award(crowd[3], 100)
    with pytest.raises(Exception, match="team boards only"):
        boards.individual_board(crowd[0], "course", "all", "total", NOW)
    learner_view = boards.teams_board(crowd[3], "all", POINTS_PER_MEMBER, NOW)
    assert [r.name for r in learner_view.rows] == ["Trio"] and learner_view.mine == [] and learner_view.total == 1
    assert [r.name for r in boards.teams_board(boss, "all", POINTS_PER_MEMBER, NOW).rows] == ["Duo", "Trio"]


# --- rebuilt equals maintained ----------------------------------------------------------------------------------
def test_standings_the_writers_keep_equal_a_rebuild_through_joins_leaves_renames_deletes_and_weeks(platform):
    db.session.get(OrganisationSettings, platform.organisation_id).time_zone = "Europe/Istanbul"
    db.session.flush()
    crowd = people(platform, 8)
    others = people(platform, 3, context_id="course-2")
    boss = manager(platform)
    red = team_of(boss, "Red", crowd[0:3], SUNDAY_LATE_ISTANBUL)
    log(crowd[0], SUNDAY_LATE_ISTANBUL)
    award(crowd[1], 15, SUNDAY_LATE_ISTANBUL)
    blue = team_of(boss, "Blue", crowd[3:5], MONDAY_ISTANBUL)  # a new team joins boards that already exist
    log(crowd[3], MONDAY_ISTANBUL)
    record_help(crowd[4], other_user_id=crowd[2].user_id, direction=HELPED_ME, description="Helped", now=MONDAY_ISTANBUL)
    teams.add_members(boss, blue, [crowd[0].user_id, crowd[5].user_id], MONDAY_ISTANBUL)  # crowd[0] in two teams
    teams.remove_member(boss, red, crowd[1].user_id, MONDAY_ISTANBUL)
    teams.rename_team(boss, red, {"name": "Crimson"}, MONDAY_ISTANBUL)
    gone = team_of(boss, "Gone", crowd[6:8], MONDAY_ISTANBUL)
    award(crowd[6], 40, MONDAY_ISTANBUL + timedelta(days=7))  # next week, then the team is deleted
    teams.delete_team(boss, gone, MONDAY_ISTANBUL + timedelta(days=7))
    entry = award(crowd[3], 70, MONDAY_ISTANBUL)
    reverse_entry(entry, "posted twice", MONDAY_ISTANBUL + timedelta(days=8))  # its week ends at zero
    award(others[0], 10, MONDAY_ISTANBUL)
    award(crowd[5], 25, MONDAY_ISTANBUL + timedelta(days=14))  # after the last change: a week of its own
    log(crowd[4], MONDAY_ISTANBUL + timedelta(days=15))
    rows = db.session.execute(select(TeamStanding.name, TeamStanding.period)).all()
    assert {name for name, _ in rows} == {"Crimson", "Blue"}
    assert {period for _, period in rows} >= {ALL, "2026-W48", "2026-W49"}
    assert rebuild.verify() == {}
    # Guard for the guard: a tampered standing is noticed.
    db.session.execute(update(TeamStanding).where(TeamStanding.team_id == blue, TeamStanding.period == ALL)
                       .values(points_key=TeamStanding.points_key - 1))
    assert "team_standing" in rebuild.verify()


def test_migration_0021_fills_the_standings_the_writers_would_have_kept(platform):
    crowd = people(platform, 6)
    boss = manager(platform)
    team_of(boss, "North", crowd[0:3])
    team_of(boss, "South", crowd[3:6])
    log(crowd[0])
    award(crowd[4], 35, NOW - timedelta(days=7))
    kept = rebuild.snapshot()["team_standing"]
    assert len(kept) >= 6
    path = Path(__file__).resolve().parents[2] / "migrations" / "versions" / "0021_team_standing.py"
    spec = importlib.util.spec_from_file_location("migration_0021", path)
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    db.session.execute(delete(TeamStanding))
    db.session.execute(text(migration.FILL))
    assert rebuild.snapshot()["team_standing"] == kept
