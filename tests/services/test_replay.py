"""Replay: re-derive awards from the structured facts, report differences, and reconcile by appending reversing
and new entries (never by editing rows); previews of candidate rules write nothing."""
from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select, update

from plugin.badges.models import BadgeAward, BadgeClass
from plugin.badges.service import badges_of, save_badge
from plugin.catalog.service import items
from plugin.community.service import mark_reused, react
from plugin.core.actor import Role
from plugin.experiments.models import Experiment
from plugin.extensions import db
from plugin.ledger.models import LedgerEntry
from plugin.ledger.service import balance, balances, verify_totals
from plugin.peer_help.models import PeerHelp
from plugin.peer_help.service import HELPED_ME, I_HELPED, confirm_help, decline_help, record_help
from plugin.recognition.models import Kudos
from plugin.recognition.service import give_kudos, revoke_badge, revoke_kudos
from plugin.replay.service import Qualifier, preview, replay
from plugin.rules.definitions import create_rule, update_rule, validate_fields
from plugin.rules.engine import RuleSpec
from plugin.rules.models import Rule, RuleVersion
from plugin.settings.service import LimitsIn, limits, update_limits
from tests.services.factories import NOW, log, make_actor, make_platform

REFLECTION = "It invented a figure; I now check every number."


def day(days: int, minutes: int = 0):
    return NOW + timedelta(days=days, minutes=minutes)


@pytest.fixture
def course(appctx):
    platform = make_platform()
    c = SimpleNamespace(platform=platform, boss=make_actor(platform, "boss", Role.MANAGER),
                        admin=make_actor(platform, "admin", Role.ADMIN),
                        **{sub: make_actor(platform, sub) for sub in ("ada", "bo", "cy", "dee")})
    c.org = c.ada.organisation_id
    c.tools = [str(t.id) for t in items(c.org, "tools")[:3]]
    c.cats = [cat.id for cat in items(c.org, "categories")[:4]]
    return c


def rule(course, key: str) -> Rule:
    return db.session.scalar(select(Rule).where(Rule.organisation_id == course.org, Rule.key == key))


def history(c) -> None:
    """A realistic month: tools and categories explored, a shared failure, a four-week streak, a near-duplicate,
    repeats past the free count and a day past the points cap; help (one past the pair cap, one declined),
    kudos (one revoked), reactions and reuses; and a manager's own experiment."""
    t, k = c.tools, c.cats
    for d, tool, cat in ((0, 0, 0), (1, 1, 0), (2, 2, 1), (14, 0, 3), (21, 0, 0)):
        log(c.ada, day(d), ai_tool=t[tool], task_category=k[cat])
    post = log(c.ada, day(7), outcome="failed", learned=REFLECTION, task_category=k[2]).experiment
    copy = "Asked it to rewrite the weekly newsletter in plain English for parents and it kept the tone"
    log(c.ada, day(22), tried=copy)
    log(c.ada, day(23), tried=copy)  # near-duplicate: logged, no points
    for n in range(13):  # repeats, then the daily cap
        log(c.bo, day(3, n), ai_tool=t[0], task_category=k[0])
    log(c.cy, day(4), outcome="partly")
    log(c.boss, day(4, 5))
    for n in range(4):  # the fourth is over the pair cap
        record_help(c.ada, other_user_id=c.bo.user_id, direction=HELPED_ME, description="Prompt tips", now=day(5, n))
    offered = record_help(c.ada, other_user_id=c.cy.user_id, direction=I_HELPED, description="Sources", now=day(6))
    confirm_help(c.cy, offered.help.id, day(6, 30))
    refused = record_help(c.dee, other_user_id=c.cy.user_id, direction=I_HELPED, description="Nothing", now=day(6))
    decline_help(c.cy, refused.help.id, day(6, 40))
    give_kudos(c.boss, receiver_id=c.ada.user_id, message="Brave failure", now=day(8), submission_key="kudos-0001",
               points=30)
    wrong = give_kudos(c.boss, receiver_id=c.bo.user_id, message="Oops", now=day(8, 1), submission_key="kudos-0002",
                       points=20)
    revoke_kudos(c.boss, wrong.id, "Meant for someone else", day(8, 2))
    for n, who in enumerate((c.bo, c.cy, c.dee)):
        react(who, post.id, "helpful", day(9, n))
        mark_reused(who, post.id, day(10, n))
    db.session.commit()


