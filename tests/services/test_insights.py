"""Insights: adoption, minutes saved, safe-to-fail, confidence, pillars, leaders, silo index, reuse, and the
minimum group size after every filter; scoped to the manager's course or the admin's organisation."""
import re
from datetime import timedelta

import pytest

from plugin.community.service import mark_reused
from plugin.core.actor import Role
from plugin.errors import Forbidden, NotFound
from plugin.insights import export, report
from plugin.insights.privacy import InsightSettingsIn, set_min_group_size
from plugin.insights.scope import Filters, resolve
from plugin.peer_help.service import I_HELPED, confirm_help, record_help
from plugin.teams import service as teams
from plugin.vision import service as vision
from plugin.vision.schemas import VisionIn
from tests.services.factories import NOW, later, log, make_actor, make_platform

MONTH = Filters(kind="month")


@pytest.fixture
def platform(appctx):
    return make_platform()


@pytest.fixture
def manager(platform):
    return make_actor(platform, "manager-1", Role.MANAGER)


def people(platform, n, prefix="l", context_id="course-1"):
    return [make_actor(platform, f"{prefix}{i}", context_id=context_id) for i in range(n)]


def team_of(manager, name, members):
    team = teams.ensure_team(manager.course_id, name, NOW)
    for m in members:
        teams.add_member(team, m.user_id)
    from plugin.leaderboards import reconcile

    reconcile.team_members_changed(team.id)
    return team


def build(actor, filters=MONTH, now=NOW):
    return report.build(resolve(actor, filters, now + timedelta(minutes=1)))


def test_learners_and_observers_see_no_insights(platform):
    with pytest.raises(Forbidden):
        resolve(make_actor(platform, "l"), MONTH, NOW)


def test_adoption_hours_and_the_count_behind_them(platform, manager):
    learners = people(platform, 7)
    for i, learner in enumerate(learners[:5]):
        log(learner, later(i), minutes_saved=30 * (i + 1))
    r = build(manager)
    assert r.adoption.figures == {"roster": 7, "active": 5, "share": 71.4, "not_started": 2, "first_timers": 5}
    assert r.hours_total.figures == {"experiments": 5, "people": 5, "minutes": 450, "hours": 7.5, "median": 90}
    assert [row.figures["minutes"] for row in r.hours_by_category] == [450]
    assert r.trend[-1].figures["share"] == 71.4


def test_hours_saved_count_only_the_experiments_whose_authors_estimated_them(platform, manager):
    """Two entries left blank are not two zeros: the sum, the median and the count behind them leave them out (a 0
    typed counts: it saved no time)."""
    learners = people(platform, 7)
    for learner, minutes in zip(learners, (30, 60, None, None, 0, 45, 15)):
        log(learner, minutes_saved=minutes)
    figures = build(manager).hours_total.figures
    assert (figures["experiments"], figures["people"], figures["minutes"], figures["median"]) == (5, 5, 150, 30)


def test_quarter_adds_up_its_months(platform, manager):
    learners = people(platform, 5)
    for i, learner in enumerate(learners):  # NOW is 3 March 2025: February and March are both Q1
        log(learner, NOW - timedelta(days=20 * (i % 2)), minutes_saved=60)
    r = build(manager, Filters(kind="quarter"))
    assert r.scope.key == "2025-Q1" and r.adoption.figures["active"] == 5
    assert r.hours_total.figures["minutes"] == 300
    assert build(manager).adoption.figures["active"] == 3  # March alone


def test_a_group_of_three_shows_no_aggregate(platform, manager):
    learners = people(platform, 13)  # Small 3, Big 5, and 5 in no team (so the course minus Big is 8 people)
    small = team_of(manager, "Small", learners[:3])
    team_of(manager, "Big", learners[3:8])
    for i, learner in enumerate(learners):
        log(learner, later(i), minutes_saved=20, confidence_before=2, confidence_after=4, outcome="failed",
            learned="It invented a number; always check figures.")
    r = build(manager, Filters(kind="month", team_id=small.id))
    for row in (r.adoption, r.hours_total, r.safe_to_fail, r.confidence, r.silo):
        assert row.suppressed
    assert all(row.suppressed for row in r.hours_by_category + r.hours_by_tool + r.trend)
    for name, (_, rows) in export.tables(r).items():
        flat = " ".join(str(c) for row in rows for c in row)
        assert "20" not in re.sub(r"\b20\d\d\b", "", flat), name  # no figure leaks into the CSV (years aside)
    course = build(manager)
    by_team = {row.label: row for row in course.hours_by_team}
    assert by_team["Small"].suppressed and not by_team["Big"].suppressed
    assert not course.hours_total.suppressed and course.confidence.figures["delta"] == 2.0


