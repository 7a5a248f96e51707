"""Dimensions, the level ladder and the organisation's limits: defaults, admin edits, validation, audit."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from marshmallow import ValidationError
from sqlalchemy import select

from plugin.audit.models import AuditEvent
from plugin.core.actor import Role
from plugin.errors import Conflict, Forbidden, InvalidInput
from plugin.extensions import db
from plugin.ledger.service import balances
from plugin.levels.ladder import Step
from plugin.levels.service import (
    DEFAULT_LADDER,
    add_dimension,
    dimension_names,
    dimensions,
    ladder,
    progress_of,
    set_levels,
)
from plugin.recognition.service import give_kudos
from plugin.settings.service import LIMIT_FIELDS, Limits, LimitsIn, limits, update_limits
from tests.services.factories import NOW, make_actor, make_platform


@pytest.fixture
def org(appctx):
    platform = make_platform()
    return SimpleNamespace(platform=platform, admin=make_actor(platform, "admin", Role.ADMIN),
                           boss=make_actor(platform, "boss", Role.MANAGER), ada=make_actor(platform, "ada"),
                           id=platform.organisation_id)


def limits_form(org, **changes) -> dict:
    """What the admin form posts: every field, as strings."""
    return {name: str(value) for name, value in {**limits(org.id).__dict__, **changes}.items()}


def audit(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def test_a_new_organisation_has_three_dimensions_and_the_default_ladder(org):
    assert dimension_names(org.id) == {"experimenting": "Experimenting", "helping": "Helping", "sharing": "Sharing"}
    assert ladder(org.id) == [Step(name, threshold) for name, threshold in DEFAULT_LADDER]


@pytest.mark.parametrize("points, level, following, percent, to_next", [
    (0, "Curious", "Explorer", 0, 40),
    (20, "Curious", "Explorer", 50, 20),
    (39, "Curious", "Explorer", 97, 1),
    (40, "Explorer", "Practitioner", 0, 80),
    (100, "Explorer", "Practitioner", 75, 20),
    (599, "Pathfinder", "Catalyst", 99, 1),
    (600, "Catalyst", None, 100, 0),
    (5000, "Catalyst", None, 100, 0),
])
def test_progress_on_the_default_ladder(org, points, level, following, percent, to_next):
    progress = progress_of(org.id, points)
    assert progress.level.name == level
    assert (progress.next.name if progress.next else None) == following
    assert (progress.percent, progress.to_next) == (percent, to_next)


def test_an_admin_replaces_the_ladder(org):
    kudos = give_kudos(org.boss, receiver_id=org.ada.user_id, message="Well done", now=NOW, submission_key="kudos-01",
                       points=30)
    before = balances(org.ada.course_id, org.ada.user_id)
    set_levels(org.admin, [("Sage", 100), ("Beginner", 0), ("  ", 50), ("Adept", 25)])
    db.session.commit()
    assert ladder(org.id) == [Step("Beginner", 0), Step("Adept", 25), Step("Sage", 100)]
    progress = progress_of(org.id, 30)
    assert (progress.level.name, progress.next.name, progress.to_next) == ("Adept", "Sage", 70)
    assert balances(org.ada.course_id, org.ada.user_id) == before and kudos.points == 30  # levels are derived


@pytest.mark.parametrize("steps", [
    [("A", 0), ("B", 10), ("C", 10)],   # thresholds not distinct
    [("A", 5), ("B", 10)],              # does not start at 0
    [("A", 0), ("B", -10)],             # negative
    [],                                  # no level at all
    [("  ", 0)],                        # no name
    [("Explorer", 0), ("Explorer ", 40)],  # two levels of one name: a "level reached" rule could not say which
])
def test_an_invalid_ladder_is_refused_and_the_old_one_kept(org, steps):
    with pytest.raises(InvalidInput) as err:
        set_levels(org.admin, steps)
    assert "levels" in err.value.errors
    assert ladder(org.id) == [Step(name, threshold) for name, threshold in DEFAULT_LADDER]


def test_an_admin_adds_a_dimension(org):
    craft = add_dimension(org.admin, "Prompt craft", "Writing prompts others reuse")
    db.session.commit()
    assert (craft.key, craft.name, craft.position) == ("prompt-craft", "Prompt craft", 3)
    assert [d.key for d in dimensions(org.id)] == ["experimenting", "helping", "sharing", "prompt-craft"]
    with pytest.raises(Conflict):
        add_dimension(org.admin, "Prompt Craft")
    with pytest.raises(InvalidInput):
        add_dimension(org.admin, " !? ")
    give_kudos(org.boss, receiver_id=org.ada.user_id, message="Lovely prompts", now=NOW, submission_key="kudos-02",
               points=5, dimension="prompt-craft")
    assert balances(org.ada.course_id, org.ada.user_id) == {"prompt-craft": 5, "total": 5}
    other = make_platform("https://other-lms.example.com", "client-9", organisation="Org B")
    assert "prompt-craft" not in dimension_names(other.organisation_id)


@pytest.mark.parametrize("name", ["Total", "TOTAL", " total "])
def test_a_dimension_cannot_take_the_name_of_the_total_every_dimension_adds_up_to(org, name):
    """Points in a dimension also go to the total: a dimension keyed "total" would have counted them twice there."""
    with pytest.raises(Conflict):
        add_dimension(org.admin, name)
    assert "total" not in [d.key for d in dimensions(org.id)]


def test_a_dimension_named_with_turkish_letters_keeps_its_name(org):
    dimension = add_dimension(org.admin, "Yardımlaşma")
    assert dimension.name == "Yardımlaşma" and dimension.key
    assert dimension_names(org.id)[dimension.key] == "Yardımlaşma"


def test_a_dimension_named_in_another_script_is_accepted(org):
    dimension = add_dimension(org.admin, "Μάθηση")
    assert dimension_names(org.id)[dimension.key] == "Μάθηση"


@pytest.mark.parametrize("role", [Role.MANAGER, Role.LEARNER])
def test_only_admins_change_dimensions_levels_and_limits(org, role):
    someone = org.boss if role is Role.MANAGER else org.ada
    with pytest.raises(Forbidden):
        add_dimension(someone, "Glory")
    with pytest.raises(Forbidden):
        set_levels(someone, [("Everyone wins", 0)])
    with pytest.raises(Forbidden):
        update_limits(someone, LimitsIn().load(limits_form(org, daily_points_cap=10_000)), NOW)
    assert len(dimensions(org.id)) == 3 and len(ladder(org.id)) == len(DEFAULT_LADDER)
    assert limits(org.id) == Limits()
    assert audit("settings.limits_changed") == []


def test_limits_start_at_the_defaults(org):
    assert limits(org.id) == Limits(daily_points_cap=60, repeat_free_count=3, repeat_factor_percent=50,
                                    duplicate_threshold_percent=80, min_reflection_chars=20,
                                    kudos_monthly_budget=100, help_pair_cap=3, help_pair_window_days=30)


def test_an_admin_changes_limits_and_the_change_is_audited(org):
    changed = update_limits(org.admin, LimitsIn().load(limits_form(org, daily_points_cap=40,
                                                                   kudos_monthly_budget=250)), NOW)
    db.session.commit()
    assert changed == limits(org.id) == Limits(daily_points_cap=40, kudos_monthly_budget=250)
    [event] = audit("settings.limits_changed")
    assert (event.actor_user_id, event.target_id) == (org.admin.user_id, org.id)
    assert event.details == {"daily_points_cap": [60, 40], "kudos_monthly_budget": [100, 250]}
    other = make_platform("https://other-lms.example.com", "client-9", organisation="Org B")
    assert limits(other.organisation_id) == Limits()


def test_two_admins_changing_limits_at_once_are_audited_as_they_happened(appctx, org):
    """Two admins save the limits at the same moment (cap 60 -> 40, then 60 -> 50): the audit log must say the second
    changed 40 to 50, not that both changed 60, which no longer reads as the history of the cap."""
    from tests.services.test_concurrency import while_the_first_waits_to_commit

    admin, other = org.admin, make_actor(org.platform, "admin-2", Role.ADMIN)
    forty, fifty = (LimitsIn().load(limits_form(org, daily_points_cap=cap)) for cap in (40, 50))
    while_the_first_waits_to_commit(appctx, lambda: update_limits(admin, forty, NOW).daily_points_cap,
                                    lambda: update_limits(other, fifty, NOW).daily_points_cap)
    db.session.expire_all()
    assert [e.details for e in audit("settings.limits_changed")] == [{"daily_points_cap": [60, 40]},
                                                                     {"daily_points_cap": [40, 50]}]
    assert limits(org.id).daily_points_cap == 50


def test_a_time_zone_saved_twice_at_once_is_changed_and_rebuilt_once(appctx, org):
    """A double click on Save time zone: the second request finds it set and neither audits the change again nor
    rebuilds the organisation's boards a second time."""
    from plugin.leaderboards.service import change_time_zone
    from tests.services.test_concurrency import while_the_first_waits_to_commit

    admin = org.admin
    results = while_the_first_waits_to_commit(appctx, lambda: change_time_zone(admin, "Europe/Istanbul", NOW),
                                              lambda: change_time_zone(admin, "Europe/Istanbul", NOW))
    db.session.expire_all()
    assert sorted(results) == [False, True]
    assert len(audit("settings.time_zone_changed")) == 1