def ledger_snapshot() -> dict[int, tuple]:
    return {e.id: (e.idempotency_key, e.user_id, e.amount, e.reverses_id)
            for e in db.session.scalars(select(LedgerEntry))}


def rows(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_with_no_rule_change_a_replay_finds_nothing_to_change(course):
    history(course)
    assert balances(course.ada.course_id, course.ada.user_id)["total"] > 0
    report = replay(course.org, day(30))
    assert (report.points, report.new_badges, report.lost_badges) == ([], [], [])
    assert replay(course.org, day(30), apply=True).applied is False


def test_a_replay_reads_no_free_text(course):
    """Erasing what people wrote (as a data-protection request would) changes nothing a replay derives."""
    history(course)
    db.session.execute(update(Experiment).values(title="", tried="", learned=""))
    db.session.execute(update(PeerHelp).values(description=""))
    db.session.execute(update(Kudos).values(message=""))
    assert replay(course.org, day(30)).empty


def test_a_points_change_is_listed_by_a_dry_run_and_touches_nothing(course):
    history(course)
    logged = rule(course, "logged")
    update_rule(course.admin, logged.id, {"points": 12}, day(30))
    db.session.commit()
    before = ledger_snapshot()
    report = replay(course.org, day(31))
    db.session.commit()
    assert report.applied is False and report.points
    assert {c.rule_id for c in report.points} == {logged.id}
    ada = sorted((c.current, c.desired) for c in report.points if c.user_id == course.ada.user_id)
    assert ada == [(10, 12)] * 7  # seven experiments earned 10; the near-duplicate earned nothing and still does not
    assert ledger_snapshot() == before
    assert replay(course.org, day(31)) == replay(course.org, day(45))  # deterministic


def test_applying_a_points_change_appends_reversing_and_new_entries(course):
    history(course)
    logged = rule(course, "logged")
    update_rule(course.admin, logged.id, {"points": 12}, day(30))
    ada_before = balance(course.ada.course_id, course.ada.user_id)
    before = ledger_snapshot()
    planned = replay(course.org, day(31)).points
    report = replay(course.org, day(31), apply=True)
    db.session.commit()
    db.session.expire_all()
    assert report.applied is True and report.points == planned
    after = ledger_snapshot()
    assert {i: after[i] for i in before} == before  # nothing updated, nothing deleted
    added = [db.session.get(LedgerEntry, i) for i in sorted(set(after) - set(before))]
    reversals = [e for e in added if e.reverses_id]
    postings = [e for e in added if not e.reverses_id]
    # One reversal per entry that paid something, one new entry per award that pays something: with 12 a
    # point, bo's capped day now pays out over fewer experiments, so some are only reversed.
    assert sorted(-e.amount for e in reversals) == sorted(c.current for c in planned if c.current)
    assert sorted(e.amount for e in postings) == sorted(c.desired for c in planned if c.desired)
    assert {(e.rule_id, e.rule_version) for e in postings} == {(logged.id, 2)}
    assert all(before[e.reverses_id][2] == -e.amount for e in reversals)
    assert balance(course.ada.course_id, course.ada.user_id) == ada_before + 7 * 2
    assert verify_totals() == []

    again = replay(course.org, day(32), apply=True)
    db.session.commit()
    assert again.empty and again.applied is False
    assert ledger_snapshot() == after


def test_a_second_replay_changing_the_same_award_again_posts_it(course):
    """A cap lowered and a replay applied, then the cap put back and a replay applied again: the second replay's
    entries must not collide with the first's keys (they did, and the points were lost for good)."""
    def set_cap(cap):
        form = {name: str(value) for name, value in {**limits(course.org).__dict__, "daily_points_cap": cap,
                                                      "repeat_free_count": 100}.items()}
        update_limits(course.admin, LimitsIn().load(form), NOW)

    set_cap(100)
    for n in range(3):
        log(course.ada, day(0, n))
    assert balance(course.ada.course_id, course.ada.user_id, "experimenting") == 30
    set_cap(15)
    assert replay(course.org, day(1), apply=True).applied
    assert balance(course.ada.course_id, course.ada.user_id, "experimenting") == 15
    set_cap(100)
    assert replay(course.org, day(2), apply=True).applied
    assert balance(course.ada.course_id, course.ada.user_id, "experimenting") == 30
    assert replay(course.org, day(3)).empty
    assert verify_totals() == []


def _five_experiments_with_a_badge(course):
    """A new badge, "Steady hand", and a once-only rule giving it with 20 points for five experiments (day 30)."""
    medal = save_badge(course.admin, None, name="Steady hand", description="Five experiments", criteria="Log 5",
                       colour="#2b8a3e", manual=False, active=True, now=day(30))
    new = create_rule(course.org, {"name": "Five experiments", "condition": "experiment_count",
                                   "params": {"count": 5}, "points": 20, "badge_id": medal.id, "repeatable": False},
                      day(30), actor=course.admin)
    return medal, new


def test_a_new_rule_applied_by_replay_recognises_past_qualifiers(course):
    history(course)
    medal, new = _five_experiments_with_a_badge(course)
    db.session.commit()
    assert rows(LedgerEntry, LedgerEntry.rule_id == new.id) == 0  # creating a rule awards nothing by itself
    dry = replay(course.org, day(31), rule_ids=[new.id])
    assert sorted((c.user_id, c.desired) for c in dry.points) == sorted(
        [(course.ada.user_id, 20), (course.bo.user_id, 20)])
    assert sorted(a.user_id for a in dry.new_badges) == sorted([course.ada.user_id, course.bo.user_id])

    replay(course.org, day(31), apply=True, rule_ids=[new.id])
    db.session.commit()
    entries = list(db.session.scalars(select(LedgerEntry).where(LedgerEntry.rule_id == new.id)))
    assert sorted((e.user_id, e.amount, e.rule_version) for e in entries) == sorted(
        [(course.ada.user_id, 20, 1), (course.bo.user_id, 20, 1)])
    assert "Steady hand" in [b.name for _a, b in badges_of(course.ada.course_id, course.ada.user_id)]
    assert "Steady hand" not in [b.name for _a, b in badges_of(course.cy.course_id, course.cy.user_id)]
    assert replay(course.org, day(32), apply=True, rule_ids=[new.id]).empty


def test_a_preview_lists_qualifiers_and_writes_nothing(course):
    history(course)
    checked = validate_fields(course.org, {"name": "Two tools", "condition": "distinct_tools",
                                           "params": {"count": 2}, "points": 7})
    candidate = RuleSpec(-1, 1, checked["condition"], checked["params"], checked["points"], checked["dimension"],
                         checked["badge_id"], repeatable=False)
    counts = {m: rows(m) for m in (LedgerEntry, BadgeAward, Rule, RuleVersion, BadgeClass)}
    assert preview(course.org, candidate) == [Qualifier(course.ada.course_id, course.ada.user_id, 7, False)]
    db.session.commit()
    assert {m: rows(m) for m in counts} == counts


def test_a_preview_of_an_edit_replaces_the_rule_it_edits(course):
    history(course)
    logged = rule(course, "logged")
    checked = validate_fields(course.org, {"name": "Logged", "condition": "each_experiment", "points": 1})
    candidate = RuleSpec(-1, 1, checked["condition"], checked["params"], 1)
    qualifiers = {q.user_id: q.points for q in preview(course.org, candidate, replacing=logged.id)}
    assert qualifiers[course.ada.user_id] == 7 and qualifiers[course.cy.user_id] == 1
    assert course.boss.user_id not in qualifiers  # staff earn nothing


def test_badges_no_longer_earned_are_reported_not_revoked(course):
    history(course)
    explorer = rule(course, "explorer")
    update_rule(course.admin, explorer.id, {"params": {"count": 4}}, day(30))
    report = replay(course.org, day(31))
    key = (course.ada.course_id, course.ada.user_id, explorer.badge_id)
    assert report.lost_badges == [key]
    assert [(c.user_id, c.current, c.desired) for c in report.points] == [(course.ada.user_id, 15, 0)]
    replay(course.org, day(31), apply=True)
    db.session.commit()
    assert "Explorer" in [b.name for _a, b in badges_of(course.ada.course_id, course.ada.user_id)]
    assert rows(BadgeAward, BadgeAward.revoked_at.is_not(None)) == 0
    assert verify_totals() == []


def test_a_replay_respects_a_managers_revocation(course):
    history(course)
    award = db.session.scalar(select(BadgeAward).where(BadgeAward.user_id == course.ada.user_id,
                                                       BadgeAward.rule_id == rule(course, "explorer").id))
    revoke_badge(course.boss, award.id, "Used the same tool under three names", day(30))
    before = balance(course.ada.course_id, course.ada.user_id)
    assert replay(course.org, day(31)).points == []
    replay(course.org, day(31), apply=True)
    assert balance(course.ada.course_id, course.ada.user_id) == before


def test_a_simulation_holds_back_what_a_manager_revoked_and_not_what_a_replay_changed(course):
    """The awards a simulation keeps out of people's running totals are those a manager took back (a badge revoked
    with its points): not the entries a replay reversed to post them again at a new value."""
    from plugin.replay.service import revoked_awards
    from plugin.rules.service import spec_of

    history(course)
    explorer, logged = rule(course, "explorer"), rule(course, "logged")

    def revoked() -> set[tuple]:
        specs = {r.id: spec_of(r) for r in db.session.scalars(select(Rule).where(Rule.organisation_id == course.org))}
        return revoked_awards(course.org, specs)

    assert not any(identity[0] == explorer.id for identity in revoked())
    award = db.session.scalar(select(BadgeAward).where(BadgeAward.user_id == course.ada.user_id,
                                                       BadgeAward.rule_id == explorer.id))
    revoke_badge(course.boss, award.id, "Used the same tool under three names", day(30))
    held_back = revoked()
    assert (explorer.id, "once", course.ada.user_id, course.ada.course_id) in held_back
    update_rule(course.admin, logged.id, {"points": 12}, day(30, 1))
    assert replay(course.org, day(31), apply=True).applied  # reverses every paid "logged" entry, posts 12s
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(LedgerEntry).where(
        LedgerEntry.rule_id == logged.id, LedgerEntry.reverses_id.is_not(None))) > 0
    assert revoked() == held_back


