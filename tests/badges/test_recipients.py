"""Recipient identity: LMS e-mail when shared; otherwise the learner claims later with an address confirmed
through a link e-mailed by the outbox (over real SMTP), or an identity URL. Awarding is never blocked."""
from __future__ import annotations

import hashlib
import re

import pytest

from plugin.badges.models import BadgeAward
from plugin.core.clock import utcnow
from plugin.extensions import db
from plugin.outbox.service import process_due
from tests.badges.conftest import award, make_world
from tests.web.helpers import visible

JSON = {"Accept": "application/ld+json"}


def _hash(value: str, salt: str) -> str:
    return "sha256$" + hashlib.sha256((value + salt).encode()).hexdigest()


@pytest.fixture
def mail(app, smtp_server):
    saved = {k: app.config[k] for k in ("SMTP_HOST", "SMTP_PORT")}
    app.config.update(SMTP_HOST=smtp_server.host, SMTP_PORT=smtp_server.port)
    yield smtp_server
    app.config.update(saved)


def _award_to_launched_learner(app, client, launch, overrides=None):
    learner_token = launch(role="learner", sub="ada", overrides=overrides)
    launch(role="instructor", sub="boss")
    with app.app_context():
        from plugin.badges.service import get_or_create_badge
        from plugin.core.actor import Actor, Role
        from plugin.recognition.service import award_badge_manually
        from plugin.tenancy.models import Course, User

        course = db.session.scalar(db.select(Course))
        ada = db.session.scalar(db.select(User).where(User.sub == "ada"))
        boss = db.session.scalar(db.select(User).where(User.sub == "boss"))
        badge = get_or_create_badge(course.organisation_id, "helpful-human", utcnow(), name="Helpful Human", manual=True)
        manager = Actor(user_id=boss.id, course_id=course.id, organisation_id=course.organisation_id,
                        platform_id=ada.platform_id, role=Role.MANAGER, display_name="Boss")
        award_id = award_badge_manually(manager, receiver_id=ada.id, badge_id=badge.id, comment="Helped a lot",
                                        now=utcnow())
        pid = db.session.get(BadgeAward, award_id).public_id
        db.session.commit()
    return learner_token, pid


def test_lms_email_is_the_hashed_identity(app, client, launch):
    _token, pid = _award_to_launched_learner(app, client, launch, overrides={"email": "Ada@Uni.example"})
    recipient = client.get(f"/ob/v2/assertions/{pid}", headers=JSON).get_json(force=True)["recipient"]
    assert recipient["type"] == "email" and recipient["identity"] == _hash("ada@uni.example", recipient["salt"])


def test_without_an_email_the_award_is_made_and_claimed_later_by_a_confirmed_address(app, client, launch, mail):
    token, pid = _award_to_launched_learner(app, client, launch)
    before = client.get(f"/ob/v2/assertions/{pid}", headers=JSON).get_json(force=True)["recipient"]
    assert before["type"] == "url" and before["hashed"] is True  # a placeholder: awarding was not blocked
    page = client.get("/app/badges", query_string={"lt": token})
    assert "Not claimed yet" in visible(page) and "Helpful Human" in visible(page)

    sent = client.post("/app/badges/identity", data={"lt": token, "kind": "email", "email": "ada@home.example"})
    assert sent.status_code == 303
    assert mail.messages == []  # nothing leaves before the outbox runs, after commit
    with app.app_context():
        counts = process_due(utcnow())
    assert counts.done == 1, counts
    [message] = mail.messages
    assert message["To"] == "ada@home.example"
    link = re.search(r"http://localhost(/ob/v2/confirm/\S+)", message.get_content()).group(1)

    # Opening the link alone changes nothing (mail scanners open links); the button confirms.
    assert client.get(link).status_code == 200
    still = client.get(f"/ob/v2/assertions/{pid}", headers=JSON).get_json(force=True)["recipient"]
    assert still["type"] == "url"
    confirmed = client.post(link)
    assert confirmed.status_code == 200 and "ada@home.example" in visible(confirmed)
    after = client.get(f"/ob/v2/assertions/{pid}", headers=JSON).get_json(force=True)["recipient"]
    assert after["type"] == "email" and after["identity"] == _hash("ada@home.example", after["salt"])
    assert client.post(link).status_code == 404  # a link works once


