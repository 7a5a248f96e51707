"""Erasure reaches what Tinker sends out: webhook bodies and xAPI statements queued, failed or delivered before
the erasure no longer name the person (real services, a real HTTP receiver standing in for the webhook
receiver and the LRS)."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from plugin.core.actor import Role
from plugin.experiments.models import Visibility
from plugin.extensions import db
from plugin.outbox import service as outbox
from plugin.outbox.models import DONE, PENDING, OutboxItem
from plugin.peer_help.service import I_HELPED, confirm_help, record_help
from plugin.privacy import service as privacy
from plugin.recognition.service import give_kudos
from plugin.tenancy import service as tenancy
from plugin.webhooks import service as webhooks
from plugin.xapi import service as xapi
from tests.privacy.world import ADA_EMAIL, build
from tests.services.factories import NOW, identity, later, log, make_actor, make_platform
from tests.webhooks.conftest import receiver, verify  # noqa: F401  (the fixture)

ADA = "Ada Lovelace"


@pytest.fixture
def world(appctx, receiver):  # noqa: F811
    w = build()
    # The LRS and the webhook receiver are the same scripted server here: both answer 204 (stored / accepted).
    xapi.update_settings(w.admin, xapi.XIn().load({"enabled": True, "endpoint": receiver.url.rsplit("/", 1)[0],
                                                   "key": "tinker", "secret": "s3cret", "send_email": True}), later(0))
    _endpoint, w.secret = webhooks.create_endpoint(w.admin, webhooks.WebhookIn().load(
        {"url": receiver.url, "events": sorted(webhooks.EVENTS)}), later(0))
    w.receiver = receiver
    db.session.commit()
    return w


def rows(kind: str) -> list[OutboxItem]:
    db.session.expire_all()
    return list(db.session.scalars(select(OutboxItem).where(OutboxItem.kind == kind).order_by(OutboxItem.id)))


def names_ada(payload: dict, ada) -> bool:
    text = json.dumps(payload)
    return ADA in text or ADA_EMAIL in text or '"name": "ada"' in text or '\\"lms_user_id\\":\\"ada\\"' in text


def test_queued_and_delivered_deliveries_lose_the_name_and_undelivered_statements_are_cancelled(world):
    ada, bo = world.ada, world.bo
    # Delivered before the erasure: Ada's experiment and kudos to her.
    log(ada, later(1), visibility=Visibility.COURSE.value)
    give_kudos(world.boss, receiver_id=ada.user_id, message="Thanks", submission_key="k-out", now=later(2), points=5)
    db.session.commit()
    assert outbox.process_due(later(3)).processed >= 4
    delivered = {i.id for i in rows(webhooks.KIND) + rows(xapi.KIND)}
    assert delivered and all(i.status == DONE for i in rows(webhooks.KIND) + rows(xapi.KIND))
    assert any(ADA in r.body.decode() for r in world.receiver.received)  # what went out did name her
    # Still queued at the erasure: Bo confirms the help he gave Ada (a statement about Bo naming Ada), and a
    # log of Bo's own that names nobody else.
    helped = record_help(bo, other_user_id=ada.user_id, direction=I_HELPED, description="Showed Ada the checks",
                         now=later(4))
    confirm_help(ada, helped.help.id, later(4))
    log(bo, later(5), visibility=Visibility.COURSE.value)
    give_kudos(world.boss, receiver_id=ada.user_id, message="Again", submission_key="k-queued", now=later(5), points=5)
    db.session.commit()
    queued = [i for i in rows(webhooks.KIND) + rows(xapi.KIND) if i.id not in delivered]
    assert any(names_ada(i.payload, ada) for i in queued)
    bo_only = {i.id: i.payload for i in queued if not names_ada(i.payload, ada)}
    assert bo_only

    result = privacy.erase(world.admin, ada.user_id, "ERASE", later(6))
    db.session.commit()

    everything = rows(webhooks.KIND) + rows(xapi.KIND)
    assert [i.id for i in everything if names_ada(i.payload, ada)] == []
    assert {i.id: i.payload for i in everything if i.id in bo_only} == bo_only  # others' deliveries untouched
    statements = rows(xapi.KIND)
    assert {i.id for i in statements if i.status == DONE} == {i for i in delivered if i in {s.id for s in statements}}
    assert [i.payload["event"] for i in statements if i.status == PENDING] == ["experiment_logged"]  # Bo's own (help naming Ada and kudos to her: cancelled)
    assert result.counts["xapi_cancelled"] == 2 and result.counts["xapi_scrubbed"] >= 2
    erased_agents = [i.payload["statement"]["actor"] for i in statements
                     if i.status == DONE and i.payload["user_id"] == ada.user_id]
    assert erased_agents and all(a["account"]["name"] == "[erased]" for a in erased_agents)
    hooks = rows(webhooks.KIND)
    assert result.counts["webhooks_rewritten"] == 3  # her delivered experiment and kudos, the queued kudos
    for kudos in (i for i in hooks if i.payload["event"] == "kudos.received"):
        assert json.loads(kudos.payload["body"])["data"]["receiver"] == {"id": ada.user_id, "name": None,
                                                                         "lms_user_id": None}
    # The queued one still goes (the fact, not the person), signed, with the webhook-id it was given.
    queued_kudos = next(i for i in hooks if i.payload["event"] == "kudos.received" and i.status == PENDING)
    world.receiver.received.clear()
    outbox.process_due(later(8))
    [sent] = [r for r in world.receiver.received if r.headers.get("webhook-id") == queued_kudos.payload["message_id"]]
    assert verify(world.secret, sent)
    assert ADA not in sent.body.decode() and sent.json["data"]["receiver"]["name"] is None
    assert all(ADA not in r.body.decode() and ADA_EMAIL not in r.body.decode() for r in world.receiver.received)


def test_a_statement_queued_under_the_persons_previous_email_does_not_outlive_the_erasure(appctx):
    """The xAPI statement named them by the e-mail their LMS gave then; the LMS has sent a new one since."""
    platform = make_platform()
    admin = make_actor(platform, "admin", Role.ADMIN)
    ada = make_actor(platform, "ada", name="Ada Lovelace", email="ada@old.example")
    xapi.update_settings(admin, xapi.XIn().load({"enabled": True, "endpoint": "https://lrs.example.org/xapi",
                                                 "key": "k", "secret": "s", "send_email": True}), NOW)
    log(ada, later(1), visibility=Visibility.COURSE.value)  # queued (the LRS is down, say), as mailto:ada@old
    db.session.commit()
    tenancy.provision(identity(platform, "ada", name="Ada Lovelace", email="ada@new.example"), later(2))
    db.session.commit()
    privacy.erase(admin, ada.user_id, "ERASE", later(3))
    db.session.commit()
    left = [json.dumps(i.payload) for i in db.session.scalars(select(OutboxItem).where(OutboxItem.kind == xapi.KIND))]
    assert not [p for p in left if "Ada Lovelace" in p or "ada@old.example" in p]


def test_the_persons_own_export_lists_the_deliveries_that_name_them(world):
    """Erasure rewrites the statements and notifications that name the person, so "everything Tinker holds
    about you" lists them too: which event, when, sent or not; never the bodies (they name other people)."""
    ada, bo = world.ada, world.bo
    log(ada, later(1), visibility=Visibility.COURSE.value)
    give_kudos(world.boss, receiver_id=ada.user_id, message="Thanks", submission_key="k-export", now=later(2), points=5)
    db.session.commit()
    outbox.process_due(later(3))
    helped = record_help(bo, other_user_id=ada.user_id, direction=I_HELPED, description="Showed Ada the checks",
                         now=later(4))
    confirm_help(ada, helped.help.id, later(4))  # a statement about Bo that names Ada, still queued
    log(bo, later(5), visibility=Visibility.COURSE.value)  # Bo's own: nothing of Ada's
    db.session.commit()

    sent = privacy.export_person(ada.organisation_id, ada.user_id)["deliveries"]
    assert sorted((d["kind"], d["event"], d["status"]) for d in sent) == sorted([
        ("xapi_statement", "experiment_logged", DONE), ("xapi_statement", "kudos_received", DONE),
        ("xapi_statement", "help_confirmed", PENDING), ("webhook", "experiment.logged", DONE),
        ("webhook", "kudos.received", DONE)])
    assert all(set(d) == {"kind", "event", "course_id", "status", "created_at"} for d in sent)
    assert "Bo Diddley" not in json.dumps(sent)
    bo_sent = privacy.export_person(bo.organisation_id, bo.user_id)["deliveries"]
    assert ("xapi_statement", "help_confirmed") in {(d["kind"], d["event"]) for d in bo_sent}
    assert ("webhook", "kudos.received") not in {(d["kind"], d["event"]) for d in bo_sent}