def test_revoking_a_badge_a_replay_awarded_reverses_its_points(course):
    history(course)
    medal, new = _five_experiments_with_a_badge(course)
    before = balance(course.ada.course_id, course.ada.user_id)
    replay(course.org, day(31), apply=True, rule_ids=[new.id])
    assert balance(course.ada.course_id, course.ada.user_id) == before + 20
    award = db.session.scalar(select(BadgeAward).where(BadgeAward.user_id == course.ada.user_id,
                                                       BadgeAward.badge_id == medal.id))
    revoke_badge(course.boss, award.id, "Counted test entries", day(32))
    assert balance(course.ada.course_id, course.ada.user_id) == before


def test_a_replay_neither_issues_a_switched_off_badge_nor_takes_it_from_its_holders(course):
    """The recalculation agrees with the live rules: a switched-off badge is not issued to those who qualify
    without holding it, and those holding it keep it (not even reported as lost)."""
    history(course)
    medal, new = _five_experiments_with_a_badge(course)
    log(course.ada, day(30, 1))  # Ada earns it live
    assert "Steady hand" in [b.name for _a, b in badges_of(course.ada.course_id, course.ada.user_id)]
    save_badge(course.admin, medal.id, name="Steady hand", description="Five experiments", criteria="Log 5",
               colour="#2b8a3e", manual=False, active=False, now=day(31))
    db.session.commit()
    report = replay(course.org, day(32), rule_ids=[new.id])
    assert [(c.user_id, c.desired) for c in report.points] == [(course.bo.user_id, 20)]  # Bo's points still come
    assert (report.new_badges, report.lost_badges) == ([], [])
    replay(course.org, day(32), apply=True, rule_ids=[new.id])
    db.session.commit()
    assert rows(BadgeAward, BadgeAward.badge_id == medal.id, BadgeAward.revoked_at.is_(None)) == 1  # Ada's, kept
    assert "Steady hand" not in [b.name for _a, b in badges_of(course.bo.course_id, course.bo.user_id)]