def test_secondary_suppression_hides_a_category_the_total_would_give_away(platform, manager):
    from plugin.catalog.service import items

    learners = people(platform, 8)
    big, small = items(manager.organisation_id, "categories")[:2]
    for i, learner in enumerate(learners):
        log(learner, later(i), task_category=(big if i < 6 else small).id, minutes_saved=10)
    rows = build(manager).hours_by_category
    assert all(row.suppressed for row in rows)  # 6 + 2: showing 6 would reveal the 2 from the total


def test_min_group_size_is_an_admin_setting(platform, manager):
    admin = make_actor(platform, "admin-1", Role.ADMIN)
    learners = people(platform, 3)
    for learner in learners:
        log(learner, minutes_saved=5)
    assert build(manager).hours_total.suppressed
    with pytest.raises(Forbidden):
        set_min_group_size(manager, {"min_group_size": 2}, NOW)
    set_min_group_size(admin, InsightSettingsIn().load({"min_group_size": "3"}), NOW)
    assert build(manager).hours_total.figures["people"] == 3


def test_safe_to_fail_counts_only_shared_experiments(platform, manager):
    learners = people(platform, 6)
    for i, learner in enumerate(learners):
        log(learner, later(i), outcome="failed" if i < 3 else "worked",
            learned="It went wrong because the prompt was vague." if i < 3 else "")
    log(learners[0], later(30), visibility="private", outcome="failed", learned="Kept this one to myself, sorry.")
    figures = build(manager).safe_to_fail.figures
    assert figures == {"shared": 6, "failed": 3, "rate": 50.0}


def test_pillar_coverage_highlights_gaps_per_team(platform, manager):
    admin = make_actor(platform, "admin-1", Role.ADMIN)
    vision.save_vision(admin, VisionIn().load({"statement": "We try AI to give people time back.",
                                               "pillars": [{"name": "A"}, {"name": "B"}, {"name": "C"}]}), NOW)
    a, b, c = vision.pillars(admin.organisation_id)
    learners = people(platform, 10)
    team_of(manager, "Red", learners[:5])
    team_of(manager, "Blue", learners[5:])
    for i, learner in enumerate(learners):
        log(learner, later(i), pillars=[a.id] if i < 5 else [a.id, b.id])
    rows = {row.label: row.figures for row in build(manager).pillar_coverage}
    assert rows["Red"][a.id] == 5 and rows["Red"]["gaps"] == ["B", "C"]
    assert rows["Blue"][b.id] == 5 and rows["Blue"]["gaps"] == ["C"]


def test_leaders_go_first(platform, manager):
    managers = [manager] + [make_actor(platform, f"m{i}", Role.MANAGER) for i in range(4)]
    for m in managers[:2]:
        log(m)
    assert build(manager).leaders.figures["share"] == 40.0


def test_silo_index_and_network(platform, manager):
    learners = people(platform, 10)
    team_of(manager, "Red", learners[:5])
    team_of(manager, "Blue", learners[5:])
    pairs = [(learners[i], learners[5 + i]) for i in range(5)] + [(learners[0], learners[1])]
    for n, (helper, helped) in enumerate(pairs):
        result = record_help(helper, other_user_id=helped.user_id, direction=I_HELPED, description="Prompt tips",
                             now=later(n))
        confirm_help(helped, result.help.id, later(n + 1))
    r = build(manager)
    assert r.silo.figures == {"helps": 6, "across": 5, "share": 83.3}
    assert [(e.a_name, e.b_name, e.helps) for e in r.network.edges] in ([("Red", "Blue", 5)], [("Blue", "Red", 5)])
    assert r.network.within == {}  # one help inside Red, between two people: fewer than five