def test_identity_url_claim_and_bad_input(app, client, launch):
    token, pid = _award_to_launched_learner(app, client, launch)
    bad = client.post("/app/badges/identity", data={"lt": token, "kind": "url", "url": "javascript:alert(1)"})
    assert bad.status_code == 422 and "An http(s) URL" in visible(bad)
    bad_mail = client.post("/app/badges/identity", data={"lt": token, "kind": "email", "email": "nope"})
    assert bad_mail.status_code == 422
    ok = client.post("/app/badges/identity", data={"lt": token, "kind": "url", "url": "https://ada.example/me"})
    assert ok.status_code == 303
    recipient = client.get(f"/ob/v2/assertions/{pid}", headers=JSON).get_json(force=True)["recipient"]
    assert recipient["type"] == "url" and recipient["identity"] == _hash("https://ada.example/me", recipient["salt"])


def test_unknown_confirmation_link_is_404(client, app):
    assert client.post("/ob/v2/confirm/made-up").status_code == 404


def test_smtp_down_is_retried_not_lost(app, appctx):
    from plugin.outbox.email import send
    from plugin.outbox.models import PENDING, OutboxItem

    app.config["SMTP_HOST"], saved_port = "127.0.0.1", app.config["SMTP_PORT"]
    app.config["SMTP_PORT"] = 9  # nothing listens on discard
    try:
        send(to="x@example.org", subject="s", body="b", key="test:smtp-down", now=utcnow())
        db.session.commit()
        counts = process_due(utcnow())
    finally:
        app.config["SMTP_HOST"], app.config["SMTP_PORT"] = "", saved_port
    assert counts.retried == 1
    assert db.session.scalar(db.select(OutboxItem.status).where(OutboxItem.dedupe_key == "test:smtp-down")) == PENDING


def test_no_smtp_configured_gives_up_with_a_clear_error(appctx):
    from plugin.outbox.email import send
    from plugin.outbox.models import FAILED, OutboxItem

    send(to="x@example.org", subject="s", body="b", key="test:no-smtp", now=utcnow())
    db.session.commit()
    process_due(utcnow())
    row = db.session.scalar(db.select(OutboxItem).where(OutboxItem.dedupe_key == "test:no-smtp"))
    assert row.status == FAILED and "TINKER_SMTP_HOST" in row.last_error


def test_service_level_award_without_email_is_not_blocked(appctx):
    world = make_world(email=None)
    assert award(world)


def test_a_learner_cannot_make_tinker_send_unlimited_confirmation_mails(app, client, launch):
    """Each request e-mails a link to whatever address was typed: a few a day per person (to correct a typo),
    then a clear refusal on the page, and nothing more is queued."""
    from plugin.badges.recipients import CONFIRM_LIMIT
    from plugin.outbox.models import OutboxItem

    token, _pid = _award_to_launched_learner(app, client, launch)
    for n in range(CONFIRM_LIMIT):
        sent = client.post("/app/badges/identity", data={"lt": token, "kind": "email", "email": f"v{n}@else.example"})
        assert sent.status_code == 303
    refused = client.post("/app/badges/identity", data={"lt": token, "kind": "email", "email": "victim@else.example"})
    assert refused.status_code == 429
    assert "You asked for 5 confirmation e-mails in the last 24 hours" in visible(refused)
    with app.app_context():
        queued = db.session.scalars(db.select(OutboxItem.payload).where(OutboxItem.kind == "email")).all()
    assert len(queued) == CONFIRM_LIMIT and "victim@else.example" not in [p["to"] for p in queued]