def test_a_preview_does_not_promise_a_switched_off_badge(course):
    history(course)
    explorer = rule(course, "explorer")
    badge = db.session.get(BadgeClass, explorer.badge_id)
    save_badge(course.admin, badge.id, name=badge.name, description=badge.description, criteria=badge.criteria,
               colour=badge.colour, manual=False, active=False, now=day(30))
    checked = validate_fields(course.org, {"name": "Explorer", "condition": "distinct_tools", "params": {"count": 2},
                                           "points": 15, "badge_id": badge.id, "repeatable": False})
    candidate = RuleSpec(-1, 1, checked["condition"], checked["params"], 15, checked["dimension"], badge.id,
                         repeatable=False)
    assert preview(course.org, candidate, replacing=explorer.id) == [
        Qualifier(course.ada.course_id, course.ada.user_id, 15, False)]


def test_a_learner_who_became_staff_keeps_what_they_earned_as_a_learner(course):
    """Canvas promotes a student to TA (the next launch makes them a manager of the course): a replay, such as an
    admin's recalculation of another rule, neither lists nor takes back the points and badges they earned before."""
    history(course)
    before = balances(course.ada.course_id, course.ada.user_id)
    make_actor(course.platform, "ada", Role.MANAGER)
    db.session.commit()
    report = replay(course.org, day(30))
    assert [c for c in report.points if c.user_id == course.ada.user_id] == []
    assert [b for b in report.lost_badges if b[1] == course.ada.user_id] == []
    replay(course.org, day(30), apply=True)
    assert balances(course.ada.course_id, course.ada.user_id) == before


