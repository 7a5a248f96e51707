"""The organisation's configuration kept in memory between awards (plugin/tenancy/config_cache.py): only a
cache, checked against `organisation.config_version`, which database triggers move with every write to the
configuration, so a change made through another instance (another engine, plain SQL) is seen by the next award."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import select, update

from plugin.extensions import db
from plugin.ledger.service import balance
from plugin.rules.models import Rule
from plugin.settings.models import OrganisationSettings
from plugin.tenancy.config_cache import CONFIG_TABLES
from plugin.tenancy.models import Organisation
from plugin.webhooks.models import WebhookEndpoint
from plugin.xapi.models import XapiSetting
from tests.services.factories import NOW, later, log, make_actor, make_platform


def _version(organisation_id: int) -> int:
    return db.session.scalar(select(Organisation.config_version).where(Organisation.id == organisation_id))


def _statements():
    """The SQL sent while the block runs (a list filled in place)."""
    sent: list[str] = []

    def listen(_conn, _cursor, statement, *_args):
        sent.append(" ".join(statement.split()))

    return sent, listen


def _no_discount_or_cap(organisation_id: int) -> None:
    db.session.execute(update(OrganisationSettings).where(OrganisationSettings.organisation_id == organisation_id)
                       .values(repeat_free_count=100, daily_points_cap=10_000))
    db.session.commit()


def _award_sql(actor, minutes: int) -> tuple[object, list[str]]:
    sent, listen = _statements()
    sa.event.listen(db.engine, "before_cursor_execute", listen)
    try:
        logged = log(actor, later(minutes))
        db.session.commit()
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", listen)
    return logged, sent


def _reads(sent: list[str], table: str) -> bool:
    return any(s.startswith("SELECT") and f" FROM {table} " in f"{s} " for s in sent)


def _other_instance(app):
    """A second engine on the same database: what another app instance (or an operator's psql) would use."""
    return sa.create_engine(str(db.engine.url.render_as_string(hide_password=False)))


def test_every_write_to_the_cached_configuration_moves_the_version(appctx):
    platform = make_platform()
    org = platform.organisation_id
    db.session.commit()
    seen = {_version(org)}
    assert 0 not in seen

    def moved():
        db.session.flush()
        version = _version(org)
        assert version not in seen
        seen.add(version)

    db.session.execute(update(OrganisationSettings).where(OrganisationSettings.organisation_id == org)
                       .values(daily_points_cap=5))
    moved()
    rule = db.session.scalar(select(Rule).where(Rule.organisation_id == org, Rule.key == "logged"))
    rule.points = 11
    moved()
    db.session.execute(sa.insert(XapiSetting).values(organisation_id=org, enabled=False, updated_at=NOW))
    moved()
    endpoint = WebhookEndpoint(organisation_id=org, url="https://hooks.example/x", secret_encrypted="",
                               events=["experiment.logged"], active=True, created_at=NOW, updated_at=NOW)
    db.session.add(endpoint)
    moved()
    db.session.delete(endpoint)
    moved()
    assert set(CONFIG_TABLES) == {"organisation_settings", "rule", "xapi_setting", "webhook_endpoint"}
    db.session.commit()


def test_awards_read_the_configuration_from_memory_until_another_instance_changes_a_rule(appctx):
    platform = make_platform()
    learner = make_actor(platform, "learner-a")
    db.session.commit()
    _no_discount_or_cap(learner.organisation_id)
    first, sent = _award_sql(learner, 1)
    assert sum(r.points for r in first.recognitions) >= 10
    _, sent = _award_sql(learner, 2)
    assert not _reads(sent, "rule") and not _reads(sent, "organisation_settings")  # from memory

    other = _other_instance(appctx)
    with other.begin() as conn:  # another instance raises the points of the "logged" rule and commits
        conn.execute(update(Rule).where(Rule.organisation_id == learner.organisation_id, Rule.key == "logged")
                     .values(points=25))
    other.dispose()
    third, sent = _award_sql(learner, 3)
    assert _reads(sent, "rule")
    logged = [r for r in third.recognitions if r.rule_name == "Logged an experiment"]
    assert logged and logged[0].points == 25
    fourth, sent = _award_sql(learner, 4)
    assert not _reads(sent, "rule")
    assert [r.points for r in fourth.recognitions if r.rule_name == "Logged an experiment"] == [25]


def test_limits_lowered_by_another_instance_hold_at_the_next_award(appctx):
    platform = make_platform()
    learner = make_actor(platform, "learner-a")
    db.session.commit()
    _no_discount_or_cap(learner.organisation_id)
    _award_sql(learner, 1)
    _award_sql(learner, 2)  # limits are in memory now
    before = balance(learner.course_id, learner.user_id)
    db.session.commit()
    other = _other_instance(appctx)
    with other.begin() as conn:  # the daily cap is what the learner already has today: no more points today
        conn.execute(update(OrganisationSettings).where(
            OrganisationSettings.organisation_id == learner.organisation_id).values(daily_points_cap=before))
    other.dispose()
    _award_sql(learner, 3)
    assert balance(learner.course_id, learner.user_id) == before


def test_a_rule_changed_earlier_in_the_same_transaction_counts_for_its_award(appctx):
    platform = make_platform()
    learner = make_actor(platform, "learner-a")
    db.session.commit()
    _no_discount_or_cap(learner.organisation_id)
    _award_sql(learner, 1)
    _award_sql(learner, 2)
    rule = db.session.scalar(select(Rule).where(Rule.organisation_id == learner.organisation_id, Rule.key == "logged"))
    rule.points = 3
    logged = log(learner, later(3))
    assert [r.points for r in logged.recognitions if r.rule_name == "Logged an experiment"] == [3]
    db.session.rollback()  # never committed: the next award is back to the stored rule
    db.session.expunge_all()  # as the request's end would (the rolled-back experiment's id is free again)
    logged = log(learner, later(4))
    assert [r.points for r in logged.recognitions if r.rule_name == "Logged an experiment"] == [10]
    db.session.commit()
