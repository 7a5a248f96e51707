"""Recognition taken back reaches the receivers that were told it was given: badge.revoked (a manager's decision, or
unearned with the kudos behind it) and kudos.revoked, delivered signed to a real receiver, once per revocation, only
when it is saved, never with the reason the manager typed, and rewritten with the other bodies when the person is
erased. A rules recalculation takes no badge back by itself: it reports, and revoking by hand is what sends."""
from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from plugin.badges.models import BadgeAward
from plugin.badges.service import get_or_create_badge
from plugin.core.actor import Role
from plugin.extensions import db
from plugin.outbox import service as outbox
from plugin.outbox.models import DONE, PENDING, OutboxItem
from plugin.privacy import service as privacy
from plugin.recognition.service import award_badge_manually, give_kudos, revoke_badge, revoke_kudos
from plugin.replay.service import replay
from plugin.rules.definitions import create_rule, update_rule
from plugin.webhooks import service as webhooks
from tests.services.factories import NOW, later, make_actor, make_platform
from tests.services.test_concurrency import while_the_first_waits_to_commit
from tests.web.helpers import text, visible
from tests.webhooks.conftest import verify

REASON = "Copied from a colleague in the Tuesday group"  # typed by the manager: never sent


@pytest.fixture
def org(appctx, receiver):
    platform = make_platform()
    w = SimpleNamespace(platform=platform, admin=make_actor(platform, "boss", Role.ADMIN),
                        manager=make_actor(platform, "teach", Role.MANAGER, name="Grace Hopper"),
                        ada=make_actor(platform, "ada", name="Ada Lovelace"), receiver=receiver)
    w.champion = get_or_create_badge(platform.organisation_id, "champion", NOW)
    return w


def subscribe(w, *events: str) -> str:
    """An endpoint at the test receiver for these events; returns its signing secret."""
    _endpoint, secret = webhooks.create_endpoint(w.admin, webhooks.WebhookIn().load(
        {"url": w.receiver.url, "events": list(events)}), NOW)
    db.session.commit()
    return secret


def items() -> list[OutboxItem]:
    db.session.expire_all()
    return list(db.session.scalars(select(OutboxItem).where(OutboxItem.kind == webhooks.KIND).order_by(OutboxItem.id)))


def events() -> list[tuple[str, dict]]:
    """What is queued for the receiver, in order: (type, data)."""
    return [(body["type"], body["data"]) for body in (json.loads(i.payload["body"]) for i in items())]


def delivered(w, minutes: int = 30) -> list[dict]:
    """Send what is due; the JSON bodies the receiver got, in order."""
    outbox.process_due(later(minutes))
    return [r.json for r in w.receiver.received]


def champion_for(w, now=NOW) -> int:
    return award_badge_manually(w.manager, receiver_id=w.ada.user_id, badge_id=w.champion.id,
                                comment="Ran the prompt clinic", now=now)


def kudos(w, key: str, points: int = 0, now=NOW):
    return give_kudos(w.manager, receiver_id=w.ada.user_id, message="Your rubric prompts were brilliant", now=now,
                      submission_key=key, points=points)


def person(actor, name: str, sub: str) -> dict:
    return {"id": actor.user_id, "name": name, "lms_user_id": sub}


def test_a_manager_revoking_a_badge_tells_the_receiver_which_award_went_signed(org):
    secret = subscribe(org, "badge.earned", "badge.revoked")
    award_id = champion_for(org)
    db.session.commit()
    revoke_badge(org.manager, award_id, REASON, later(5))
    db.session.commit()

    earned, revoked = delivered(org)
    assert verify(secret, org.receiver.received[1])
    assert (earned["type"], revoked["type"]) == ("badge.earned", "badge.revoked")
    assert revoked["timestamp"] == "2025-03-03T09:05:00Z"
    data = revoked["data"]
    assert data == {**earned["data"], "revoked_at": "2025-03-03T09:05:00Z", "reason": "revoked"}
    assert data["award_id"] == award_id and data["user"] == person(org.ada, "Ada Lovelace", "ada")
    assert data["badge"] == {"id": org.champion.id, "slug": "champion", "name": org.champion.name}
    assert "Tuesday group" not in org.receiver.received[1].body.decode()  # the reason stays in Tinker


def test_revoking_kudos_tells_the_receiver_the_points_taken_back(org):
    subscribe(org, "kudos.received", "kudos.revoked")
    given = kudos(org, "kudos-revoke-01", points=10)
    db.session.commit()
    revoke_kudos(org.manager, given.id, REASON, later(5))
    db.session.commit()

    received, revoked = delivered(org)
    assert revoked["type"] == "kudos.revoked" and revoked["timestamp"] == "2025-03-03T09:05:00Z"
    assert revoked["data"] == {
        "kudos_id": given.id, "points": 10, "revoked_at": "2025-03-03T09:05:00Z",
        "receiver": person(org.ada, "Ada Lovelace", "ada"), "giver": person(org.manager, "Grace Hopper", "teach"),
        "organisation_id": org.ada.organisation_id, "course": received["data"]["course"]}
    body = org.receiver.received[1].body.decode()
    assert "Tuesday group" not in body and "brilliant" not in body