@pytest.mark.parametrize("first", ["replay", "team change"])
def test_a_replay_applied_while_a_manager_adds_the_learner_to_a_team_leaves_the_teams_figures_on_the_ledger(
        appctx, course, first):
    """An admin applies a replay that re-pays Ada's experiment while her manager adds her to a team: whichever
    commits first, the team's points are her points as the ledger has them, not those before the replay."""
    from plugin.leaderboards.rebuild import verify
    from plugin.teams.service import add_members, ensure_team
    from tests.services.test_concurrency import while_the_first_waits_to_commit

    log(course.ada, day(0))
    update_rule(course.admin, rule(course, "logged").id, {"points": 12}, day(1))
    team_id, org, boss, ada = ensure_team(course.ada.course_id, "Pioneers", NOW).id, course.org, course.boss, course.ada
    work = {"replay": lambda: replay(org, day(2), apply=True).applied,
            "team change": lambda: add_members(boss, team_id, [ada.user_id], day(2))}
    second = "team change" if first == "replay" else "replay"
    results = while_the_first_waits_to_commit(appctx, work[first], work[second])
    db.session.expire_all()
    assert True in results and [ada.user_id] in results
    assert balance(ada.course_id, ada.user_id) == 12
    assert verify(org) == {}


def test_an_experiment_logged_while_a_replay_is_applied_keeps_the_day_within_the_points_cap(appctx, course):
    """Ada's second experiment of the day is being saved when an admin applies a replay raising the experiment rule:
    the replay must count it (under the daily cap), not apply a plan made without it, paying the day over the cap."""
    from tests.services.factories import experiment_data
    from tests.services.test_concurrency import while_the_first_waits_to_commit

    form = {name: str(value) for name, value in {**limits(course.org).__dict__, "daily_points_cap": 20,
                                                  "repeat_free_count": 100}.items()}
    update_limits(course.admin, LimitsIn().load(form), NOW)
    log(course.ada, day(0))
    update_rule(course.admin, rule(course, "logged").id, {"points": 12}, day(0, 1))
    from plugin.experiments.service import log_experiment

    ada, org, data = course.ada, course.org, experiment_data(course.org)
    while_the_first_waits_to_commit(appctx, lambda: log_experiment(ada, data, day(0, 2)).experiment.id,
                                    lambda: replay(org, day(0, 3), apply=True).applied)
    db.session.expire_all()
    assert balance(ada.course_id, ada.user_id, "experimenting") == 20
    assert replay(org, day(0, 4)).empty
    assert verify_totals() == []


