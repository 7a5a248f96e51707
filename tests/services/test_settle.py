"""Settling a person's rule awards when a kudos they received is revoked (plugin/replay/settle.py): what the kudos
made is taken back, what it moved or kept from them is given, whatever rule changes happened since; a once-only
award unearned so is earned again, each time under a key of its own. Cases found by an adversarial review of the
first version (2026-12-02), which compared simulations alone and never gave what the kudos had kept from them."""
from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest

from plugin.badges.service import get_or_create_badge
from plugin.core.actor import Role
from plugin.extensions import db
from plugin.ledger.service import balance, verify_totals
from plugin.privacy.export import export_person
from plugin.recognition.service import revoke_kudos
from plugin.replay.service import replay
from plugin.rules.definitions import create_rule, update_rule
from tests.services.factories import NOW, later, log, make_actor, make_platform
from tests.services.test_kudos_and_badges import badge_names, kudos


@pytest.fixture
def course(appctx):
    platform = make_platform()
    return SimpleNamespace(platform=platform, boss=make_actor(platform, "boss", Role.MANAGER),
                           admin=make_actor(platform, "admin", Role.ADMIN), ada=make_actor(platform, "ada"))


def points(actor) -> int:
    return balance(actor.course_id, actor.user_id)


def test_a_level_the_kudos_crossed_goes_though_part_of_the_points_came_from_a_rule_switched_off_since(course):
    """Ada's 30 points: 10 for an experiment, 20 from a launch-week rule switched off since. A 10-point kudos takes her
    to the 40-point level. The kudos is revoked: she is at 30, below the level, so its points and badge go, although
    the rules as they are now (the campaign off) never gave her the level with the kudos or without it."""
    _campaign_and_level(course, 20)
    assert points(course.ada) == 30
    given = kudos(course.boss, course.ada, 10, "kudos-level-00001", later(2))
    assert "Explorer level" in badge_names(course.ada) and points(course.ada) == 45
    revoke_kudos(course.boss, given.id, "Meant for someone else", later(3))
    db.session.commit()
    assert points(course.ada) == 30
    assert "Explorer level" not in badge_names(course.ada)
    assert verify_totals() == []
    # Her export tells the level's badge, unearned (she may earn it again), from one a manager revoked.
    [level] = [a for a in export_person(course.ada.organisation_id, course.ada.user_id)["badge_awards"]
               if a["badge"] == "Explorer level"]
    assert (level["revoked_reason"], level["unearned"]) == ("Meant for someone else", True)


def test_what_a_rule_paid_for_the_revoked_kudos_goes_after_the_rule_was_capped_since(course):
    """"Each kudos" paid 5 for each of two kudos; the admin then capped it at one a month (no recalculation). Revoking
    the second takes back the 5 it paid: the cap does not make that award the first kudos' one."""
    org = course.ada.organisation_id
    each = create_rule(org, {"name": "Each kudos", "condition": "each_kudos", "params": {}, "points": 5,
                             "dimension": "experimenting", "repeatable": True}, NOW)
    kudos(course.boss, course.ada, 0, "kudos-cap-000001", later(1))
    second = kudos(course.boss, course.ada, 0, "kudos-cap-000002", later(2))
    assert points(course.ada) == 10
    update_rule(course.admin, each.id, {"cap_count": 1, "cap_window_days": 30}, later(3))
    revoke_kudos(course.boss, second.id, "Meant for someone else", later(4))
    db.session.commit()
    assert points(course.ada) == 5
    assert verify_totals() == []


def test_a_windowed_threshold_the_revoked_kudos_reached_first_moves_to_the_kudos_that_reaches_it_now(course):
    """"Two kudos in 30 days", repeatable, paid on the second of three kudos. Revoking the first: the second and third
    still make two in the window, so Ada keeps 15 points, now for the third; a replay has nothing to add."""
    org = course.ada.organisation_id
    create_rule(org, {"name": "Two kudos a month", "condition": "kudos_received",
                      "params": {"count": 2, "window_days": 30}, "points": 15, "dimension": "experimenting",
                      "repeatable": True}, NOW)
    first = kudos(course.boss, course.ada, 0, "kudos-win-000001", later(1))
    kudos(course.boss, course.ada, 0, "kudos-win-000002", later(2))
    kudos(course.boss, course.ada, 0, "kudos-win-000003", later(3))
    assert points(course.ada) == 15
    revoke_kudos(course.boss, first.id, "Meant for someone else", later(4))
    db.session.commit()
    assert points(course.ada) == 15
    assert replay(org, later(5)).empty
    assert verify_totals() == []