def test_a_badge_the_revoked_kudos_earned_is_revoked_as_unearned_after_the_kudos(org):
    medal = get_or_create_badge(org.ada.organisation_id, "recognised", NOW, name="Recognised")
    rule = create_rule(org.ada.organisation_id, {"name": "Recognised", "condition": "kudos_received",
                                                 "params": {"count": 1}, "points": 0, "badge_id": medal.id}, NOW)
    subscribe(org, "badge.earned", "badge.revoked", "kudos.revoked")
    given = kudos(org, "kudos-unearn-01", now=later(1))
    db.session.commit()
    revoke_kudos(org.manager, given.id, REASON, later(5))
    db.session.commit()

    earned, kudos_revoked, badge_revoked = delivered(org)
    assert [e["type"] for e in (earned, kudos_revoked, badge_revoked)] == [
        "badge.earned", "kudos.revoked", "badge.revoked"]
    assert kudos_revoked["data"]["kudos_id"] == given.id
    assert badge_revoked["data"] == {**earned["data"], "revoked_at": "2025-03-03T09:05:00Z", "reason": "unearned"}
    assert badge_revoked["data"]["rule_id"] == rule.id and badge_revoked["data"]["badge"]["slug"] == "recognised"
    assert "Tuesday group" not in org.receiver.received[2].body.decode()  # the kudos' reason is the award's too


def test_a_badge_the_kudos_moved_goes_before_it_is_given_again_for_the_later_kudos(org):
    """"Two kudos in 30 days", repeatable, with a badge: earned on the second of three kudos. Revoking the first moves
    it to the third. A receiver keeping one badge per person hears the old award go before the new one comes."""
    medal = get_or_create_badge(org.ada.organisation_id, "praised", NOW, name="Praised")
    create_rule(org.ada.organisation_id, {"name": "Praised", "condition": "kudos_received", "repeatable": True,
                                          "params": {"count": 2, "window_days": 30}, "points": 0,
                                          "badge_id": medal.id}, NOW)
    subscribe(org, "badge.earned", "badge.revoked")
    first = kudos(org, "kudos-moved-001", now=later(1))
    kudos(org, "kudos-moved-002", now=later(2))
    kudos(org, "kudos-moved-003", now=later(3))
    db.session.commit()
    revoke_kudos(org.manager, first.id, REASON, later(5))
    db.session.commit()

    got = delivered(org)
    assert [(e["type"], e["data"].get("reason")) for e in got] == [
        ("badge.earned", None), ("badge.revoked", "unearned"), ("badge.earned", None)]
    assert got[1]["data"]["award_id"] == got[0]["data"]["award_id"] != got[2]["data"]["award_id"]
    assert db.session.scalar(select(BadgeAward.id).where(BadgeAward.badge_id == medal.id,
                                                         BadgeAward.revoked_at.is_(None))) == got[2]["data"]["award_id"]


def test_a_replay_keeps_a_badge_no_longer_earned_and_revoking_it_by_hand_sends_badge_revoked(org):
    medal = get_or_create_badge(org.ada.organisation_id, "thanked", NOW, name="Thanked")
    rule = create_rule(org.ada.organisation_id, {"name": "Thanked", "condition": "kudos_received",
                                                 "params": {"count": 1}, "points": 0, "badge_id": medal.id}, NOW)
    kudos(org, "kudos-replay-01", now=later(1))
    subscribe(org, "badge.revoked")
    update_rule(org.admin, rule.id, {"params": {"count": 3}}, later(2))
    report = replay(org.ada.organisation_id, later(3), apply=True)
    db.session.commit()
    assert report.lost_badges == [(org.ada.course_id, org.ada.user_id, medal.id)]
    assert events() == []  # reported, kept: nothing to tell the receiver

    award = db.session.scalar(select(BadgeAward).where(BadgeAward.badge_id == medal.id))
    revoke_badge(org.manager, award.id, REASON, later(4))
    db.session.commit()
    [(kind, data)] = events()
    assert (kind, data["award_id"], data["reason"], data["rule_id"]) == ("badge.revoked", award.id, "revoked", rule.id)


def test_nothing_is_queued_for_revocations_no_endpoint_subscribes_to(org):
    subscribe(org, "badge.earned", "kudos.received")
    award_id = champion_for(org)
    given = kudos(org, "kudos-unsub-001", points=5)
    db.session.commit()
    revoke_badge(org.manager, award_id, REASON, later(5))
    revoke_kudos(org.manager, given.id, REASON, later(6))
    db.session.commit()
    assert [kind for kind, _data in events()] == ["badge.earned", "kudos.received"]