def test_most_reused_needs_k_colleagues(platform, manager):
    learners = people(platform, 8)
    popular = log(learners[0]).experiment
    rare = log(learners[1], later(1)).experiment
    for learner in learners[1:7]:
        mark_reused(learner, popular.id, later(5))
    mark_reused(learners[2], rare.id, later(5))
    assert [(row.key, row.figures["reuses"]) for row in build(manager).reused] == [(popular.id, 6)]


def test_a_manager_sees_only_their_course_and_an_admin_their_organisation(platform, manager):
    for learner in people(platform, 5):
        log(learner, minutes_saved=10)
    for learner in people(platform, 5, prefix="x", context_id="course-2"):
        log(learner, minutes_saved=100)
    other = make_platform(issuer="https://other.example", organisation="Org B")
    for learner in people(other, 5, prefix="o"):
        log(learner, minutes_saved=1000)
    assert build(manager).hours_total.figures["minutes"] == 50
    admin = make_actor(platform, "admin-1", Role.ADMIN)
    assert build(admin).hours_total.figures["minutes"] == 550
    course_two = next(c for c in resolve(admin, MONTH, NOW).courses if c.context_id == "course-2")
    assert build(admin, Filters(kind="month", course_id=course_two.id)).hours_total.figures["minutes"] == 500
    with pytest.raises(NotFound):
        resolve(manager, Filters(kind="month", course_id=course_two.id), NOW)
    foreign_team = teams.ensure_team(make_actor(other, "om", Role.MANAGER).course_id, "Theirs", NOW)
    with pytest.raises(NotFound):
        resolve(manager, Filters(kind="month", team_id=foreign_team.id), NOW)


def test_help_with_a_small_team_reports_nothing_about_it(platform, manager):
    learners = people(platform, 9)
    small = team_of(manager, "Small", learners[:3])
    team_of(manager, "Big", learners[3:])
    for n, helped in enumerate(learners[3:]):
        result = record_help(learners[n % 3], other_user_id=helped.user_id, direction=I_HELPED,
                             description="Prompt tips", now=later(n))
        confirm_help(helped, result.help.id, later(n + 1))
    assert build(manager, Filters(kind="month", team_id=small.id)).silo.suppressed
    assert build(manager).silo.figures["helps"] == 6


def test_hours_saved_estimated_by_fewer_than_the_minimum_group_are_withheld(platform):
    """Five learners log (the default minimum group is 5), but only Ada estimates the time saved. The row is
    guarded on the five authors, while its figures came from Ada alone: the page said "45 minutes over 1 experiments
    by 1 people; median 45", one person's own figure under the minimum group size (found by a review). The guard
    counts the people behind the figures now."""
    from datetime import timedelta

    manager = make_actor(platform, "manager-1", Role.MANAGER)
    learners = [make_actor(platform, f"l{i}") for i in range(5)]
    for learner, minutes in zip(learners, (45, None, None, None, None)):
        log(learner, minutes_saved=minutes)
    row = report.build(resolve(manager, MONTH, NOW + timedelta(minutes=1))).hours_total
    assert row.suppressed, row.figures


def test_hours_by_team_estimated_by_one_member_are_withheld(platform):
    from datetime import timedelta

    from plugin.leaderboards import reconcile
    from plugin.teams import service as teams

    manager = make_actor(platform, "manager-1", Role.MANAGER)
    learners = [make_actor(platform, f"l{i}") for i in range(5)]
    team = teams.ensure_team(manager.course_id, "Red", NOW)
    for m in learners:
        teams.add_member(team, m.user_id)
    reconcile.team_members_changed(team.id)
    for learner, minutes in zip(learners, (120, None, None, None, None)):
        log(learner, minutes_saved=minutes)
    rows = report.build(resolve(manager, MONTH, NOW + timedelta(minutes=1))).hours_by_team
    assert all(r.suppressed or r.figures["people"] >= 5 for r in rows), [r.figures for r in rows]