def test_a_kudos_a_cooldown_kept_unpaid_is_paid_when_the_kudos_before_it_is_revoked(course):
    """"Each kudos" with a 7-day cooldown: the first kudos paid, the second (two days later) did not. Revoking the
    first pays the second, as the rules would have without the first; a replay then has nothing to change."""
    org = course.ada.organisation_id
    create_rule(org, {"name": "Each kudos", "condition": "each_kudos", "params": {}, "points": 5,
                      "dimension": "experimenting", "repeatable": True, "cooldown_days": 7}, NOW)
    first = kudos(course.boss, course.ada, 0, "kudos-cool-00001", NOW + timedelta(days=1))
    kudos(course.boss, course.ada, 0, "kudos-cool-00002", NOW + timedelta(days=3))
    assert points(course.ada) == 5
    revoke_kudos(course.boss, first.id, "Meant for someone else", NOW + timedelta(days=4))
    db.session.commit()
    assert points(course.ada) == 5
    assert replay(org, NOW + timedelta(days=5)).empty
    assert verify_totals() == []


def test_a_once_only_award_earned_a_third_time_has_a_key_of_its_own(course):
    """"Recognised" (first a badge, then 5 points and no badge) is unearned twice by revoked kudos: each earning is a
    new award, the third too (the key counted from what was unearned repeated the second's, and its points were lost
    without a word)."""
    org = course.ada.organisation_id
    medal = get_or_create_badge(org, "recognised", NOW, name="Recognised")
    rule = create_rule(org, {"name": "Recognised", "condition": "kudos_received", "params": {"count": 1},
                             "points": 0, "badge_id": medal.id, "repeatable": False}, NOW)
    first = kudos(course.boss, course.ada, 0, "kudos-first-0001", later(1))
    revoke_kudos(course.boss, first.id, "Meant for someone else", later(2))
    update_rule(course.admin, rule.id, {"points": 5, "dimension": "experimenting", "badge_id": None}, later(3))
    second = kudos(course.boss, course.ada, 0, "kudos-second-001", later(4))
    assert points(course.ada) == 5
    revoke_kudos(course.boss, second.id, "Meant for someone else", later(5))
    assert points(course.ada) == 0
    kudos(course.boss, course.ada, 0, "kudos-third-0001", later(6))
    db.session.commit()
    assert points(course.ada) == 5
    assert replay(org, later(7)).empty
    assert verify_totals() == []


def test_what_the_kudos_rules_gave_a_receiver_made_staff_since_goes_with_the_kudos(course):
    org = course.ada.organisation_id
    create_rule(org, {"name": "Each kudos", "condition": "each_kudos", "params": {}, "points": 5,
                      "dimension": "experimenting", "repeatable": True}, NOW)
    given = kudos(course.boss, course.ada, 0, "kudos-ta-0000001", later(1))
    assert points(course.ada) == 5
    make_actor(course.platform, "ada", Role.MANAGER)  # she launches as a TA now
    revoke_kudos(course.boss, given.id, "Given by mistake", later(2))
    db.session.commit()
    assert points(course.ada) == 0


def test_the_boards_agree_with_a_rebuild_after_a_settlement_pays_an_award_of_an_earlier_month(course):
    """Settling pays the kudos a cooldown had kept unpaid, weeks later: the boards count it when it is posted, as a
    rebuild from the ledger does (it was booked in its kudos' month, which a rebuild then moved)."""
    from plugin.leaderboards.rebuild import verify

    org = course.ada.organisation_id
    create_rule(org, {"name": "Each kudos", "condition": "each_kudos", "params": {}, "points": 5,
                      "dimension": "experimenting", "repeatable": True, "cooldown_days": 7}, NOW)
    first = kudos(course.boss, course.ada, 0, "kudos-brd-000001", NOW + timedelta(days=1))
    kudos(course.boss, course.ada, 0, "kudos-brd-000002", NOW + timedelta(days=3))
    revoke_kudos(course.boss, first.id, "Meant for someone else", NOW + timedelta(days=40))
    db.session.commit()
    assert points(course.ada) == 5
    assert verify_totals() == []
    assert verify(org) == {}


def test_a_badge_a_manager_revoked_is_not_given_back_by_settling_another_kudos(course):
    """A manager revoked Ada's "Kudos pair" badge (traded kudos). Revoking another kudos moves the rule's award to a
    later kudos: the badge stays revoked, as a replay leaves it."""
    from sqlalchemy import select

    from plugin.badges.models import BadgeAward
    from plugin.recognition.service import revoke_badge

    org = course.ada.organisation_id
    pair = get_or_create_badge(org, "kudos-pair", NOW, name="Kudos pair")
    create_rule(org, {"name": "Two kudos a month", "condition": "kudos_received",
                      "params": {"count": 2, "window_days": 30}, "points": 15, "badge_id": pair.id,
                      "dimension": "sharing", "repeatable": True}, NOW)
    first = kudos(course.boss, course.ada, 0, "kudos-mgr-000001", NOW + timedelta(days=1))
    kudos(course.boss, course.ada, 0, "kudos-mgr-000002", NOW + timedelta(days=2))
    award = db.session.scalar(select(BadgeAward).where(BadgeAward.badge_id == pair.id))
    revoke_badge(course.boss, award.id, "Traded kudos with a friend", NOW + timedelta(days=3))
    kudos(course.boss, course.ada, 0, "kudos-mgr-000003", NOW + timedelta(days=4))
    assert "Kudos pair" not in badge_names(course.ada)
    revoke_kudos(course.boss, first.id, "Meant for someone else", NOW + timedelta(days=5))
    db.session.commit()
    assert "Kudos pair" not in badge_names(course.ada)


