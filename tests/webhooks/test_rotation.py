"""Replacing an endpoint's signing secret (Admin → Webhooks, or the API): the new secret signs at once, and the one
it replaces keeps signing beside it for a day, so a receiver that still holds the old one accepts every delivery
meanwhile; a secret Tinker can no longer read (its SECRET_KEY changed) is replaced outright, which is how such an
endpoint is mended."""
from __future__ import annotations

import re

from sqlalchemy import select

from plugin.audit.models import AuditEvent
from plugin.extensions import db
from plugin.webhooks.models import WebhookEndpoint
from tests.api.conftest import bearer
from tests.support.platform import LTI, FakePlatform, token_from
from tests.web.helpers import text, visible
from tests.webhooks.conftest import verify
from tests.webhooks.test_webhooks_http import PAGE, add_endpoint, award, deliver


def _endpoint_id(client, admin: str) -> int:
    return int(re.search(r'/app/admin/webhooks/(\d+)/rotate', text(client.get(PAGE, query_string={"lt": admin})))
               .group(1))


def _replace(client, admin: str, endpoint_id: int):
    response = client.post(f"{PAGE}/{endpoint_id}/rotate", data={"lt": admin})
    assert response.status_code == 200, visible(response)[:1500]
    [secret] = re.findall(r'value="(whsec_[A-Za-z0-9+/=]+)"', text(response))
    return secret, visible(response)


def test_a_replaced_secret_keeps_signing_beside_the_new_one_for_a_day(app, client, launch, receiver):
    admin, manager, learner = launch(role="admin", sub="boss"), launch(role="instructor", sub="teach"), launch(sub="ada")
    old = add_endpoint(client, admin, receiver.url)
    endpoint_id = _endpoint_id(client, admin)
    new, page = _replace(client, admin, endpoint_id)
    assert new != old and "Until" in page and "also carry a signature with the secret it replaces" in page
    assert new not in text(client.get(PAGE, query_string={"lt": admin}))  # shown once

    award(client, manager, learner)
    deliver(app)
    [during] = receiver.received
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    assert verify(old, during) and verify(new, during)  # the receiver may hold either

    award(client, manager, launch(sub="bo"), comment="Second clinic")
    deliver(app, minutes=24 * 60 + 1)  # a day later: the new secret alone
    after = receiver.received[-1]
    assert verify(new, after) and not verify(old, after)
    assert len(after.headers["webhook-signature"].split(" ")) == 1
    with app.app_context():
        rotated = db.session.scalars(select(AuditEvent.details).where(
            AuditEvent.action == "webhook.secret_rotated")).all()
    assert len(rotated) == 1 and old not in str(rotated[0]) and new not in str(rotated[0])


def test_replaced_twice_within_the_day_the_secret_the_receiver_holds_still_signs(app, client, launch, receiver):
    """A double click (or a new secret lost before it was copied) replaces it again: the receiver still holds the
    first secret, which must keep signing beside the newest (and so does the middle one, which it may hold:
    tests/webhooks/test_rotation_review.py)."""
    admin, manager, learner = launch(role="admin", sub="boss"), launch(role="instructor", sub="teach"), launch(sub="ada")
    first = add_endpoint(client, admin, receiver.url)
    endpoint_id = _endpoint_id(client, admin)
    middle, _ = _replace(client, admin, endpoint_id)
    newest, _ = _replace(client, admin, endpoint_id)
    award(client, manager, learner)
    deliver(app)
    [received] = receiver.received
    assert verify(first, received) and verify(newest, received)