def test_a_team_of_all_but_one_cannot_be_subtracted_from_the_course(platform, manager):
    """The differencing attack an isolation review found: a team of every learner but Ada, then the course's
    figures minus the team's were Ada's own minutes and confidence ratings. The team's figures are withheld now
    (the page says why), the course's stay, and a team whose complement reaches k shows as before."""
    learners = people(platform, 10)
    ada, rest = learners[0], learners[1:]
    for i, learner in enumerate(learners):
        log(learner, later(i), minutes_saved=500 if learner is ada else 20,
            confidence_before=1 if learner is ada else 3, confidence_after=5 if learner is ada else 3)
    all_but_ada = team_of(manager, "All but Ada", rest)
    course = build(manager)
    assert course.hours_total.figures["minutes"] == 680 and course.differenced  # the team's row in it
    team = build(manager, Filters(kind="month", team_id=all_but_ada.id))
    for row in (team.adoption, team.hours_total, team.confidence, team.safe_to_fail, *team.trend):
        assert row.suppressed, row
    assert all(row.suppressed for row in team.hours_by_category + team.hours_by_tool + team.hours_by_team)
    assert team.differenced
    assert {row.label: row.suppressed for row in course.hours_by_team} == {"All but Ada": True}
    for name, (_, rows) in export.tables(team).items():
        flat = " ".join(str(c) for row in rows for c in row)
        assert "180" not in flat and "3.0" not in flat, name  # the team's minutes (9 x 20) and mean rating
    for learner in rest[:4]:  # now five of ten: the course minus the team is five people
        teams.remove_member(manager, all_but_ada.id, learner.user_id, NOW)
    five = build(manager, Filters(kind="month", team_id=all_but_ada.id))
    assert five.hours_total.figures["minutes"] == 100 and five.confidence.figures["delta"] == 0
    assert not five.differenced


def test_a_team_category_one_outsider_used_is_withheld_and_so_is_what_would_give_it_back(platform, manager):
    """Red's five each logged one experiment in each of three categories. Of the six who used the second, five
    are in Red: the course's row minus Red's would be the sixth person's, so Red's row is withheld. Red's total
    minus its two other rows would give that row back, so one of those goes too (the two together, beside the
    course's, cover six people outside Red); Red's total, which isolates nobody, stays."""
    from plugin.catalog.service import items

    first, second, third = items(manager.organisation_id, "categories")[:3]
    learners = people(platform, 16)
    red = team_of(manager, "Red", learners[:5])
    for i, learner in enumerate(learners[:5]):
        for n, category in enumerate((first, second, third)):
            log(learner, later(3 * i + n), task_category=category.id, minutes_saved=10)
    log(learners[5], later(20), task_category=second.id, minutes_saved=90)
    for i, learner in enumerate(learners[6:11]):
        log(learner, later(30 + i), task_category=first.id, minutes_saved=10)
    for i, learner in enumerate(learners[11:]):
        log(learner, later(40 + i), task_category=third.id, minutes_saved=10)
    r = build(manager, Filters(kind="month", team_id=red.id))
    assert r.hours_total.figures["minutes"] == 150 and r.differenced
    rows = {row.key: row for row in r.hours_by_category}
    assert rows[second.id].suppressed
    assert [row.suppressed for row in (rows[first.id], rows[third.id])].count(True) == 1
    course = build(manager)
    assert not any(row.suppressed for row in course.hours_by_category)


def test_an_admin_cannot_subtract_a_course_from_the_organisation(platform):
    admin = make_actor(platform, "admin-1", Role.ADMIN)
    for learner in people(platform, 8):
        log(learner, minutes_saved=10)
    for learner in people(platform, 2, prefix="x", context_id="course-2"):
        log(learner, minutes_saved=300)
    organisation = build(admin)
    assert organisation.hours_total.figures["minutes"] == 680
    course_one = next(c for c in resolve(admin, MONTH, NOW).courses if c.context_id == "course-1")
    one = build(admin, Filters(kind="month", course_id=course_one.id))
    assert one.hours_total.suppressed and one.adoption.suppressed and one.differenced


