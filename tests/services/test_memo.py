"""The per-transaction memo (plugin/core/memo.py): the award path reads settings, rules, a membership and
teams once per transaction, and a write in the same transaction, by whatever route, is seen at once."""
from __future__ import annotations

from sqlalchemy import select, update

from plugin.core import memo
from plugin.extensions import db
from plugin.leaderboards.aggregates import eligible, team_ids_of
from plugin.ledger.service import balance
from plugin.rules import service as rules
from plugin.rules.models import Rule
from plugin.settings.models import OrganisationSettings
from plugin.settings.service import limits, time_zone_name
from plugin.teams.models import Team, TeamMember
from plugin.tenancy.models import Membership
from plugin.tenancy.service import standing
from tests.services.factories import NOW, log, make_actor, make_platform


def _store():
    return db.session().info.get("tinker_memo") or {}


def test_a_value_is_read_once_per_transaction_and_dropped_at_commit(appctx):
    platform = make_platform()
    db.session.commit()
    calls = []

    def read():
        calls.append(db.session.scalar(select(1)))
        return len(calls)

    assert memo.remember(db.session, ("k",), ("rule",), read) == 1
    assert memo.remember(db.session, ("k",), ("rule",), read) == 1
    db.session.commit()
    assert _store() == {}
    assert memo.remember(db.session, ("k",), ("rule",), read) == 2
    db.session.rollback()
    assert _store() == {}
    assert platform.id


def test_a_savepoint_released_keeps_the_memo_and_one_rolled_back_drops_it(appctx):
    make_platform()
    db.session.commit()
    memo.remember(db.session, ("k",), ("rule",), lambda: db.session.scalar(select(1)))
    with db.session.begin_nested():
        pass
    assert ("k",) in _store()
    savepoint = db.session.begin_nested()
    savepoint.rollback()
    assert ("k",) not in _store()


def test_limits_changed_in_the_transaction_are_seen_whichever_way_they_are_written(appctx):
    platform = make_platform()
    org = platform.organisation_id
    db.session.commit()
    assert limits(org).daily_points_cap == 60
    # Core UPDATE through the session
    db.session.execute(update(OrganisationSettings).where(OrganisationSettings.organisation_id == org)
                       .values(daily_points_cap=7, time_zone="Europe/Istanbul"))
    assert limits(org).daily_points_cap == 7
    assert time_zone_name(org) == "Europe/Istanbul"
    # an ORM change, not yet flushed: the next read flushes it first, as a query would
    row = db.session.get(OrganisationSettings, org)
    row.daily_points_cap = 9
    assert limits(org).daily_points_cap == 9
    db.session.rollback()
    assert limits(org).daily_points_cap == 60


def test_a_membership_or_team_change_in_the_transaction_is_seen(appctx):
    platform = make_platform()
    learner = make_actor(platform, "learner-a")
    db.session.commit()
    assert eligible(learner.course_id, learner.user_id)
    assert team_ids_of(learner.course_id, learner.user_id) == []
    membership = db.session.scalar(select(Membership).where(Membership.course_id == learner.course_id,
                                                            Membership.user_id == learner.user_id))
    membership.test_user = True
    assert not eligible(learner.course_id, learner.user_id)
    assert standing(learner.course_id, learner.user_id).test_user is True
    team = Team(course_id=learner.course_id, name="Blue", created_at=NOW)
    db.session.add(team)
    db.session.flush()
    db.session.add(TeamMember(team_id=team.id, user_id=learner.user_id))
    assert team_ids_of(learner.course_id, learner.user_id) == [team.id]
    db.session.rollback()


def test_a_rule_switched_off_in_the_transaction_no_longer_awards(appctx):
    platform = make_platform()
    learner = make_actor(platform, "learner-a")
    db.session.commit()
    log(learner)
    assert balance(learner.course_id, learner.user_id) == 10
    rule = db.session.scalar(select(Rule).where(Rule.organisation_id == learner.organisation_id,
                                                Rule.key == "logged"))
    rule.active = False  # memoised active rules must not outlive this change
    log(learner, NOW.replace(hour=10))
    assert balance(learner.course_id, learner.user_id) == 10
    assert all(a.spec.id != rule.id for a in rules._active(learner.organisation_id))
    db.session.rollback()