def test_the_void_of_a_delivered_statement_outlives_the_erasure_and_is_sent(world):
    """Kudos to Ada reached the LRS; the boss revoked them, and the voiding statement was still queued when Ada
    was erased. The void names nobody but the manager who voided it: it must still go, else the LRS
    keeps the revoked kudos standing, naming Ada, for good."""
    from plugin.recognition.service import revoke_kudos

    ada = world.ada
    kudos = give_kudos(world.boss, receiver_id=ada.user_id, message="Thanks", submission_key="k-void", now=later(1),
                       points=5)
    db.session.commit()
    outbox.process_due(later(2))
    original = next(i for i in rows(xapi.KIND) if i.dedupe_key == f"xapi:kudos:{kudos.id}")
    assert original.status == DONE
    revoke_kudos(world.boss, kudos.id, "Given by mistake", later(3))
    db.session.commit()
    [void] = [i for i in rows(xapi.KIND) if i.dedupe_key == f"xapi:void:xapi:kudos:{kudos.id}"]
    assert void.status == PENDING

    privacy.erase(world.admin, ada.user_id, "ERASE", later(4))
    db.session.commit()
    world.receiver.received.clear()
    outbox.process_due(later(5))

    voids = [r.json for r in world.receiver.received if r.json.get("verb", {}).get("id", "").endswith("/voided")]
    assert [v["object"] for v in voids] == [{"objectType": "StatementRef", "id": original.payload["statement"]["id"]}]
    assert not names_ada(voids[0], ada)