def test_revoking_again_sends_nothing_more(org):
    subscribe(org, "badge.revoked", "kudos.revoked")
    award_id = champion_for(org)
    given = kudos(org, "kudos-twice-001", points=5)
    db.session.commit()
    for minutes in (5, 6):  # a retried request, a second click
        revoke_badge(org.manager, award_id, REASON, later(minutes))
        revoke_kudos(org.manager, given.id, REASON, later(minutes))
        db.session.commit()
    assert [(kind, data.get("award_id") or data.get("kudos_id")) for kind, data in events()] == [
        ("badge.revoked", award_id), ("kudos.revoked", given.id)]
    assert [e["data"]["revoked_at"] for e in delivered(org)] == ["2025-03-03T09:05:00Z"] * 2


def test_two_managers_revoking_the_same_badge_at_once_send_one_event(org, appctx):
    subscribe(org, "badge.revoked")
    award_id = champion_for(org)
    admin = make_actor(org.platform, "second-admin", Role.ADMIN)
    db.session.commit()
    manager = org.manager
    while_the_first_waits_to_commit(appctx, lambda: revoke_badge(manager, award_id, REASON, later(5)).id,
                                    lambda: revoke_badge(admin, award_id, "Not earned here", later(6)).id)
    [(kind, data)] = events()
    assert (kind, data["award_id"], data["revoked_at"]) == ("badge.revoked", award_id, "2025-03-03T09:05:00Z")


def test_a_revocation_that_is_not_saved_sends_nothing_and_a_later_one_does(org):
    subscribe(org, "badge.revoked", "kudos.revoked")
    award_id = champion_for(org)
    given = kudos(org, "kudos-rollback1", points=5)
    db.session.commit()
    revoke_badge(org.manager, award_id, REASON, later(5))
    revoke_kudos(org.manager, given.id, REASON, later(5))
    db.session.rollback()  # e.g. the request failed after the service returned
    assert events() == [] and delivered(org) == []
    assert db.session.get(BadgeAward, award_id).revoked_at is None

    revoke_badge(org.manager, award_id, REASON, later(10))
    revoke_kudos(org.manager, given.id, REASON, later(10))
    db.session.commit()
    assert [(e["type"], e["timestamp"]) for e in delivered(org)] == [
        ("badge.revoked", "2025-03-03T09:10:00Z"), ("kudos.revoked", "2025-03-03T09:10:00Z")]


def test_an_erasure_rewrites_revocations_delivered_or_queued_and_one_after_it_names_nobody(org):
    secret = subscribe(org, "badge.revoked", "kudos.revoked")
    award_id = champion_for(org)
    given = kudos(org, "kudos-erase-001", points=5)
    later_kudos = kudos(org, "kudos-erase-002", points=5, now=later(1))
    db.session.commit()
    revoke_badge(org.manager, award_id, REASON, later(5))
    db.session.commit()
    assert len(delivered(org)) == 1  # the badge's went; the kudos' is still queued at the erasure
    revoke_kudos(org.manager, given.id, REASON, later(6))
    db.session.commit()

    result = privacy.erase(org.admin, org.ada.user_id, "ERASE", later(7))
    db.session.commit()
    assert result.counts["webhooks_rewritten"] == 2
    erased = {"id": org.ada.user_id, "name": None, "lms_user_id": None}
    sent, queued = items()
    assert (sent.status, queued.status) == (DONE, PENDING)
    assert json.loads(sent.payload["body"])["data"]["user"] == erased
    assert json.loads(queued.payload["body"])["data"]["receiver"] == erased
    assert json.loads(queued.payload["body"])["data"]["giver"]["name"] == "Grace Hopper"  # only she is erased

    revoke_kudos(org.manager, later_kudos.id, REASON, later(8))  # built after the erasure
    db.session.commit()
    org.receiver.received.clear()
    got = delivered(org)
    assert [e["data"]["kudos_id"] for e in got] == [given.id, later_kudos.id]
    assert all(e["data"]["receiver"] == erased for e in got)
    assert all(verify(secret, r) and b"Ada Lovelace" not in r.body for r in org.receiver.received)


def test_the_admin_page_offers_the_revocation_events_and_an_endpoint_keeps_them(app, client, launch):
    admin = launch(role="admin", sub="boss")
    page = visible(client.get("/app/admin/webhooks", query_string={"lt": admin}))
    assert "badge.revoked : A badge was revoked" in page and "kudos.revoked : Kudos were revoked" in page
    added = client.post("/app/admin/webhooks", data={"lt": admin, "url": "https://hooks.example.org/in",
                                                     "events": ["badge.revoked", "kudos.revoked"]})
    assert added.status_code == 201, visible(added)[:2000]
    assert "badge.revoked, kudos.revoked" in visible(client.get("/app/admin/webhooks", query_string={"lt": admin}))
    turkish = launch(role="admin", sub="boss", overrides={
        "https://purl.imsglobal.org/spec/lti/claim/launch_presentation": {"locale": "tr-TR"}})
    page = text(client.get("/app/admin/webhooks", query_string={"lt": turkish}))
    assert "Bir rozet geri alındı" in page and "Tebrik geri alındı" in page