def test_saving_unchanged_limits_records_nothing(org):
    update_limits(org.admin, LimitsIn().load(limits_form(org)), NOW)
    assert audit("settings.limits_changed") == []


@pytest.mark.parametrize("field, value", [
    ("daily_points_cap", "-1"), ("daily_points_cap", "lots"), ("repeat_free_count", "101"),
    ("repeat_factor_percent", "150"), ("duplicate_threshold_percent", "49"), ("duplicate_threshold_percent", "101"),
    ("min_reflection_chars", "2001"), ("kudos_monthly_budget", "-5"), ("help_pair_cap", "1001"),
    ("help_pair_window_days", "0"), ("help_pair_window_days", "367"),
])
def test_limits_out_of_range_are_refused_by_the_schema(org, field, value):
    with pytest.raises(ValidationError) as err:
        LimitsIn().load(limits_form(org, **{field: value}))
    assert list(err.value.messages) == [field]


def test_every_limit_is_required(org):
    form = limits_form(org)
    form.pop("help_pair_cap")
    with pytest.raises(ValidationError) as err:
        LimitsIn().load(form)
    assert "help_pair_cap" in err.value.messages
    assert set(LimitsIn().fields) == set(LIMIT_FIELDS)


def test_a_level_reached_rule_follows_its_level_when_the_ladder_moves(org):
    """The rule editor names a level ("Explorer"); when the admin moves that level's threshold, the rule moves with
    it (a new version), so its badge comes when the learner's page says they reached the level, not before."""
    from plugin.badges.service import badges_of, get_or_create_badge
    from plugin.rules.definitions import create_rule
    from plugin.rules.models import Rule
    from tests.services.factories import later

    badge = get_or_create_badge(org.id, "explorer-level", NOW, name="Explorer level")
    rule = create_rule(org.id, {"name": "Reached Explorer", "condition": "level_reached", "badge_id": badge.id,
                                "params": {"level": "Explorer", "threshold": 40}, "repeatable": False}, NOW)
    set_levels(org.admin, [("Curious", 0), ("Explorer", 100), ("Catalyst", 600)], now=later(1))
    db.session.commit()
    assert (db.session.get(Rule, rule.id).params["threshold"], db.session.get(Rule, rule.id).version) == (100, 2)

    def held():
        return [b.name for _, b in badges_of(org.ada.course_id, org.ada.user_id)]

    give_kudos(org.boss, receiver_id=org.ada.user_id, message="Well done", now=later(2), submission_key="k-1",
               points=50)
    assert progress_of(org.id, 50).level.name == "Curious" and held() == []
    give_kudos(org.boss, receiver_id=org.ada.user_id, message="Again", now=later(3), submission_key="k-2", points=50)
    assert progress_of(org.id, 100).level.name == "Explorer" and held() == ["Explorer level"]