def test_a_receivers_answer_quoting_the_person_does_not_outlive_the_erasure(world):
    """The webhook receiver refused the kudos event quoting Ada's name, the LRS answered 409 quoting her address:
    those answers (a failed delivery's error, shown on the admin's deliveries page and through the API; a
    statement's note) outlived her erasure while the bodies were rewritten. (Found by an erasure review.)"""
    give_kudos(world.boss, receiver_id=world.ada.user_id, message="Thanks", submission_key="k-answer", now=later(1),
               points=5)
    db.session.commit()
    world.receiver.script[:] = [(422, '{"error":"unknown member Ada Lovelace <ada@example.edu>"}'),
                                (409, '{"error":"conflict for actor mailto:ada@example.edu (Ada Lovelace)"}')]
    outbox.process_due(later(2))
    db.session.commit()
    answered = [i for i in rows(webhooks.KIND) + rows(xapi.KIND) if ADA in f"{i.note} {i.last_error}"]
    assert len(answered) == 2  # the scripted answers landed on one delivery of each kind
    privacy.erase(world.admin, world.ada.user_id, "ERASE", later(5))
    db.session.commit()
    for item in rows(webhooks.KIND) + rows(xapi.KIND):
        assert ADA not in f"{item.note} {item.last_error}" and ADA_EMAIL not in f"{item.note} {item.last_error}"
    failed = [i for i in rows(webhooks.KIND) if i.id in {a.id for a in answered}]
    assert failed and failed[0].last_error == "[erased]"
    assert all(ADA not in f"{d.item.last_error}" for d in webhooks.recent(world.admin))