@pytest.mark.skipif("config.getoption('--db') != 'postgresql'", reason="row locks taken in turn are PostgreSQL's")
def test_a_rule_introduced_while_another_admin_changes_the_time_zone_is_no_deadlock(appctx, course):
    """An admin saves a new rule (it is applied to the past at once) while another admin changes the organisation's
    time zone: neither may end in a deadlock (a server error for one of them). The rule's save moves the
    organisation's configuration version before its replay takes the members' rows; the time zone's change takes
    the members' rows before its save moves that version."""
    import threading

    from plugin.leaderboards.rebuild import verify
    from plugin.leaderboards.service import change_time_zone
    from plugin.replay import service as replay_service
    from tests.services.test_concurrency import committing_thread, until_it_waits_for_a_lock

    log(course.ada, day(0))
    log(course.bo, day(0))
    admin, other = course.admin, make_actor(course.platform, "admin-2", Role.ADMIN)
    db.session.commit()
    fields = {"name": "First experiment", "condition": "experiment_count", "params": {"count": 1}, "points": 20,
              "repeatable": False}
    paused, go, errors, results = threading.Event(), threading.Event(), [], {}
    taking = replay_service.change_standing_in_organisation

    def taking_after_a_pause(organisation_id):
        if threading.current_thread().name == "rule" and not paused.is_set():
            paused.set()
            go.wait(30)
        return taking(organisation_id)

    replay_service.change_standing_in_organisation = taking_after_a_pause
    try:
        saving = committing_thread(appctx, "rule", lambda: replay_service.introduce_rule(admin, fields, day(1))[1],
                                   errors, results, paused)
        assert paused.wait(30)
        zone = committing_thread(appctx, "zone", lambda: change_time_zone(other, "Europe/Istanbul", day(1)),
                                 errors, results, paused)
        until_it_waits_for_a_lock(zone)  # the time zone's change
        go.set()
        saving.join(60)
        zone.join(60)
    finally:
        replay_service.change_standing_in_organisation = taking
    assert errors == [] and not saving.is_alive() and not zone.is_alive()
    assert results == {"rule": 2, "zone": True}
    db.session.expire_all()
    assert balance(course.ada.course_id, course.ada.user_id) == 10 + 20
    assert verify(course.org) == {}


def test_a_new_threshold_rule_does_not_count_points_a_manager_revoked(appctx):
    """A manager revokes Ada's Explorer badge (and its 15 points). An admin then adds "50 experimenting points":
    Ada has 40, yet introducing the rule pays her its points and badge, because the replay that awards new rules to
    past qualifiers added up every award the rules would make, the revoked one included (found by a ledger review).
    Its points are kept out of the simulation's totals now; the preview says so too."""
    from plugin.badges.service import get_or_create_badge
    from plugin.replay.service import introduce_rule

    platform = make_platform()
    course = SimpleNamespace(ada=make_actor(platform, "ada"), boss=make_actor(platform, "boss", Role.MANAGER),
                             admin=make_actor(platform, "admin", Role.ADMIN))
    org = course.ada.organisation_id
    update_limits(course.admin, {**limits(org).__dict__, "daily_points_cap": 1000}, NOW)
    tools = [str(t.id) for t in items(org, "tools")[:3]]
    categories = [c.id for c in items(org, "categories")[:3]]
    for minute, (tool, category) in enumerate(zip(tools, categories)):
        log(course.ada, day(0, minute), ai_tool=tool, task_category=category)  # 30, and Explorer's 15
    explorer = db.session.scalar(select(BadgeAward).join(BadgeClass, BadgeClass.id == BadgeAward.badge_id).where(
        BadgeClass.slug == "explorer", BadgeAward.user_id == course.ada.user_id))
    revoke_badge(course.boss, explorer.id, "Logged the same tool under three names", day(0, 5))
    log(course.ada, day(0, 6), ai_tool=tools[0], task_category=categories[1])
    db.session.commit()
    assert balances(course.ada.course_id, course.ada.user_id)["experimenting"] == 40
    assert replay(org, day(0, 7)).empty  # with no rule changed, nothing to change: true before the new rule

    medal = get_or_create_badge(org, "fifty", NOW, name="Fifty")
    fifty = {"name": "Fifty experimenting points", "condition": "points_in_dimension",
             "params": {"dimension": "experimenting", "points": 50}, "points": 5, "badge_id": medal.id,
             "repeatable": False}
    assert preview(org, RuleSpec(id=-1, version=1, **{k: v for k, v in fifty.items() if k != "name"})) == []
    _rule, recognised = introduce_rule(course.admin, fifty, day(0, 8))
    db.session.commit()
    assert recognised == 0
    assert "Fifty" not in [b.name for _award, b in badges_of(course.ada.course_id, course.ada.user_id)]
    assert balances(course.ada.course_id, course.ada.user_id)["experimenting"] == 40