def test_the_ledger_export_does_not_tie_a_post_shared_without_a_name_to_its_author(platform, manager):
    """An admin's ledger export named the user beside source_type=experiment and the experiment's id, which the
    shared library shows beside the anonymous post: who wrote it was one lookup away (an isolation review). Those
    entries, and the ones its author earned when colleagues reused it, keep user and amount but not the id."""
    from plugin.insights.export import LEDGER_HEAD, ledger_rows

    admin = make_actor(platform, "admin-1", Role.ADMIN)
    author, *others = people(platform, 4)
    secret = log(author, outcome="failed", anonymous=True, learned="It made up a citation; I check every source now.")
    named = log(author, later(1), outcome="failed", learned="It made up a date; I check every date now.")
    for n, colleague in enumerate(others):
        mark_reused(colleague, secret.experiment.id, later(5 + n))
        mark_reused(colleague, named.experiment.id, later(10 + n))
    rows = [dict(zip(LEDGER_HEAD, row)) for row in ledger_rows(admin, None, None, None)]
    mine = [r for r in rows if r["user_id"] == author.user_id]
    assert {r["source_type"] for r in mine} >= {"experiment", "reuse"}
    shown = {(r["source_type"], r["source_id"]) for r in mine}
    assert ("experiment", secret.experiment.id) not in shown and ("experiment", named.experiment.id) in shown
    assert ("experiment", None) in shown
    from plugin.community.models import Reuse
    from plugin.extensions import db

    secret_reuses = set(db.session.scalars(db.select(Reuse.id).where(Reuse.experiment_id == secret.experiment.id)))
    assert not secret_reuses & {r["source_id"] for r in mine if r["source_type"] == "reuse"}
    from plugin.ledger.models import LedgerEntry

    total = db.session.scalar(db.select(db.func.sum(LedgerEntry.amount)).where(LedgerEntry.user_id == author.user_id))
    assert sum(r["amount"] for r in mine) == total > 0


def test_pillar_rows_of_nested_teams_one_person_apart_are_not_both_shown(platform, manager):
    """Pillar coverage has no course total, but two teams one person apart would still give that person's
    experiments per pillar; disjoint teams of five show as before."""
    admin = make_actor(platform, "admin-1", Role.ADMIN)
    vision.save_vision(admin, VisionIn().load({"statement": "We try AI to give people time back.",
                                               "pillars": [{"name": "A"}, {"name": "B"}, {"name": "C"}]}), NOW)
    a, *_ = vision.pillars(admin.organisation_id)
    learners = people(platform, 12)
    team_of(manager, "Six", learners[:6])
    team_of(manager, "Five", learners[1:6])
    team_of(manager, "Other", learners[6:11])
    for i, learner in enumerate(learners):
        log(learner, later(i), pillars=[a.id])
    rows = {row.label: row.suppressed for row in build(manager).pillar_coverage}
    assert rows["Other"] is False and [rows["Six"], rows["Five"]].count(True) == 1


@pytest.mark.parametrize("split", ["category", "tool"])
def test_a_teams_total_minus_a_course_row_only_the_rest_of_it_used_is_not_one_persons(platform, manager, split):
    """Team A is Ada and five who used only c1; Ada and five others used c2. On the course page alone, A's row of
    hours by team minus the course's c1 row was Ada's minutes (a probe of the differencing check). Now the
    breakdowns by category and tool are groups of the same check: one of the two is withheld."""
    from plugin.catalog.service import items

    kind = "categories" if split == "category" else "tools"
    one, two = items(manager.organisation_id, kind)[:2]

    def of(item):
        return {"task_category": item.id} if split == "category" else {"ai_tool": str(item.id)}
    ada, *rest = people(platform, 11)
    team = team_of(manager, "A", [ada, *rest[:5]])
    log(ada, later(0), minutes_saved=437, **of(two))
    for i, learner in enumerate(rest):
        log(learner, later(1 + i), minutes_saved=20 if i < 5 else 30, **of(one if i < 5 else two))
    course = build(manager)
    rows = {row.key: row for row in (course.hours_by_category if split == "category" else course.hours_by_tool)}
    a_row = {row.label: row for row in course.hours_by_team}["A"]
    assert a_row.suppressed or rows[one.id].suppressed, (a_row, rows[one.id])
    a_view = build(manager, Filters(kind="month", team_id=team.id))
    assert a_view.hours_total.suppressed or rows[one.id].suppressed
    assert not course.hours_total.suppressed  # the course's own total stays