def test_confirmation_mails_can_be_asked_for_again_a_day_later(appctx):
    from datetime import timedelta

    from plugin.badges import recipients
    from plugin.errors import RateLimited
    from tests.services.factories import NOW

    world = make_world(email=None)

    def ask(at):
        return recipients.request_email(world.learner, "ada@home.example", lambda t: f"http://localhost/c/{t}", at)

    for n in range(recipients.CONFIRM_LIMIT):
        ask(NOW + timedelta(minutes=n))
    with pytest.raises(RateLimited):
        ask(NOW + timedelta(hours=23))
    assert ask(NOW + timedelta(hours=24, minutes=1)).pending_email == "ada@home.example"


def test_asking_twice_at_once_for_the_confirmation_mail_is_no_server_error(app, appctx):
    """A double click on Send the first time a learner gives an address: both requests create the learner's row;
    the second must wait for the first and update it, not fail on its primary key."""
    from plugin.badges import recipients
    from plugin.badges.models import Recipient
    from tests.services.factories import NOW, make_actor, make_platform
    from tests.services.test_concurrency import while_the_first_waits_to_commit

    ada = make_actor(make_platform(), "ada")

    def ask():
        return recipients.request_email(ada, "ada@example.org", lambda token: f"http://localhost/c/{token}", NOW).user_id

    assert while_the_first_waits_to_commit(app, ask, ask) == [ada.user_id, ada.user_id]
    assert db.session.get(Recipient, ada.user_id).pending_email == "ada@example.org"


def test_two_requests_at_once_at_the_confirmation_limit_send_no_more_than_the_limit(app, appctx):
    """Four confirmation mails asked for today, then two requests at the same moment (two tabs, a script): only one
    more may be sent, the other refused, or the 5-a-day limit on mails to typed addresses is exceeded."""
    from datetime import timedelta

    from plugin.badges import recipients
    from plugin.errors import RateLimited
    from plugin.outbox.models import OutboxItem
    from tests.services.factories import NOW, make_actor, make_platform
    from tests.services.test_concurrency import while_the_first_waits_to_commit

    ada = make_actor(make_platform(), "ada")

    def ask(n):
        try:
            return recipients.request_email(ada, f"v{n}@else.example", lambda t: f"http://localhost/c/{t}",
                                            NOW + timedelta(minutes=n)).user_id
        except RateLimited:
            db.session.rollback()
            return "refused"

    for n in range(recipients.CONFIRM_LIMIT - 1):
        ask(n)
    results = while_the_first_waits_to_commit(app, lambda: ask(10), lambda: ask(11))
    assert sorted(map(str, results)) == sorted([str(ada.user_id), "refused"])
    sent = db.session.scalars(db.select(OutboxItem.payload).where(OutboxItem.kind == "email")).all()
    assert len(sent) == recipients.CONFIRM_LIMIT


@pytest.mark.parametrize("address", ["victim@corp.example,bob", "x@evil.example(comment)", "<a@b.example>",
                                     '"a b"@x.example', "a@b.example;c@d.example"])
def test_an_address_a_mail_library_would_read_as_several_or_with_a_name_is_refused(appctx, address):
    """One plain address only: "victim@corp.example,bob" went out as two recipients of the confirmation link."""
    from plugin.badges import recipients
    from plugin.errors import InvalidInput
    from plugin.outbox.models import OutboxItem
    from tests.services.factories import NOW, make_actor, make_platform

    ada = make_actor(make_platform(), "ada")
    with pytest.raises(InvalidInput):
        recipients.request_email(ada, address, lambda t: f"http://localhost/c/{t}", NOW)
    assert db.session.scalar(db.select(db.func.count()).select_from(OutboxItem)) == 0
    assert recipients.request_email(ada, "Ada.Lovelace+tinker@sub.example.co.uk", lambda t: f"http://localhost/c/{t}",
                                    NOW).pending_email == "ada.lovelace+tinker@sub.example.co.uk"