def test_a_replay_gives_a_badge_again_that_a_revoked_kudos_took_back_once_it_is_earned(course):
    """"Two kudos" (a badge) comes with Ada's second kudos; the first is revoked and the badge goes with it (unearned,
    not a manager's revocation). The admin then asks for one kudos and applies a replay: Ada qualifies with the kudos
    she has, and the replay gives the badge again, as a new award."""
    from plugin.badges.service import get_or_create_badge

    medal = get_or_create_badge(course.org, "two-kudos", NOW, name="Two kudos")
    two = create_rule(course.org, {"name": "Two kudos", "condition": "kudos_received", "params": {"count": 2},
                                   "points": 0, "badge_id": medal.id, "repeatable": False}, NOW)
    first = give_kudos(course.boss, receiver_id=course.ada.user_id, message="Thanks", now=day(1),
                       submission_key="kudos-first-0001", points=0)
    give_kudos(course.boss, receiver_id=course.ada.user_id, message="Thanks again", now=day(2),
               submission_key="kudos-second-001", points=0)
    assert "Two kudos" in [b.name for _a, b in badges_of(course.ada.course_id, course.ada.user_id)]
    revoke_kudos(course.boss, first.id, "Meant for someone else", day(3))
    assert "Two kudos" not in [b.name for _a, b in badges_of(course.ada.course_id, course.ada.user_id)]
    assert replay(course.org, day(4)).empty  # one kudos left: nothing is owed

    update_rule(course.admin, two.id, {"params": {"count": 1}}, day(5))
    report = replay(course.org, day(6), apply=True)
    db.session.commit()
    assert [(a.user_id, a.rule.id) for a in report.new_badges] == [(course.ada.user_id, two.id)]
    assert "Two kudos" in [b.name for _a, b in badges_of(course.ada.course_id, course.ada.user_id)]
    assert rows(BadgeAward, BadgeAward.badge_id == medal.id) == 2


def test_a_new_rule_gives_an_erased_account_nothing_and_a_replay_still_takes_back(course):
    """Ada's account is erased. A rule introduced afterwards is not awarded to her (as no kudos or badge can be any
    more), while Bo, who qualifies too, gets it; a rule edit that lowers what Ada holds is still applied to her."""
    from plugin.badges.service import get_or_create_badge
    from plugin.privacy.erase import erase_person
    from plugin.replay.service import introduce_rule

    log(course.ada, day(0))
    log(course.bo, day(0, 1))
    erase_person(course.admin, course.ada.user_id, day(1))
    db.session.commit()
    ada_before = balance(course.ada.course_id, course.ada.user_id)
    medal = get_or_create_badge(course.org, "early", NOW, name="Early adopter")
    _rule, recognised = introduce_rule(course.admin, {"name": "Early adopter", "condition": "experiment_count",
                                                      "params": {"count": 1}, "points": 25, "badge_id": medal.id,
                                                      "repeatable": False}, day(2))
    db.session.commit()
    assert recognised == 1
    assert balance(course.ada.course_id, course.ada.user_id) == ada_before
    assert balance(course.bo.course_id, course.bo.user_id) > 25
    assert rows(BadgeAward, BadgeAward.badge_id == medal.id) == 1

    update_rule(course.admin, rule(course, "logged").id, {"points": 4}, day(3))
    replay(course.org, day(4), apply=True)
    db.session.commit()
    assert balance(course.ada.course_id, course.ada.user_id) == ada_before - 6
    assert verify_totals() == []


def test_an_entry_shared_days_later_replays_as_it_was_paid(course):
    """Ada logs a failure privately on day 0 and shares it on day 2, when two entries have used up the day's cap:
    Fail Forward pays what day 2 had room for (nothing), as the live path pays a late share under the cap of the
    day it is paid in. A replay saw it shared when logged, found day 0's room and reported 10 points owed (a
    recalculation of any rule then paid them), and counted them in day 0's cap instead of day 2's."""
    from plugin.experiments.service import share_experiment

    form = {name: str(value) for name, value in {**limits(course.org).__dict__, "daily_points_cap": 20,
                                                  "repeat_free_count": 100}.items()}
    update_limits(course.admin, LimitsIn().load(form), NOW)
    private = log(course.ada, day(0), outcome="failed", learned=REFLECTION, visibility="private").experiment
    log(course.ada, day(2))
    log(course.ada, day(2, 1))
    share_experiment(course.ada, private.id, "course", day(2, 2))
    fail_forward = rule(course, "fail-forward").id
    assert db.session.scalar(select(func.count()).where(LedgerEntry.rule_id == fail_forward)) == 0  # no points
    assert "fail-forward" in {b.slug for _award, b in badges_of(course.ada.course_id, course.ada.user_id)}
    assert balance(course.ada.course_id, course.ada.user_id, "sharing") == 0
    assert replay(course.org, day(3)).empty
    # Day 2 holds the late share: a third entry that day still finds no room; day 0 keeps its room.
    log(course.ada, day(2, 3))
    log(course.ada, day(0, 5))
    assert replay(course.org, day(3)).empty
    assert verify_totals() == []