def test_settling_reads_the_receivers_kudos_through_indexes_not_the_whole_ledger(course):
    """PostgreSQL: simulating one receiver's awards (twice a revocation, under their row lock) reads no table whole
    (it joined every kudos' entry by source over the installation's whole ledger)."""


    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's plans")
    bo = make_actor(course.platform, "bo")
    conn = db.session.connection()
    conn.exec_driver_sql(f"""
        INSERT INTO ledger_entry (idempotency_key, organisation_id, course_id, user_id, amount, dimension, rule_id,
                                  rule_version, source_type, source_id, reverses_id, created_at)
        SELECT 'fill:' || g, {bo.organisation_id}, {bo.course_id}, {bo.user_id}, 5, 'experimenting', NULL, NULL,
               'kudos', g, NULL, now() FROM generate_series(1, 20000) g""")
    for n in range(3):
        kudos(course.boss, course.ada, 0, f"kudos-plan-0000{n}", later(n))
    conn.exec_driver_sql("ANALYZE")
    sent = [(statement, parameters) for statement, parameters in _selects_settling(course.ada) if "kudos" in statement]
    assert sent
    for statement, parameters in sent:
        plan = "\n".join(row[0] for row in conn.exec_driver_sql("EXPLAIN " + statement, parameters).all())
        assert "Seq Scan on ledger_entry" not in plan, plan


def _campaign_and_level(course, campaign_points: int, end=update_rule):
    """The 40-point Explorer level (5 points and a badge) and a launch-week rule paying `campaign_points` on the first
    experiment, switched off after Ada's first experiment (`end`: delete_rule archives it instead)."""
    org = course.ada.organisation_id
    level = get_or_create_badge(org, "explorer-level", NOW, name="Explorer level")
    create_rule(org, {"name": "Reached Explorer", "condition": "level_reached",
                      "params": {"level": "Explorer", "threshold": 40}, "points": 5, "badge_id": level.id,
                      "repeatable": False}, NOW)
    campaign = create_rule(org, {"name": "Launch week bonus", "condition": "experiment_count",
                                 "params": {"count": 1}, "points": campaign_points, "dimension": "experimenting",
                                 "repeatable": False}, NOW)
    log(course.ada, NOW)
    if end is update_rule:
        update_rule(course.admin, campaign.id, {"active": False}, later(1))
    else:
        end(course.admin, campaign.id, later(1))


def test_a_level_still_met_without_the_revoked_kudos_stays(course):
    """Ada: 10 for an experiment and 25 from a launch-week rule switched off since; a 10-point kudos takes her to
    the 40-point level (its award names the kudos); another experiment takes her to 60. Without the kudos she has 45,
    still above the level: it stays, badge and points (the rules' simulation left the campaign's points out)."""
    from plugin.catalog.service import items

    _campaign_and_level(course, 25)
    given = kudos(course.boss, course.ada, 10, "kudos-keep-00001", later(2))
    assert "Explorer level" in badge_names(course.ada)
    log(course.ada, later(3), task_category=items(course.ada.organisation_id, "categories")[2].id)
    assert points(course.ada) == 60
    revoke_kudos(course.boss, given.id, "Meant for someone else", later(4))
    db.session.commit()
    assert points(course.ada) == 50 and "Explorer level" in badge_names(course.ada)
    assert verify_totals() == []


def test_a_replay_keeps_a_level_reached_with_an_archived_campaigns_points(course):
    """A level reached partly with the points of a rule archived since (what it gave stays as given) is still met: a
    recalculation with no rule changed leaves it (it took it back: its simulation counted only the active rules'
    points). A rule switched off but not archived is in a replay's reach: its points and what they reached go."""
    from plugin.rules.definitions import delete_rule

    _campaign_and_level(course, 25, end=delete_rule)
    kudos(course.boss, course.ada, 10, "kudos-keep-00002", later(2))
    assert points(course.ada) == 50 and "Explorer level" in badge_names(course.ada)
    report = replay(course.ada.organisation_id, later(3))
    assert report.points == [] and report.lost_badges == []


