"""Rule definitions: admins create and edit rules; every change is a new, snapshotted version, and ledger rows
name the version that produced them."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from plugin.audit.models import AuditEvent
from plugin.badges.models import BadgeAward, BadgeClass
from plugin.core.actor import Role
from plugin.errors import Forbidden, InvalidInput, NotFound
from plugin.extensions import db
from plugin.ledger.models import LedgerEntry
from plugin.levels.service import add_dimension
from plugin.rules.definitions import create_rule, get_rule, update_rule, version_of
from plugin.rules.models import VERSIONED_FIELDS, Rule, RuleVersion
from tests.services.factories import NOW, later, log, make_actor, make_platform

EXPLORER_PLUS = {"name": "Five tools", "description": "Tried five AI tools", "condition": "distinct_tools",
                 "params": {"count": 5}, "points": 25, "dimension": "experimenting", "repeatable": False}


@pytest.fixture
def org(appctx):
    platform = make_platform()
    return SimpleNamespace(platform=platform, admin=make_actor(platform, "admin", Role.ADMIN),
                           boss=make_actor(platform, "boss", Role.MANAGER), ada=make_actor(platform, "ada"),
                           id=platform.organisation_id)


def rows(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def versions(rule_id: int) -> list[RuleVersion]:
    return list(db.session.scalars(select(RuleVersion).where(RuleVersion.rule_id == rule_id)
                                   .order_by(RuleVersion.version)))


def default_rule(org, key: str) -> Rule:
    return db.session.scalar(select(Rule).where(Rule.organisation_id == org.id, Rule.key == key))


def test_creating_a_rule_makes_version_one_and_its_snapshot(org):
    rule = create_rule(org.id, EXPLORER_PLUS, NOW, actor=org.admin)
    db.session.commit()
    assert rule.version == 1 and rule.active is True
    assert rule.params == {"count": 5, "window_days": 0}  # loaded by the condition's schema
    [snapshot] = versions(rule.id)
    assert snapshot.version == 1 and snapshot.created_by_user_id == org.admin.user_id
    assert {f: getattr(snapshot, f) for f in VERSIONED_FIELDS} == {f: getattr(rule, f) for f in VERSIONED_FIELDS}
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "rule.created"))
    assert (event.target_id, event.course_id, event.details) == (rule.id, None, {"name": "Five tools"})


def test_each_change_bumps_the_version_and_keeps_every_snapshot(org):
    rule = create_rule(org.id, EXPLORER_PLUS, NOW, actor=org.admin)
    update_rule(org.admin, rule.id, {"points": 30}, later(1))
    update_rule(org.admin, rule.id, {"name": "Tool collector", "params": {"count": 6}}, later(2))
    db.session.commit()
    assert rule.version == 3
    assert [(v.version, v.name, v.points, v.params["count"]) for v in versions(rule.id)] == [
        (1, "Five tools", 25, 5), (2, "Five tools", 30, 5), (3, "Tool collector", 30, 6)]
    changes = [e.details for e in db.session.scalars(select(AuditEvent).where(AuditEvent.action == "rule.changed")
                                                     .order_by(AuditEvent.id))]
    assert changes == [{"version": 2, "changed": ["points"]}, {"version": 3, "changed": ["name", "params"]}]


def test_an_unchanged_save_makes_no_new_version(org):
    rule = create_rule(org.id, EXPLORER_PLUS, NOW, actor=org.admin)
    update_rule(org.admin, rule.id, dict(EXPLORER_PLUS), later(1))
    update_rule(org.admin, rule.id, {"params": {"count": 5}, "name": "  Five tools  "}, later(2))
    db.session.commit()
    assert rule.version == 1
    assert len(versions(rule.id)) == 1
    assert rows(AuditEvent, AuditEvent.action == "rule.changed") == 0


def test_disabling_a_rule_is_a_version_and_stops_its_awards(org):
    logged = default_rule(org, "logged")
    update_rule(org.admin, logged.id, {"active": False}, NOW)
    assert (logged.version, logged.active) == (2, False)
    result = log(org.ada, later(1))
    assert "Logged an experiment" not in [r.rule_name for r in result.recognitions]
    assert rows(LedgerEntry, LedgerEntry.rule_id == logged.id) == 0


def _invalid_cases(org):
    foreign = make_platform("https://other-lms.example.com", "client-9", organisation="Org B")
    foreign_badge = db.session.scalar(select(BadgeClass.id).where(
        BadgeClass.organisation_id == foreign.organisation_id))
    return {
        "condition": {"condition": "eval(open('x'))"},
        "params.count": {"params": {"count": 0}},
        "params.weeks": {"condition": "active_week_streak", "params": {}},
        "params.outcome": {"condition": "experiment_count", "params": {"count": 1, "outcome": "exploded"}},
        "dimension": {"dimension": "glory"},
        "badge_id": {"badge_id": foreign_badge},
        "points": {"points": 0, "badge_id": None},
        "name": {"name": "   "},
    }


@pytest.mark.parametrize("field", ["condition", "params.count", "params.weeks", "params.outcome", "dimension",
                                   "badge_id", "points", "name"])
def test_an_invalid_rule_is_refused_with_field_errors(org, field):
    fields = {**EXPLORER_PLUS, **_invalid_cases(org)[field]}
    before = rows(Rule), rows(RuleVersion)
    with pytest.raises(InvalidInput) as err:
        create_rule(org.id, fields, NOW, actor=org.admin)
    assert field in err.value.errors
    assert (rows(Rule), rows(RuleVersion)) == before


@pytest.mark.parametrize("guard", ["cooldown_days", "cap_count", "cap_window_days"])
def test_negative_guards_are_refused(org, guard):
    with pytest.raises(InvalidInput) as err:
        create_rule(org.id, {**EXPLORER_PLUS, guard: -1}, NOW, actor=org.admin)
    assert guard in err.value.errors


def test_negative_points_are_refused(org):
    with pytest.raises(InvalidInput) as err:
        create_rule(org.id, {**EXPLORER_PLUS, "points": -5}, NOW, actor=org.admin)
    assert "points" in err.value.errors


def test_an_invalid_edit_changes_nothing(org):
    rule = create_rule(org.id, EXPLORER_PLUS, NOW, actor=org.admin)
    db.session.commit()
    with pytest.raises(InvalidInput) as err:
        update_rule(org.admin, rule.id, {"params": {"count": "many"}, "dimension": "glory"}, later(1))
    assert {"params.count", "dimension"} <= set(err.value.errors)
    db.session.commit()
    db.session.expire_all()
    rule = db.session.get(Rule, rule.id)
    assert len(versions(rule.id)) == 1
    assert (rule.version, rule.params["count"], rule.dimension) == (1, 5, "experimenting")


def test_a_rule_may_give_only_a_badge_or_use_a_new_dimension(org):
    badge_id = db.session.scalar(select(BadgeClass.id).where(BadgeClass.organisation_id == org.id,
                                                             BadgeClass.slug == "explorer"))
    only_badge = create_rule(org.id, {**EXPLORER_PLUS, "points": 0, "badge_id": badge_id}, NOW, actor=org.admin)
    assert (only_badge.points, only_badge.badge_id) == (0, badge_id)
    craft = add_dimension(org.admin, "Prompt craft")
    in_craft = create_rule(org.id, {**EXPLORER_PLUS, "name": "Explorer in craft", "dimension": craft.key}, NOW, actor=org.admin)
    assert in_craft.dimension == "prompt-craft"


@pytest.mark.parametrize("role", [Role.MANAGER, Role.LEARNER, Role.OBSERVER])
def test_only_admins_create_and_change_rules(org, role):
    someone = make_actor(org.platform, f"someone-{role.value}", role)
    with pytest.raises(Forbidden):
        create_rule(org.id, EXPLORER_PLUS, NOW, actor=someone)
    logged = default_rule(org, "logged")
    with pytest.raises(Forbidden):
        update_rule(someone, logged.id, {"points": 1000}, NOW)
    assert (logged.points, logged.version) == (10, 1)


def test_an_admin_cannot_reach_another_organisations_rule(org):
    other = make_platform("https://other-lms.example.com", "client-9", organisation="Org B")
    their_admin = make_actor(other, "admin", Role.ADMIN)
    with pytest.raises(NotFound):
        update_rule(their_admin, default_rule(org, "logged").id, {"points": 0}, NOW)
    with pytest.raises(NotFound):
        get_rule(their_admin, default_rule(org, "logged").id)


def test_ledger_rows_carry_the_rule_version_that_produced_them(org):
    logged = default_rule(org, "logged")
    first = log(org.ada).experiment
    update_rule(org.admin, logged.id, {"points": 12}, later(1))
    second = log(org.ada, later(2)).experiment
    db.session.commit()
    made = {e.source_id: (e.rule_id, e.rule_version, e.amount) for e in db.session.scalars(
        select(LedgerEntry).where(LedgerEntry.rule_id == logged.id))}
    assert made == {first.id: (logged.id, 1, 10), second.id: (logged.id, 2, 12)}
    assert (version_of(logged.id, 1).points, version_of(logged.id, 2).points) == (10, 12)
    first_try = default_rule(org, "first-try")
    award = db.session.scalar(select(BadgeAward).where(BadgeAward.rule_id == first_try.id))
    assert (award.rule_version, award.source_id) == (1, first.id)


@pytest.mark.parametrize("condition, params, field", [
    # "Experimenting" is the dimension's name; rules name dimensions by key: no total would ever match it.
    ("points_in_dimension", {"dimension": "Experimenting", "points": 50}, "params.dimension"),
    ("level_reached", {"level": "Expert", "threshold": 300}, "params.level"),  # no such level on the ladder
])
def test_a_threshold_rule_naming_nothing_the_organisation_has_is_refused(org, condition, params, field):
    """Saved, such a rule would silently never fire (or fire at a level nobody sees): refuse it, naming the field."""
    with pytest.raises(InvalidInput) as err:
        create_rule(org.id, {"name": "Never fires", "condition": condition, "params": params, "points": 5}, NOW,
                    actor=org.admin)
    assert field in err.value.errors
    assert rows(Rule, Rule.name == "Never fires") == 0


def test_two_admins_saving_the_same_rule_at_once_both_get_a_version(org, app):
    """Two tabs (or two admins) save one rule at once: the second must build on what the first saved, as its own
    next version, not collide with it on the version number (a server error, the save lost)."""
    from tests.services.test_concurrency import while_the_first_waits_to_commit

    rule_id, admin = create_rule(org.id, EXPLORER_PLUS, NOW, actor=org.admin).id, org.admin
    while_the_first_waits_to_commit(app, lambda: update_rule(admin, rule_id, {"points": 30}, later(1)).version,
                                    lambda: update_rule(admin, rule_id, {"name": "Tool collector"}, later(2)).version)
    db.session.expire_all()
    rule = db.session.get(Rule, rule_id)
    assert [v.version for v in versions(rule_id)] == [1, 2, 3] and rule.version == 3
    assert (rule.points, rule.name) == (30, "Tool collector")
