"""Which events are queued, for whom, carrying what: only subscribed, active endpoints of the fact's
organisation get a delivery; bodies carry ids and names, never what people typed; private receivers are
refused when the operator does not allow them."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from plugin.challenges.schemas import ChallengeIn
from plugin.challenges.service import create_challenge
from plugin.core.actor import Role
from plugin.errors import Forbidden, InvalidInput
from plugin.extensions import db
from plugin.outbox import service as outbox
from plugin.outbox.models import FAILED, OutboxItem
from plugin.recognition.service import give_kudos
from plugin.teams.service import add_member, ensure_team
from plugin.webhooks import service as webhooks
from tests.services.factories import NOW, later, log, make_actor, make_platform
from tests.support.refusals import assert_refused_privately


def items() -> list[OutboxItem]:
    db.session.expire_all()
    return list(db.session.scalars(select(OutboxItem).where(OutboxItem.kind == webhooks.KIND).order_by(OutboxItem.id)))


def body(item: OutboxItem) -> dict:
    return json.loads(item.payload["body"])


def add(admin, url="https://hooks.example.org/in", events=("badge.earned", "challenge.completed")):
    return webhooks.create_endpoint(admin, webhooks.WebhookIn().load({"url": url, "events": list(events)}), NOW)[0]


@pytest.fixture
def org(appctx):
    platform = make_platform()
    return {"admin": make_actor(platform, "boss", Role.ADMIN), "manager": make_actor(platform, "teach", Role.MANAGER),
            "ada": make_actor(platform, "ada"), "bo": make_actor(platform, "bo")}


def test_a_completed_team_challenge_names_the_challenge_team_and_contributors(org):
    add(org["admin"], events=("challenge.completed",))
    team = ensure_team(org["ada"].course_id, "Blue", NOW)
    add_member(team, org["ada"].user_id)
    add_member(team, org["bo"].user_id)
    challenge = create_challenge(org["manager"], ChallengeIn().load({
        "title": "Two tries", "goal_kind": "count", "goal_value": "2", "team": str(team.id),
        "starts_at": "2025-03-03T00:00", "ends_at": "2025-04-01T00:00"}), NOW)
    log(org["ada"], later(1), title="My secret prompt for grading")
    assert items() == []  # only challenge.completed is subscribed, and it is not complete yet
    log(org["bo"], later(2))
    db.session.commit()
    [item] = items()
    event = body(item)
    assert event["type"] == "challenge.completed" and event["timestamp"].endswith("Z")
    data = event["data"]
    assert data["challenge"]["id"] == challenge.id and data["challenge"]["title"] == "Two tries"
    assert data["team"] == {"id": team.id, "name": "Blue"}
    assert [p["id"] for p in data["contributors"]] == sorted([org["ada"].user_id, org["bo"].user_id])
    assert {p["name"] for p in data["contributors"]} == {"Person ada", "Person bo"}
    assert "secret prompt" not in item.payload["body"]


def test_kudos_and_experiments_carry_ids_and_names_but_no_typed_text(org):
    add(org["admin"], events=("kudos.received", "experiment.logged"))
    give_kudos(org["manager"], receiver_id=org["ada"].user_id, message="Your rubric prompts were brilliant",
               submission_key="k-123456", now=later(1))
    log(org["ada"], later(2), title="Marked essays with a rubric bot", anonymous=True, outcome="failed",
        learned="Rubric bots need worked examples first")
    db.session.commit()
    kudos, experiment = (body(i) for i in items())
    assert kudos["type"] == "kudos.received"
    assert kudos["data"]["receiver"]["id"] == org["ada"].user_id and kudos["data"]["giver"]["name"] == "Person teach"
    assert "brilliant" not in json.dumps(kudos)
    assert experiment["type"] == "experiment.logged" and experiment["data"]["user"] is None  # anonymous
    assert experiment["data"]["outcome"] == "failed" and experiment["data"]["category"]["name"]
    log(org["bo"], later(3), visibility="private")
    log(org["bo"], later(4), visibility="course")
    db.session.commit()
    private, shared = (body(i)["data"] for i in items()[2:])
    assert private["user"] is None and private["visibility"] == "private"
    assert shared["user"]["id"] == org["bo"].user_id
    assert "rubric" not in json.dumps(experiment).lower() and "worked examples" not in json.dumps(experiment)


def test_each_endpoint_gets_its_own_delivery_and_only_of_its_own_organisation(org):
    first = add(org["admin"], events=("experiment.logged",))
    second = add(org["admin"], "https://other.example.org/in", events=("experiment.logged",))
    add(org["admin"], "https://third.example.org/in", events=("challenge.completed",))  # not subscribed
    webhooks.set_active(org["admin"], add(org["admin"], "https://off.example.org/in",
                                          events=("experiment.logged",)).id, False, NOW)
    elsewhere = make_platform(issuer="https://lms.other.edu", client_id="c-2", organisation="Org B")
    log(make_actor(elsewhere, "zed"), later(1))
    assert items() == []
    log(org["ada"], later(2))
    db.session.commit()
    got = items()
    assert sorted(i.payload["endpoint_id"] for i in got) == sorted([first.id, second.id])
    assert got[0].payload["message_id"] == got[1].payload["message_id"] and got[0].payload["body"] == got[1].payload["body"]


def test_only_admins_manage_endpoints(org):
    with pytest.raises(Forbidden):
        add(org["manager"])
    with pytest.raises(Forbidden):
        webhooks.recent(org["manager"])


@pytest.mark.parametrize("host", [
    "[2002:7f00:1::]",         # 6to4: 127.0.0.1
    "[64:ff9b::a00:1]",        # NAT64 well-known prefix: 10.0.0.1
    "[64:ff9b:1::c0a8:101]",   # NAT64 local-use prefix: 192.168.1.1
])
def test_an_ipv6_address_carrying_a_private_ipv4_one_is_refused_like_it(org, app, monkeypatch, host):
    monkeypatch.setitem(app.config, "WEBHOOKS_ALLOW_PRIVATE_ENDPOINTS", False)
    with pytest.raises(InvalidInput) as err:
        add(org["admin"], f"https://{host}:8080/in")
    assert "private network address" in " ".join(err.value.errors["url"])


def test_a_public_ipv6_address_and_one_carrying_a_public_ipv4_are_accepted(org, app, monkeypatch):
    monkeypatch.setitem(app.config, "WEBHOOKS_ALLOW_PRIVATE_ENDPOINTS", False)
    for host in ("[2606:4700:4700::1111]", "[2002:808:808::]"):  # a public address; 6to4 of 8.8.8.8
        assert add(org["admin"], f"https://{host}:8080/in").url == f"https://{host}:8080/in"


def test_plain_http_receivers_are_refused_where_private_ones_are(org, app, monkeypatch):
    """A webhook carries people's names and its signature: in production (private receivers not allowed) it
    goes over https only. Where the operator allows private receivers (an internal network), http is fine."""
    from marshmallow import ValidationError

    monkeypatch.setitem(app.config, "WEBHOOKS_ALLOW_PRIVATE_ENDPOINTS", False)
    with pytest.raises(ValidationError) as err:
        add(org["admin"], "http://8.8.8.8/in")
    assert "https://" in " ".join(err.value.messages["url"])
    assert add(org["admin"], "https://8.8.8.8/in").url == "https://8.8.8.8/in"
    monkeypatch.setitem(app.config, "WEBHOOKS_ALLOW_PRIVATE_ENDPOINTS", True)
    assert add(org["admin"], "http://10.0.0.7/in").url == "http://10.0.0.7/in"


def test_private_receivers_are_refused_when_the_operator_does_not_allow_them(org, app, monkeypatch, caplog):
    endpoint = add(org["admin"], "http://127.0.0.1:9/in", events=("experiment.logged",))  # allowed in tests
    log(org["ada"], later(1))
    db.session.commit()
    monkeypatch.setitem(app.config, "WEBHOOKS_ALLOW_PRIVATE_ENDPOINTS", False)
    with pytest.raises(InvalidInput) as err:
        add(org["admin"], "https://localhost:8080/in")
    assert_refused_privately(" ".join(err.value.errors["url"]), caplog.text)
    caplog.clear()
    counts = outbox.process_due(later(2))
    assert counts.failed == 1
    [item] = items()
    assert item.status == FAILED
    assert_refused_privately(item.last_error, caplog.text)
    assert endpoint.id == item.payload["endpoint_id"]


def test_an_endpoint_deleted_twice_at_once_is_deleted_once_without_an_error(org, appctx):
    """A double click on Delete (or two admins): the second request must find it gone, not fail with a 500 on
    deleting a row no longer there, and the audit log says it was deleted once."""
    from plugin.audit.models import AuditEvent
    from plugin.errors import NotFound
    from tests.services.test_concurrency import while_the_first_waits_to_commit

    endpoint_id, admin = add(org["admin"]).id, org["admin"]

    def delete():
        try:
            webhooks.delete_endpoint(admin, endpoint_id, NOW)
            return "deleted"
        except NotFound:
            db.session.rollback()
            return "gone"

    assert sorted(while_the_first_waits_to_commit(appctx, delete, delete)) == ["deleted", "gone"]
    assert db.session.scalars(select(AuditEvent.action).where(AuditEvent.action == "webhook.deleted")).all() == [
        "webhook.deleted"]


def test_endpoints_added_at_once_stay_within_the_limit(org, appctx):
    """Two admins adding the organisation's last allowed endpoint at the same moment: one is refused."""
    from plugin.webhooks.models import WebhookEndpoint
    from tests.services.test_concurrency import while_the_first_waits_to_commit

    admin = org["admin"]
    for n in range(webhooks.MAX_ENDPOINTS - 1):
        add(admin, url=f"https://hooks.example.org/in/{n}")

    def add_last(n):
        try:
            return add(admin, url=f"https://hooks.example.org/last/{n}").id
        except InvalidInput:
            db.session.rollback()
            return "refused"

    results = while_the_first_waits_to_commit(appctx, lambda: add_last(1), lambda: add_last(2))
    assert results.count("refused") == 1
    assert db.session.scalar(select(db.func.count()).select_from(WebhookEndpoint)) == webhooks.MAX_ENDPOINTS
