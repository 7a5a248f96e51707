"""Against a real LRS (Ralph, started by the tests): the four events, triggered through Tinker's own
services, reach the LRS after commit through the outbox; what the LRS stored validates against xAPI 1.0.3
(our checker and Ralph's models); a retry of a delivery never makes a second statement; the LRS's refusals
end up on the status page with its own message."""
from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from sqlalchemy import select, update

from plugin.badges.service import get_or_create_badge
from plugin.catalog.service import items
from plugin.core.actor import Actor, Role
from plugin.extensions import db
from plugin.outbox import service as outbox
from plugin.outbox.models import DONE, FAILED, PENDING, OutboxItem
from plugin.peer_help.service import HELPED_ME, record_help
from plugin.recognition.service import award_badge_manually, give_kudos
from plugin.xapi import service as xapi
from plugin.xapi import statements as S
from tests.services.factories import later, log, make_actor, make_platform
from tests.xapi.spec import problems

ISSUER = "https://lms.example.edu"
BASE = "http://localhost"  # the test app's TINKER_BASE_URL


@dataclass
class World:
    admin: Actor
    manager: Actor
    learner: Actor
    helper: Actor
    badge_id: int


def make_world(email: str | None = None) -> World:
    platform = make_platform(issuer=ISSUER)
    badge = get_or_create_badge(platform.organisation_id, "ai-champion", later(0), name="AI Champion", manual=True,
                                description="Champions careful AI use.")
    return World(admin=make_actor(platform, "admin-1", role=Role.ADMIN),
                 manager=make_actor(platform, "manager-1", role=Role.MANAGER),
                 learner=make_actor(platform, "learner-1", email=email),
                 helper=make_actor(platform, "helper-1"), badge_id=badge.id)


def connect(world: World, lrs, **overrides) -> None:
    data = {"enabled": True, "endpoint": lrs.endpoint, "key": lrs.key, "secret": lrs.secret, **overrides}
    xapi.update_settings(world.admin, xapi.XIn().load(data), later(0))


def the_four_events(world: World) -> dict[str, int]:
    """Each event through the service a page calls; returns the ids of what happened."""
    logged = log(world.learner, later(1), outcome="worked", minutes_saved=20)
    helped = record_help(world.learner, other_user_id=world.helper.user_id, direction=HELPED_ME,
                         description="Showed me how to check an AI summary against the source.", now=later(2))
    award_id = award_badge_manually(world.manager, receiver_id=world.learner.user_id, badge_id=world.badge_id,
                                    comment="Ran a lunch session on prompt hygiene.", now=later(3))
    value = items(world.learner.organisation_id, "values")[0]
    kudos = give_kudos(world.manager, receiver_id=world.learner.user_id, message="Thanks for sharing your prompts.",
                       points=5, value_tag_id=value.id, submission_key="kudos-1", now=later(4))
    db.session.commit()
    return {"experiment": logged.experiment.id, "help": helped.help.id, "award": award_id, "kudos": kudos.id,
            "value": value.name}


def xapi_rows() -> list[OutboxItem]:
    db.session.expire_all()
    return list(db.session.scalars(select(OutboxItem).where(OutboxItem.kind == xapi.KIND).order_by(OutboxItem.id)))


def account(sub: str) -> dict:
    return {"objectType": "Agent", "account": {"homePage": ISSUER, "name": sub}}


def by_key(key: str) -> OutboxItem:
    return next(row for row in xapi_rows() if row.dedupe_key == key)