def test_an_admins_team_figures_are_the_teams_course_alone(platform):
    """A team of course-1 whose member Ada also learns in course-2: the organisation's row for the team counted her
    course-2 minutes and the team's adoption her course-2 activity, so the team's view with and without the course
    chosen differed by exactly her (a probe of the differencing check)."""
    admin = make_actor(platform, "admin-1", Role.ADMIN)
    learners = people(platform, 12)
    team = team_of(make_actor(platform, "manager-1", Role.MANAGER), "A", learners[:6])
    for i, learner in enumerate(learners[1:]):
        log(learner, later(i), minutes_saved=20)
    ada_there = make_actor(platform, "l0", context_id="course-2")
    for i, learner in enumerate(people(platform, 6, prefix="x", context_id="course-2")):
        log(learner, later(20 + i), minutes_saved=30)
    log(ada_there, later(40), minutes_saved=437)
    course_one = next(c for c in resolve(admin, MONTH, NOW).courses if c.context_id == "course-1")
    organisation = {row.label: row for row in build(admin).hours_by_team}["A"]
    alone = build(admin, Filters(kind="month", team_id=team.id))
    within = build(admin, Filters(kind="month", team_id=team.id, course_id=course_one.id))
    assert organisation.figures["minutes"] == alone.hours_total.figures["minutes"] == 100
    assert alone.adoption.figures["active"] == within.adoption.figures["active"] == 5


def test_pillar_rows_are_set_beside_each_other_on_the_people_who_logged(platform, manager):
    """T1 is five people and Ada, T2 the same five and z, who logged nothing: on their members the teams differ by
    two people, but T1's counts minus T2's were Ada's own (a probe of the differencing check)."""
    admin = make_actor(platform, "admin-1", Role.ADMIN)
    vision.save_vision(admin, VisionIn().load({"statement": "We try AI to give people time back.",
                                               "pillars": [{"name": "A"}, {"name": "B"}, {"name": "C"}]}), NOW)
    a, b, c = vision.pillars(admin.organisation_id)
    ada, z, *rest = people(platform, 12)
    team_of(manager, "T1", [ada, *rest[:5]])
    team_of(manager, "T2", [z, *rest[:5]])
    for i, learner in enumerate(rest[:5]):
        log(learner, later(i), pillars=[a.id])
    log(ada, later(10), pillars=[b.id, c.id])
    rows = {row.label: row for row in build(manager).pillar_coverage}
    assert rows["T1"].suppressed or rows["T2"].suppressed


def test_a_quarter_minus_its_shown_months_is_not_one_persons_month(platform, manager):
    """Ada alone logged in January; five others in February, five in March. January's figures are withheld, but the
    quarter minus February and March was her minutes and ratings (a probe of the differencing check). The quarter's
    are withheld now; the months with five people stay."""
    from datetime import datetime, timezone

    ada, *rest = people(platform, 11)
    log(ada, datetime(2025, 1, 15, 10, tzinfo=timezone.utc), minutes_saved=437, confidence_before=1,
        confidence_after=5)
    for i, learner in enumerate(rest):
        log(learner, datetime(2025, 2, 10, 10, i, tzinfo=timezone.utc) if i < 5 else later(i), minutes_saved=20,
            confidence_before=3, confidence_after=3)
    quarter = build(manager, Filters(kind="quarter", key="2025-Q1"))
    months = [build(manager, Filters(kind="month", key=m)) for m in ("2025-01", "2025-02", "2025-03")]
    assert months[0].hours_total.suppressed and not months[1].hours_total.suppressed
    assert not months[2].confidence.suppressed
    assert quarter.hours_total.suppressed and quarter.confidence.suppressed and quarter.differenced


def test_a_month_minus_its_shown_weeks_is_not_one_persons_week(platform, manager):
    """March 2025: five people in week 10, Ada alone in week 11, five in week 12. The month minus weeks 10 and 12
    was Ada's (a probe); the month's figure is withheld now, the weeks of five stay."""
    from datetime import datetime, timezone

    ada, *rest = people(platform, 11)
    log(ada, datetime(2025, 3, 12, 10, tzinfo=timezone.utc), minutes_saved=437)
    for i, learner in enumerate(rest):
        log(learner, datetime(2025, 3, 4 if i < 5 else 18, 10, i, tzinfo=timezone.utc), minutes_saved=20)
    now = datetime(2025, 3, 25, 9, tzinfo=timezone.utc)
    month = build(manager, Filters(kind="month", key="2025-03"), now=now)
    weeks = {k: build(manager, Filters(kind="week", key=k), now=now).hours_total
             for k in ("2025-W10", "2025-W11", "2025-W12")}
    assert weeks["2025-W11"].suppressed and not weeks["2025-W10"].suppressed and not weeks["2025-W12"].suppressed
    assert month.hours_total.suppressed and month.differenced