# --- what a recalculation posts counts when it counted it ---------------------------------------------------------
def test_points_a_recalculation_posts_today_do_not_fill_todays_daily_cap(course):
    """Six experiments on six past days pay 10 each; the admin raises "Logged" to 12 and applies the recalculation
    on day 10, which reverses 60 and posts 72 that day. Ada's first entry of day 10 still earns its 12 (the cap is
    60): the recalculation's points count on the days of the experiments they pay, as its simulation counted them,
    and a second recalculation finds nothing to change. (Found by a ledger review: they filled day 10's cap.)"""
    from plugin.ledger.service import points_for_source
    from plugin.replay.service import introduce_rule

    for d in range(6):
        log(course.ada, day(d), ai_tool=course.tools[d % 3], task_category=course.cats[d % 4])
    update_rule(course.admin, rule(course, "logged").id, {"points": 12}, day(10))
    assert len(replay(course.org, day(10, 1), apply=True).points) == 6
    today = log(course.ada, day(10, 30), ai_tool=course.tools[0], task_category=course.cats[3]).experiment
    assert points_for_source(course.ada.course_id, course.ada.user_id, "experiment", today.id) == 12
    assert replay(course.org, day(10, 40)).empty
    assert verify_totals() == []
    # A rule introduced with a recalculation of what it would have paid: the same for its entries.
    introduce_rule(course.admin, {"name": "Thanks for trying", "condition": "each_experiment", "params": {},
                                  "points": 10, "dimension": "experimenting", "repeatable": True}, day(11))
    second = log(course.bo, day(11, 30)).experiment
    bo_first = points_for_source(course.bo.course_id, course.bo.user_id, "experiment", second.id)
    third = log(course.ada, day(11, 31), ai_tool=course.tools[1], task_category=course.cats[2]).experiment
    assert points_for_source(course.ada.course_id, course.ada.user_id, "experiment", third.id) == bo_first == 22
    assert verify_totals() == []


@pytest.mark.parametrize("kind", ["window", "cooldown"])
def test_a_recalculated_award_keeps_the_time_it_was_earned_for_the_rules_window(course, kind):
    """A weekly rule pays Ada's day-0 entry; on day 3 its points change and the recalculation is applied. Her entry on
    day 8 is in a new week and is paid: the recalculated award counts as of day 0, not day 3, for the window (or the
    cooldown), and a second recalculation finds nothing owed. (Found by a ledger review.)"""
    fields = {"name": "Active this week", "condition": "experiment_count", "points": 5, "dimension": "experimenting",
              "repeatable": True, "params": {"count": 1, "window_days": 7}}
    if kind == "cooldown":
        fields = {"name": "Active this week", "condition": "each_experiment", "points": 5,
                  "dimension": "experimenting", "repeatable": True, "params": {}, "cooldown_days": 7}
    weekly = create_rule(course.org, fields, NOW)
    log(course.ada, day(0), ai_tool=course.tools[0], task_category=course.cats[0])
    update_rule(course.admin, weekly.id, {"points": 6}, day(3))
    assert not replay(course.org, day(3, 1), apply=True).empty
    log(course.ada, day(8), ai_tool=course.tools[1], task_category=course.cats[1])
    paid = db.session.scalars(select(LedgerEntry.amount).where(
        LedgerEntry.rule_id == weekly.id, LedgerEntry.reverses_id.is_(None)).order_by(LedgerEntry.id)).all()
    assert paid == [5, 6, 6]  # day 0's 5, its recalculated 6, and day 8's
    assert replay(course.org, day(8, 5)).empty
    assert verify_totals() == []