def test_settling_gives_an_erased_account_nothing_new(course):
    """Ada's account is erased; a kudos she received before is revoked. What the kudos made goes, but the award it had
    kept from her (a cooldown it filled) is not given to the erased account, as no kudos or badge can be any more."""
    from sqlalchemy import func, select

    from plugin.badges.models import BadgeAward
    from plugin.privacy.erase import erase_person

    org = course.ada.organisation_id
    thanks = get_or_create_badge(org, "thanked", NOW, name="Thanked")
    create_rule(org, {"name": "Each kudos", "condition": "each_kudos", "params": {}, "points": 5,
                      "badge_id": thanks.id, "dimension": "experimenting", "repeatable": True,
                      "cooldown_days": 7}, NOW)
    first = kudos(course.boss, course.ada, 0, "kudos-era-000001", NOW + timedelta(days=1))
    kudos(course.boss, course.ada, 0, "kudos-era-000002", NOW + timedelta(days=3))
    erase_person(course.admin, course.ada.user_id, NOW + timedelta(days=4))

    def awards() -> int:
        return db.session.scalar(select(func.count()).select_from(BadgeAward).where(
            BadgeAward.user_id == course.ada.user_id))

    before = awards()
    revoke_kudos(course.boss, first.id, "Given by mistake", NOW + timedelta(days=5))
    db.session.commit()
    assert awards() == before
    assert points(course.ada) == 0
    assert verify_totals() == []


def test_settling_reads_the_receivers_rows_alone_however_large_the_organisation(course):
    """PostgreSQL: what settling one receiver's kudos reads (twice a revocation, under their row lock) stays theirs as
    the organisation grows: a manager's revocations of everyone in the installation and every learner membership of
    the organisation were read and then filtered (found after the settlement landed, 2026-12-02)."""
    import re

    import sqlalchemy as sa

    from plugin.rules.models import Rule

    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's plans")
    bo = make_actor(course.platform, "bo")
    org = bo.organisation_id
    rule_id = db.session.scalar(sa.select(Rule.id).where(Rule.organisation_id == org).limit(1))
    conn = db.session.connection()
    # 3,000 other learners in the course, and 3,000 of Bo's rule awards a manager revoked.
    conn.exec_driver_sql(f"""
        WITH people AS (INSERT INTO user_account (platform_id, sub, created_at)
                        SELECT {course.platform.id}, 'crowd-' || g, now() FROM generate_series(1, 3000) g
                        RETURNING id)
        INSERT INTO membership (course_id, user_id, role, lti_roles, created_at)
        SELECT {bo.course_id}, id, 'learner', '', now() FROM people""")
    conn.exec_driver_sql(f"""
        WITH given AS (INSERT INTO ledger_entry (idempotency_key, organisation_id, course_id, user_id, amount,
                                                 dimension, rule_id, rule_version, source_type, source_id,
                                                 created_at)
                       SELECT 'fill:' || g, {org}, {bo.course_id}, {bo.user_id}, 5, 'experimenting', {rule_id}, 1,
                              'experiment', g, now() FROM generate_series(1, 3000) g
                       RETURNING id, rule_id, source_id)
        INSERT INTO ledger_entry (idempotency_key, organisation_id, course_id, user_id, amount, dimension, rule_id,
                                  rule_version, source_type, source_id, reverses_id, created_at)
        SELECT 'revoke:fill:' || id, {org}, {bo.course_id}, {bo.user_id}, -5, 'experimenting', rule_id, 1,
               'experiment', source_id, id, now() FROM given""")
    kudos(course.boss, course.ada, 0, "kudos-rows-000001", later(1))
    conn.exec_driver_sql("ANALYZE")
    sent = _selects_settling(course.ada)
    assert any("reverses_id" in statement for statement, _ in sent)
    assert any("membership" in statement for statement, _ in sent)
    for statement, parameters in sent:
        plan = "\n".join(row[0] for row in conn.exec_driver_sql("EXPLAIN ANALYZE " + statement, parameters).all())
        rows = [int(n) for n in re.findall(r"rows=(\d+) loops", plan)]
        removed = [int(n) for n in re.findall(r"Rows Removed by (?:Filter|Join Filter|Index Recheck): (\d+)", plan)]
        assert max(rows + removed, default=0) < 100, plan


def _selects_settling(person) -> list[tuple[str, object]]:
    """The SELECT statements (with their parameters) simulating the person's awards sends, as settling a kudos they
    received does twice."""
    import sqlalchemy as sa

    from plugin.replay.settle import person_awards

    sent = []

    def listen(_conn, _cursor, statement, parameters, *_args):
        if statement.lstrip().upper().startswith("SELECT"):
            sent.append((statement, parameters))

    sa.event.listen(db.engine, "before_cursor_execute", listen)
    try:
        person_awards(person.organisation_id, person.course_id, person.user_id)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", listen)
    return sent