def test_a_ladder_whose_level_was_named_before_names_were_tidied_saves_and_its_rule_follows(org):
    """A level stored as "Gold  Star" (two spaces, before names were tidied) that an active rule names: the ladder
    sent back as the page shows it is saved (the level is now "Gold Star"), and the rule names the level so too."""
    from sqlalchemy import update

    from plugin.levels.models import Level
    from plugin.rules.definitions import create_rule
    from plugin.rules.models import Rule
    from tests.services.factories import later

    set_levels(org.admin, [("Curious", 0), ("Gold Star", 100)], now=NOW)
    rule = create_rule(org.id, {"name": "Reached Gold", "condition": "level_reached", "points": 5,
                                "params": {"level": "Gold Star", "threshold": 100}, "repeatable": False}, NOW)
    db.session.execute(update(Level).where(Level.organisation_id == org.id, Level.name == "Gold Star").values(
        name="Gold  Star\x07"))  # as stored before: a double space, a stray bell
    db.session.execute(update(Rule).where(Rule.id == rule.id).values(
        params={"level": "Gold  Star\x07", "threshold": 100}))
    db.session.commit()
    set_levels(org.admin, [("Curious", 0), ("Gold  Star\x07", 150)], now=later(1))
    db.session.commit()
    assert [s.name for s in ladder(org.id)] == ["Curious", "Gold Star"]
    assert db.session.get(Rule, rule.id).params == {"level": "Gold Star", "threshold": 150}