def test_a_week_across_two_months_with_one_person_on_one_side_is_withheld(platform, manager):
    """Week 14 of 2025 runs from Monday 31 March into April: Ada alone on the 31st, five others in April. March
    would give her away beside April: the week is withheld; and March (five in week 11, Ada on the 31st) too, as
    March minus week 11 would be hers."""
    from datetime import datetime, timezone

    ada, *rest = people(platform, 11)
    log(ada, datetime(2025, 3, 31, 10, tzinfo=timezone.utc), minutes_saved=437)
    for i, learner in enumerate(rest[:5]):
        log(learner, datetime(2025, 4, 2, 10, i, tzinfo=timezone.utc), minutes_saved=20)
    for i, learner in enumerate(rest[5:]):
        log(learner, datetime(2025, 3, 10, 10, i, tzinfo=timezone.utc), minutes_saved=20)
    now = datetime(2025, 4, 20, 9, tzinfo=timezone.utc)
    week = build(manager, Filters(kind="week", key="2025-W14"), now=now)
    march = build(manager, Filters(kind="month", key="2025-03"), now=now)
    assert week.hours_total.suppressed and week.differenced
    assert march.hours_total.suppressed  # 5 in week 11 and Ada in week 14's March slice: March minus W11 is hers


def test_the_quarter_stays_shown_and_a_month_goes_to_cover_a_thin_one(platform, manager):
    """Three people logged in January and six in February, a few each week. January is withheld (three people), so
    the quarter minus February would be January: February goes too (the weeks inside it show nothing either), and
    the quarter, the page's first answer, stays."""
    from datetime import datetime, timezone

    learners = people(platform, 9)
    for i, learner in enumerate(learners):
        day = datetime(2025, 1, 6 + 7 * i, 10, tzinfo=timezone.utc) if i < 3 else \
            datetime(2025, 2, 3 + 4 * (i - 3), 10, tzinfo=timezone.utc)
        log(learner, day, minutes_saved=30)
    quarter = build(manager, Filters(kind="quarter", key="2025-Q1"))
    january = build(manager, Filters(kind="month", key="2025-01"))
    february = build(manager, Filters(kind="month", key="2025-02"))
    assert quarter.hours_total.figures["minutes"] == 270 and not quarter.differenced
    assert january.hours_total.suppressed and february.hours_total.suppressed and february.differenced


def _on(month, day, minute=0):
    from datetime import datetime, timezone

    return datetime(2025, month, day, 10, minute, tzinfo=timezone.utc)


def test_pillar_rows_are_set_beside_the_other_periods_too(platform, manager):
    """Only Ada logged in January, so January's row is withheld; five others logged in February and five in March.
    The quarter's row minus February's and March's was her January counts (a probe)."""
    admin = make_actor(platform, "admin-1", Role.ADMIN)
    vision.save_vision(admin, VisionIn().load({"statement": "We try AI to give people time back.",
                                               "pillars": [{"name": "A"}, {"name": "B"}, {"name": "C"}]}), NOW)
    a, b, _ = vision.pillars(admin.organisation_id)
    ada, *rest = people(platform, 11)
    team_of(manager, "T", [ada, *rest])
    log(ada, _on(1, 15), pillars=[b.id])
    for i, learner in enumerate(rest):
        log(learner, _on(2 if i < 5 else 3, 10, i), pillars=[a.id])
    now = _on(3, 20)

    def row(kind, key):
        return {r.label: r for r in build(manager, Filters(kind=kind, key=key), now=now).pillar_coverage}["T"]
    shown = [not row(*period).suppressed for period in (("quarter", "2025-Q1"), ("month", "2025-02"),
                                                        ("month", "2025-03"))]
    assert row("month", "2025-01").suppressed and not all(shown)