def test_the_four_events_reach_the_lrs_and_validate(appctx, lrs, ralph_validate):
    world = make_world()
    connect(world, lrs)
    ids = the_four_events(world)
    assert lrs.statements() == []  # nothing is sent inside the transaction
    assert {row.status for row in xapi_rows()} == {PENDING}

    counts = outbox.process_due(later(5))
    rows = xapi_rows()
    assert counts.failed == 0 and counts.retried == 0
    assert [row.status for row in rows] == [DONE] * len(rows)
    assert all(row.note == "stored by the LRS (HTTP 204)" for row in rows)

    stored = {s["id"]: s for s in lrs.statements()}
    assert set(stored) == {row.payload["statement"]["id"] for row in rows}  # one statement per delivery
    sent = {row.dedupe_key: row.payload["statement"] for row in rows}

    experiment = stored[sent[f"xapi:experiment:{ids['experiment']}"]["id"]]
    assert experiment["verb"]["id"] == "http://adlnet.gov/expapi/verbs/attempted"
    assert experiment["actor"] == account("learner-1")
    assert experiment["object"]["id"] == f"{BASE}/xapi/activities/experiments/{ids['experiment']}"
    assert experiment["result"]["success"] is True
    assert experiment["result"]["extensions"][f"{BASE}/xapi/extensions/minutes-saved"] == 20

    help_ = stored[sent[f"xapi:help:{ids['help']}"]["id"]]
    assert help_["verb"]["id"] == f"{BASE}/xapi/verbs/helped"
    assert help_["actor"] == account("helper-1")
    assert help_["object"]["id"] == f"{BASE}/xapi/activities/peer-help/{ids['help']}"
    assert help_["context"]["extensions"][f"{BASE}/xapi/extensions/helped"] == account("learner-1")

    badge = stored[sent[f"xapi:badge:{ids['award']}"]["id"]]
    assert badge["verb"]["id"] == "http://id.tincanapi.com/verb/earned"
    assert badge["actor"] == account("learner-1")
    assert badge["object"]["id"] == f"{BASE}/ob/v2/badges/{world.badge_id}"
    assert badge["object"]["definition"]["name"] == {"und": "AI Champion"}  # an admin's name: language unknown

    kudos = stored[sent[f"xapi:kudos:{ids['kudos']}"]["id"]]
    assert kudos["verb"]["id"] == "http://activitystrea.ms/schema/1.0/receive"
    assert kudos["actor"] == account("learner-1")
    assert kudos["context"]["instructor"] == account("manager-1")
    assert kudos["result"]["extensions"] == {f"{BASE}/xapi/extensions/points": 5,
                                             f"{BASE}/xapi/extensions/value": ids["value"]}

    for statement in stored.values():  # the LRS kept our id and the time the fact happened
        mine = next(s for s in sent.values() if s["id"] == statement["id"])
        assert statement["timestamp"] == mine["timestamp"]
        assert statement["context"]["contextActivities"]["grouping"][0]["id"] == \
            f"{BASE}/xapi/activities/courses/{world.learner.course_id}"
        assert "mbox" not in json.dumps(statement)  # nobody is named by e-mail unless the admin opts in
    assert [problems(s) for s in stored.values()] == [[] for _ in stored]
    assert ralph_validate(list(stored.values())) == [[] for _ in stored]

    # The LRS finds the learner's statements by their LMS account.
    theirs = lrs.statements(agent=json.dumps(account("learner-1")))
    assert {s["verb"]["id"] for s in theirs} >= {S.ADL_ATTEMPTED, S.EARNED, S.RECEIVED}
    assert all(s["actor"] == account("learner-1") for s in theirs)


def test_a_retry_of_a_delivery_that_got_through_does_not_duplicate(appctx, lrs):
    world = make_world()
    connect(world, lrs)
    ids = the_four_events(world)
    outbox.process_due(later(5))
    before = lrs.statements()
    row = by_key(f"xapi:kudos:{ids['kudos']}")
    statement_id = row.payload["statement"]["id"]

    # As if the worker died after the LRS stored it but before the outbox recorded it: sent again.
    db.session.execute(update(OutboxItem).where(OutboxItem.id == row.id).values(status=PENDING,
                                                                                next_attempt_at=later(6)))
    db.session.commit()
    counts = outbox.process_due(later(7))
    assert counts.done == 1 and counts.failed == 0
    assert by_key(row.dedupe_key).status == DONE
    after = lrs.statements()
    assert len(after) == len(before)
    assert [s["id"] for s in after].count(statement_id) == 1
    assert lrs.statement(statement_id)["verb"]["id"] == S.RECEIVED

    # Enqueuing the same fact again is a no-op: one row, one statement.
    from plugin.recognition.models import Kudos

    xapi.kudos_received(db.session.get(Kudos, ids["kudos"]), later(8))
    db.session.commit()
    assert len([r for r in xapi_rows() if r.dedupe_key == row.dedupe_key]) == 1
    outbox.process_due(later(9))
    assert len(lrs.statements()) == len(before)