def test_an_endpoint_whose_secret_can_no_longer_be_read_is_mended_by_replacing_it(app, client, launch, receiver):
    admin, manager, learner = launch(role="admin", sub="boss"), launch(role="instructor", sub="teach"), launch(sub="ada")
    add_endpoint(client, admin, receiver.url)
    endpoint_id = _endpoint_id(client, admin)
    with app.app_context():  # as after the operator changed TINKER_SECRET_KEY
        db.session.get(WebhookEndpoint, endpoint_id).secret_encrypted = "gAAAAA-not-under-this-key"
        db.session.commit()
    award(client, manager, learner)
    deliver(app)
    assert receiver.received == []
    assert "can no longer be read" in visible(client.get(PAGE, query_string={"lt": admin}))
    new, page = _replace(client, admin, endpoint_id)
    assert "could no longer be read, so deliveries are signed with the new one alone" in page
    client.post(f"{PAGE}/resend", data={"lt": admin})
    deliver(app)
    [received] = receiver.received
    assert verify(new, received) and len(received.headers["webhook-signature"].split(" ")) == 1


def test_the_api_replaces_the_secret_for_admins_of_its_organisation_only(app, client, cli, launch, receiver):
    admin, manager = launch(role="admin", sub="boss"), launch(role="instructor", sub="teach")
    created = client.post("/api/v1/webhooks", headers=bearer(admin),
                          json={"url": receiver.url, "events": ["badge.earned"]}).get_json()
    answer = client.post(f"/api/v1/webhooks/{created['id']}/secret", headers=bearer(admin))
    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store"
    body = answer.get_json()
    assert body["secret"].startswith("whsec_") and body["secret"] != created["secret"]
    assert body["previous_signs_until"] is not None and body["id"] == created["id"]
    assert client.post(f"/api/v1/webhooks/{created['id']}/secret", headers=bearer(manager)).status_code == 403
    other = FakePlatform(issuer="https://other-lms.example", client_id="other", deployment_id="d-2")
    try:
        assert cli(*other.register_args(org="Other Org")).exit_code == 0
        their_admin = token_from(other.launch(client, role="admin", sub="boss")[0])
        assert client.post(f"/api/v1/webhooks/{created['id']}/secret", headers=bearer(their_admin)).status_code == 404
        assert client.post(f"{PAGE}/{created['id']}/rotate", data={"lt": their_admin}).status_code == 404
    finally:
        other.close()
    with app.app_context():
        assert db.session.get(WebhookEndpoint, created["id"]).replaced_secrets  # one rotation only
        assert len(db.session.scalars(select(AuditEvent).where(AuditEvent.action == "webhook.secret_rotated")).all()) == 1


def test_a_turkish_admin_replaces_the_secret_in_turkish(client, launch, receiver):
    admin = launch(role="admin", sub="boss", overrides={LTI + "launch_presentation": {"locale": "tr-TR"}})
    add_endpoint(client, admin, receiver.url)
    page = text(client.get(PAGE, query_string={"lt": admin}))
    assert "İmzalama anahtarını yenileyin" in page
    _secret, shown = _replace(client, admin, _endpoint_id(client, admin))
    assert "İmza anahtarını şimdi kopyalayın" in shown or "kopyalayın" in shown
    assert "New secret for" not in shown and "tarihine kadar" in shown


def test_the_same_endpoint_added_again_is_refused_rather_than_sent_every_event_twice(app, client, launch, receiver):
    """The add form sent again (Back, then Add) made a second endpoint for the same address and events: every event
    then reached the receiver twice. Another address, or other events for this one, are still added."""
    admin, manager, learner = launch(role="admin", sub="boss"), launch(role="instructor", sub="teach"), launch(sub="ada")
    add_endpoint(client, admin, receiver.url, events=("badge.earned",))
    again = client.post(PAGE, data={"lt": admin, "url": receiver.url, "description": "Chat bot",
                                    "events": ["badge.earned", "kudos.received"]})
    assert again.status_code == 422
    page = visible(again)
    assert "already receives badge.earned: each would be sent twice" in page and receiver.url in text(again)
    add_endpoint(client, admin, receiver.url, events=("kudos.received",))  # other events: a second endpoint is fine
    award(client, manager, learner)
    deliver(app)
    assert len(receiver.received) == 1