def test_the_silo_index_is_set_beside_the_other_periods_too(platform, manager):
    """Ada helped Bob once in January (two people: withheld); five helps among others in February and five in March.
    The quarter's helps minus February's and March's were Ada and Bob's (a probe)."""
    ada, bob, *rest = people(platform, 22)
    pairs = [(ada, bob, _on(1, 15))] + [(rest[i], rest[5 + i], _on(2, 10, i)) for i in range(5)] + \
            [(rest[10 + i], rest[15 + i], _on(3, 10, i)) for i in range(5)]
    for helper, helped, when in pairs:
        result = record_help(helper, other_user_id=helped.user_id, direction=I_HELPED, description="Prompt tips",
                             now=when)
        confirm_help(helped, result.help.id, when)
    now = _on(3, 20)
    silo = {key: build(manager, Filters(kind=kind, key=key), now=now).silo
            for kind, key in (("quarter", "2025-Q1"), ("month", "2025-01"), ("month", "2025-02"),
                              ("month", "2025-03"))}
    assert silo["2025-01"].suppressed
    assert any(silo[key].suppressed for key in ("2025-Q1", "2025-02", "2025-03"))


def _in_span(target: dict, vectors: list[dict]) -> bool:
    """Whether `target` (cell -> coefficient) is a linear combination of `vectors` (exact fractions)."""
    from fractions import Fraction

    cells = sorted({c for v in [target, *vectors] for c in v})

    def rank(vs):
        rows = [[Fraction(v.get(c, 0)) for c in cells] for v in vs]
        r = 0
        for col in range(len(cells)):
            pivot = next((i for i in range(r, len(rows)) if rows[i][col]), None)
            if pivot is None:
                continue
            rows[r], rows[pivot] = rows[pivot], rows[r]
            for i in range(len(rows)):
                if i != r and rows[i][col]:
                    f = rows[i][col] / rows[r][col]
                    rows[i] = [x - f * y for x, y in zip(rows[i], rows[r])]
            r += 1
        return r

    return rank(vectors + [target]) == rank(vectors)


@pytest.mark.xfail(strict=True, reason="open (docs/privacy.md): rows withheld to cover a small row are chosen one "
                   "group at a time; deciding every group's rows together took 15 s for a course of 150 in 10 teams")
def test_a_team_row_withheld_cannot_be_rebuilt_from_the_course_and_another_team(platform, manager):
    """Red's table withholds its one-person row (Ada's first category) and, to cover it, its second category. The
    course and Blue show their second-category rows, and the two teams make up the course: Red's second row is
    the course's minus Blue's, and Red's total minus its third row minus that gives Ada's minutes (a probe, with
    three views)."""
    from plugin.catalog.service import items

    first, second, third = items(manager.organisation_id, "categories")[:3]
    reds, blues = people(platform, 6, prefix="r"), people(platform, 7, prefix="b")
    red, blue = team_of(manager, "Red", reds), team_of(manager, "Blue", blues)
    logged: dict[tuple, int] = {}  # (user, category) -> minutes

    def entry(learner, category, minutes, n):
        log(learner, later(n), task_category=category.id, minutes_saved=minutes)
        key = (learner.user_id, category.id)
        logged[key] = logged.get(key, 0) + minutes

    entry(reds[0], first, 90, 0)  # Ada: the only one of Red in the first category
    for i, r in enumerate(reds[1:]):
        entry(r, second, 10 + i, 10 + i)
    for i, r in enumerate(reds):
        entry(r, third, 20 + i, 20 + i)
    for i, b in enumerate(blues):
        if i < 6:
            entry(b, first, 30 + i, 30 + i)
            entry(b, third, 40 + i, 40 + i)
        entry(b, second, 50 + i, 50 + i)
    members = {None: {u for u, _ in logged}, red.id: {r.user_id for r in reds}, blue.id: {b.user_id for b in blues}}
    vectors = []
    for team in (None, red.id, blue.id):
        r = build(manager, Filters(kind="month", team_id=team))
        rows = [(r.hours_total, None)] + [(row, row.key) for row in r.hours_by_category]
        rows += [(row, None) for row in r.hours_by_team] if team is None else []
        for row, category in rows:
            if row.suppressed:
                continue
            who = members[row.key if row in r.hours_by_team else team]
            vectors.append({cell: 1 for cell in logged if cell[0] in who and category in (None, cell[1])})
            assert row.figures["minutes"] == sum(logged[c] for c in vectors[-1])  # the figure is that cell's sum
    assert not _in_span({(reds[0].user_id, first.id): 1}, vectors)
    # Nor anyone else's minutes, in one category or in all.
    assert not any(_in_span({cell: 1}, vectors) for cell in logged)
    assert not any(_in_span({cell: 1 for cell in logged if cell[0] == user}, vectors) for user in members[None])