def test_wrong_secret_fails_with_the_lrs_message_then_the_admin_fixes_it(appctx, lrs):
    world = make_world()
    connect(world, lrs, secret="not-the-secret")
    logged = log(world.learner, later(1))
    db.session.commit()
    outbox.process_due(later(2))
    row = by_key(f"xapi:experiment:{logged.experiment.id}")
    assert row.status == FAILED
    assert "HTTP 401" in row.last_error and "Invalid authentication credentials" in row.last_error
    assert lrs.statements() == []

    connect(world, lrs)  # the right secret
    assert xapi.retry_failed(world.admin, later(3)) >= 1
    db.session.commit()
    outbox.process_due(later(4))
    assert by_key(row.dedupe_key).status == DONE
    assert lrs.statement(row.payload["statement"]["id"]) is not None


def test_a_statement_the_lrs_refuses_fails_with_its_reason(appctx, lrs):
    world = make_world()
    connect(world, lrs)
    logged = log(world.learner, later(1))
    db.session.commit()
    row = by_key(f"xapi:experiment:{logged.experiment.id}")
    broken = {**row.payload, "statement": {**row.payload["statement"], "actor": {"mbox": "not-an-address"}}}
    db.session.execute(update(OutboxItem).where(OutboxItem.id == row.id).values(payload=broken))
    db.session.commit()
    outbox.process_due(later(2))
    row = by_key(row.dedupe_key)
    assert row.status == FAILED and row.attempts == 1
    assert "refused the statement (HTTP 4" in row.last_error and "mailto" in row.last_error


def test_email_opt_in_names_people_by_mailbox_in_the_lrs(appctx, lrs, ralph_validate):
    world = make_world(email="learner@example.edu")
    connect(world, lrs, send_email=True)
    logged = log(world.learner, later(1))
    db.session.commit()
    outbox.process_due(later(2))
    stored = lrs.statement(by_key(f"xapi:experiment:{logged.experiment.id}").payload["statement"]["id"])
    assert stored["actor"] == {"objectType": "Agent", "mbox": "mailto:learner@example.edu",
                               "name": "Person learner-1"}
    assert problems(stored) == [] and ralph_validate([stored]) == [[]]


def test_a_revoked_badge_is_voided_in_the_lrs(appctx, lrs, ralph_validate):
    from plugin.recognition.service import revoke_badge

    world = make_world()
    connect(world, lrs)
    ids = the_four_events(world)
    revoke_badge(world.manager, ids["award"], "Awarded to the wrong person", later(6))
    db.session.commit()
    counts = outbox.process_due(later(7))
    assert counts.failed == 0
    earned = by_key(f"xapi:badge:{ids['award']}").payload["statement"]["id"]
    void = lrs.statement(by_key(f"xapi:void:xapi:badge:{ids['award']}").payload["statement"]["id"])
    assert void["verb"]["id"] == "http://adlnet.gov/expapi/verbs/voided"
    assert void["object"] == {"objectType": "StatementRef", "id": earned}
    assert void["actor"] == account("manager-1")
    assert problems(void) == [] and ralph_validate([void]) == [[]]


@pytest.mark.parametrize("turned", ["off", "never"])
def test_nothing_reaches_the_lrs_when_xapi_is_not_on(appctx, lrs, turned):
    world = make_world()
    if turned == "off":
        connect(world, lrs, enabled=False)
    the_four_events(world)
    outbox.process_due(later(5))
    assert xapi_rows() == [] and lrs.statements() == []