def test_a_level_a_reached_rule_names_cannot_be_taken_off_the_ladder(org):
    """Deleting (or renaming) the level an active "level reached" rule names would leave the rule firing at the
    old threshold for a level nobody can see: it is refused, naming the rule; once that rule is switched off the
    level can go, and the rule cannot be switched on again without choosing a level that exists."""
    from plugin.badges.service import badges_of, get_or_create_badge
    from plugin.rules.definitions import create_rule, update_rule
    from tests.services.factories import later

    badge = get_or_create_badge(org.id, "explorer-level", NOW, name="Explorer level")
    rule = create_rule(org.id, {"name": "Reached Explorer", "condition": "level_reached", "badge_id": badge.id,
                                "params": {"level": "Explorer", "threshold": 40}, "repeatable": False}, NOW)
    without_explorer = [("Curious", 0), ("Practitioner", 120), ("Catalyst", 600)]
    db.session.commit()
    with pytest.raises(InvalidInput) as refused:
        set_levels(org.admin, without_explorer, now=later(1))
    assert "Reached Explorer" in refused.value.message and "Explorer" in refused.value.errors["levels"][0]
    db.session.rollback()
    assert [s.name for s in ladder(org.id)] == [name for name, _t in DEFAULT_LADDER]  # nothing changed
    update_rule(org.admin, rule.id, {"active": False}, later(2))
    set_levels(org.admin, without_explorer, now=later(3))
    give_kudos(org.boss, receiver_id=org.ada.user_id, message="Well done", now=later(4), submission_key="k-1",
               points=50)
    assert [b.name for _a, b in badges_of(org.ada.course_id, org.ada.user_id)] == []
    with pytest.raises(InvalidInput) as invalid:
        update_rule(org.admin, rule.id, {"active": True}, later(5))
    assert "params.level" in invalid.value.errors


def test_two_admins_saving_the_ladder_at_once_leave_one_of_their_ladders(org, app):
    """The second save waits for the first and replaces its ladder whole: no server error, no mixed ladder."""
    from tests.services.test_concurrency import while_the_first_waits_to_commit

    admin = org.admin
    first = [("Beginner", 0), ("Adept", 25), ("Sage", 100)]
    second = [("Novice", 0), ("Practitioner", 50), ("Expert", 200)]
    while_the_first_waits_to_commit(app, lambda: len(set_levels(admin, first, NOW)),
                                    lambda: len(set_levels(admin, second, NOW)))
    db.session.expire_all()
    assert ladder(org.id) == [Step(name, threshold) for name, threshold in second]


def test_the_same_dimension_added_twice_at_once_is_one_dimension(org, app):
    """A double click on Add: the second request is told the dimension exists, not shown a server error."""
    from tests.services.test_concurrency import while_the_first_waits_to_commit

    admin = org.admin
    results = while_the_first_waits_to_commit(app, lambda: add_dimension(admin, "Coaching").key,
                                              lambda: add_dimension(admin, "Coaching").key)
    assert results == ["coaching", "refused"]
    assert [d.key for d in dimensions(org.id)].count("coaching") == 1
