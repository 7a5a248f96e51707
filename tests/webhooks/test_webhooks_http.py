"""Webhooks end to end: an admin adds an endpoint on the admin page (the secret shown once), a manager awards
a badge through the API, and the outbox POSTs it to a real receiver that checks the signature itself; a 500 is
retried after the backoff, a 4xx fails with the receiver's message on the status page and can be re-sent with
the same webhook-id; another organisation's events never reach this organisation's endpoint."""
from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from plugin.audit.models import AuditEvent
from plugin.core.clock import utcnow
from plugin.extensions import db
from plugin.outbox import service as outbox
from plugin.outbox.models import OutboxItem
from tests.api.conftest import bearer
from tests.support.platform import FakePlatform, token_from
from tests.web.helpers import text, visible
from tests.webhooks.conftest import verify

PAGE = "/app/admin/webhooks"


def add_endpoint(client, admin: str, url: str, events=("badge.earned", "challenge.completed")) -> str:
    response = client.post(PAGE, data={"lt": admin, "url": url, "description": "Chat bot", "events": list(events)})
    assert response.status_code == 201, visible(response)[:2000]
    found = re.findall(r'value="(whsec_[A-Za-z0-9+/=]+)"', text(response))
    assert len(found) == 1
    return found[0]


def award(client, manager: str, learner: str, comment: str = "Ran the prompt clinic on Tuesday"):
    me = client.get("/api/v1/me", headers=bearer(learner)).get_json()
    course = me["course_id"]
    badge = next(b for b in client.get(f"/api/v1/courses/{course}/badges", headers=bearer(manager)).get_json()
                 if b["manual"])
    response = client.post(f"/api/v1/courses/{course}/awards", headers=bearer(manager),
                           json={"user_id": me["user_id"], "badge_id": badge["id"], "comment": comment})
    assert response.status_code == 201, response.get_json()
    return response.get_json(), badge, me


def deliver(app, minutes: float = 0):
    with app.app_context():
        counts = outbox.process_due(utcnow() + timedelta(minutes=minutes))
        db.session.remove()
    return counts


def test_a_badge_reaches_the_receiver_signed_and_a_500_is_retried_until_it_is_accepted(app, client, launch, receiver):
    admin, manager = launch(role="admin", sub="boss"), launch(role="instructor", sub="teach")
    learner = launch(sub="ada")
    secret = add_endpoint(client, admin, receiver.url)
    page = client.get(PAGE, query_string={"lt": admin})
    assert secret not in text(page)  # shown once, never again

    receiver.script = [(500, '{"message": "database busy"}')]
    awarded, badge, me = award(client, manager, learner, comment="Ran the prompt clinic on Tuesday")
    assert deliver(app).retried == 1
    page = visible(client.get(PAGE, query_string={"lt": admin}))
    assert "Waiting" in page and "HTTP 500: database busy" in page and "0 delivered, 1 waiting, 0 failed." in page

    assert deliver(app).processed == 0  # not due yet: the backoff holds it
    assert deliver(app, minutes=2).done == 1
    assert "1 delivered, 0 waiting, 0 failed." in visible(client.get(PAGE, query_string={"lt": admin}))

    first, second = receiver.received
    assert first.headers["webhook-id"] == second.headers["webhook-id"] and first.body == second.body
    assert first.headers["webhook-id"].startswith("msg_")
    assert verify(secret, first) and verify(secret, second)
    assert int(second.headers["webhook-timestamp"]) > int(first.headers["webhook-timestamp"])
    assert not verify("whsec_" + "A" * 43 + "=", first)  # a wrong secret does not verify
    event = second.json
    assert event["type"] == "badge.earned"
    assert event["data"]["award_id"] == awarded["id"] and event["data"]["badge"]["name"] == badge["name"]
    assert event["data"]["user"]["id"] == me["user_id"] and event["data"]["course"]["id"] == me["course_id"]
    assert "prompt clinic" not in second.body.decode()  # what the manager typed stays in Tinker

    with app.app_context():
        actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.action.like("webhook.%"))).all()
    assert actions == ["webhook.created"]


def test_a_4xx_fails_with_the_receivers_message_and_is_sent_again_with_the_same_id(app, client, launch, receiver):
    admin, manager = launch(role="admin", sub="boss"), launch(role="instructor", sub="teach")
    secret = add_endpoint(client, admin, receiver.url)
    receiver.script = [(400, '{"message": "unknown course 7, map it first"}')]
    award(client, manager, launch(sub="ada"))
    assert deliver(app).failed == 1
    page = visible(client.get(PAGE, query_string={"lt": admin}))
    assert "Failed" in page and "HTTP 400): unknown course 7, map it first" in page
    assert "0 delivered, 0 waiting, 1 failed." in page

    item_id = re.search(r'name="delivery" value="(\d+)"', text(client.get(PAGE, query_string={"lt": admin}))).group(1)
    resent = client.post(f"{PAGE}/resend", data={"lt": admin, "delivery": item_id})
    assert resent.status_code == 303
    assert "1 failed delivery queued again." in visible(client.get(resent.headers["Location"]))
    assert deliver(app).done == 1
    refused, accepted = receiver.received
    assert refused.headers["webhook-id"] == accepted.headers["webhook-id"] and verify(secret, accepted)
    with app.app_context():
        assert "webhook.resent" in db.session.scalars(select(AuditEvent.action)).all()


def test_another_organisations_events_never_reach_this_endpoint(app, client, cli, launch, receiver):
    admin = launch(role="admin", sub="boss")
    add_endpoint(client, admin, receiver.url)
    other = FakePlatform(issuer="https://other-lms.example", client_id="other", deployment_id="d-2")
    try:
        assert cli(*other.register_args(org="Other Org")).exit_code == 0
        their_manager = token_from(other.launch(client, role="instructor", sub="t9")[0])
        their_learner = token_from(other.launch(client, sub="l9")[0])
        their_admin = token_from(other.launch(client, role="admin", sub="boss")[0])
        award(client, their_manager, their_learner)
        assert deliver(app).processed == 0 and receiver.received == []
        page = visible(client.get(PAGE, query_string={"lt": their_admin}))
        assert "No endpoints yet." in page and receiver.url not in page and "Nothing sent yet." in page
    finally:
        other.close()


def test_turned_off_or_removed_endpoints_get_nothing_and_only_admins_see_the_page(app, client, launch, receiver):
    admin, manager = launch(role="admin", sub="boss"), launch(role="instructor", sub="teach")
    assert client.get(PAGE, query_string={"lt": manager}).status_code == 403
    assert client.post(PAGE, data={"lt": manager, "url": receiver.url, "events": "badge.earned"}).status_code == 403
    add_endpoint(client, admin, receiver.url, events=("badge.earned",))
    endpoint_id = re.search(r"/app/admin/webhooks/(\d+)/active", text(client.get(PAGE, query_string={"lt": admin})))
    assert client.post(f"{PAGE}/{endpoint_id.group(1)}/active", data={"lt": admin}).status_code == 303
    assert "off" in visible(client.get(PAGE, query_string={"lt": admin}))
    award(client, manager, launch(sub="ada"))
    assert deliver(app).processed == 0 and receiver.received == []

    bad = client.post(PAGE, data={"lt": admin, "url": "ftp://example.org/x", "events": "badge.earned"})
    assert bad.status_code == 422 and "full http:// or https:// address" in visible(bad)
    none = client.post(PAGE, data={"lt": admin, "url": receiver.url})
    assert none.status_code == 422
    assert client.post(f"{PAGE}/{endpoint_id.group(1)}/delete", data={"lt": admin}).status_code == 303
    assert "No endpoints yet." in visible(client.get(PAGE, query_string={"lt": admin}))


def test_admins_manage_endpoints_through_the_api_too(app, client, launch, receiver):
    admin, manager = bearer(launch(role="admin", sub="boss")), launch(role="instructor", sub="teach")
    created = client.post("/api/v1/webhooks", headers=admin, json={"url": receiver.url, "events": ["badge.earned"]})
    assert created.status_code == 201
    assert created.headers["Cache-Control"] == "no-store"  # the secret, shown once, is kept by no cache
    secret = created.get_json()["secret"]
    listed = client.get("/api/v1/webhooks", headers=admin)
    assert [w["url"] for w in listed.get_json()] == [receiver.url] and secret not in listed.get_data(as_text=True)

    receiver.script = [(422, '{"detail": "badge 99 is not mapped"}')]
    award(client, manager, launch(sub="ada"))
    assert deliver(app).failed == 1
    [failed] = client.get("/api/v1/webhooks/deliveries", headers=admin).get_json()
    assert (failed["status"], failed["attempts"], failed["event"]) == ("failed", 1, "badge.earned")
    assert "HTTP 422): badge 99 is not mapped" in failed["answer"]
    assert failed["message_id"] == receiver.received[0].headers["webhook-id"]

    resent = client.post("/api/v1/webhooks/deliveries/resend", headers=admin, json={"delivery_id": failed["id"]})
    assert resent.get_json() == {"queued": 1}
    assert deliver(app).done == 1 and verify(secret, receiver.received[1])
    assert receiver.received[1].headers["webhook-id"] == failed["message_id"]

    off = client.patch(f"/api/v1/webhooks/{created.get_json()['id']}", headers=admin, json={"active": False})
    assert off.status_code == 200 and off.get_json()["active"] is False
    assert client.delete(f"/api/v1/webhooks/{created.get_json()['id']}", headers=admin).status_code == 204
    assert client.get("/api/v1/webhooks", headers=admin).get_json() == []


def test_a_resend_of_one_delivery_sent_as_a_form_resends_nothing_and_says_to_send_json(app, client, launch, receiver):
    """`curl -d delivery_id=5` (a form body, not JSON) must not be read as "no delivery named": that would send
    every failed delivery of the organisation again. The API answers 415 and queues nothing."""
    admin, manager = bearer(launch(role="admin", sub="boss")), launch(role="instructor", sub="teach")
    created = client.post("/api/v1/webhooks", headers=admin, json={"url": receiver.url, "events": ["badge.earned"]})
    assert created.status_code == 201
    receiver.script = [(400, '{"message": "not yet"}'), (400, '{"message": "not yet"}')]
    award(client, manager, launch(sub="ada"))
    award(client, manager, launch(sub="bob"))
    assert deliver(app).failed == 2
    one = client.get("/api/v1/webhooks/deliveries", headers=admin).get_json()[0]["id"]

    for body, content_type in ((f"delivery_id={one}", "application/x-www-form-urlencoded"),
                               (f'{{"delivery_id": {one}}}', "text/plain"), (f'{{"delivery_id": {one}}}', None)):
        resent = client.post("/api/v1/webhooks/deliveries/resend", headers=admin, data=body, content_type=content_type)
        assert resent.status_code == 415, resent.get_json()
        assert resent.get_json()["error"]["code"] == "unsupported_media_type"
        assert "Content-Type: application/json" in resent.get_json()["error"]["message"]
    assert [d["status"] for d in client.get("/api/v1/webhooks/deliveries", headers=admin).get_json()] == ["failed"] * 2

    assert client.post("/api/v1/webhooks/deliveries/resend", headers=admin,
                       json={"delivery_id": one}).get_json() == {"queued": 1}


def test_the_receiver_snippet_in_the_docs_verifies_what_tinker_sends(app, client, launch, receiver):
    source = (Path(__file__).resolve().parents[2] / "docs" / "webhooks.md").read_text()
    snippet = re.search(r"## Verifying a request.*?```python\n(.*?)```", source, re.S).group(1)
    namespace: dict = {}
    exec(snippet, namespace)  # the documentation's own code, as a receiver would paste it
    secret = add_endpoint(client, launch(role="admin", sub="boss"), receiver.url)
    award(client, launch(role="instructor", sub="teach"), launch(sub="ada"))
    deliver(app)
    [got] = receiver.received
    assert namespace["verify"](secret, got.headers, got.body)
    assert not namespace["verify"](secret, got.headers, got.body.replace(b"badge.earned", b"badge.revoked"))


TURKISH = {"overrides": {"https://purl.imsglobal.org/spec/lti/claim/launch_presentation": {
    "return_url": "https://lms.example.edu/course/view.php?id=1", "locale": "tr-TR"}}}


def test_a_turkish_admin_reads_tinkers_words_about_a_delivery_in_turkish_and_the_receivers_as_it_said(
        app, client, launch, receiver):
    """The error is stored in English (the API gives it so); the status page puts Tinker's words in the reader's
    language around the receiver's own answer and the HTTP status."""
    admin, manager = launch(role="admin", sub="boss", **TURKISH), launch(role="instructor", sub="teach")
    add_endpoint(client, admin, receiver.url)
    receiver.script = [(503, '{"message": "database busy: try later"}'),
                       (400, '{"message": "unknown course 7, map it first"}')]
    award(client, manager, launch(sub="ada"))
    assert deliver(app).retried == 1
    page = visible(client.get(PAGE, query_string={"lt": admin}))
    assert "Yeniden denenecek: alıcı HTTP 503 ile yanıt verdi: database busy: try later" in page
    assert "the receiver answered" not in page
    english = visible(client.get(PAGE, query_string={"lt": launch(role="admin", sub="other-admin")}))
    assert "Retry: the receiver answered HTTP 503: database busy: try later" in english

    assert deliver(app, minutes=2).failed == 1
    page = visible(client.get(PAGE, query_string={"lt": admin}))
    assert "alıcı reddetti (HTTP 400): unknown course 7, map it first" in page and "refused it" not in page
    [delivery] = client.get("/api/v1/webhooks/deliveries", headers=bearer(admin)).get_json()
    assert delivery["answer"] == "the receiver refused it (HTTP 400): unknown course 7, map it first"

    item_id = re.search(r'name="delivery" value="(\d+)"', text(client.get(PAGE, query_string={"lt": admin}))).group(1)
    assert client.post(f"{PAGE}/resend", data={"lt": admin, "delivery": item_id}).status_code == 303
    page = visible(client.get(PAGE, query_string={"lt": admin}))
    assert "İstek üzerine yeniden gönderildi" in page and "Sent again on request" not in page


def test_a_resent_delivery_that_fails_again_shows_the_new_refusal_not_the_resend_note(app, client, launch, receiver):
    """After "Send again", the delivery's note says so while it waits; once the receiver refuses it again, the page
    and the API give the receiver's new answer (the note used to stay and hide it for good)."""
    admin, manager = launch(role="admin", sub="boss"), launch(role="instructor", sub="teach")
    add_endpoint(client, admin, receiver.url)
    receiver.script = [(400, '{"message": "unknown course 7"}'), (422, '{"message": "course 7 is archived"}')]
    award(client, manager, launch(sub="ada"))
    assert deliver(app).failed == 1
    item_id = re.search(r'name="delivery" value="(\d+)"', text(client.get(PAGE, query_string={"lt": admin}))).group(1)
    assert client.post(f"{PAGE}/resend", data={"lt": admin, "delivery": item_id}).status_code == 303
    assert "Sent again on request" in visible(client.get(PAGE, query_string={"lt": admin}))

    assert deliver(app).failed == 1
    page = visible(client.get(PAGE, query_string={"lt": admin}))
    assert "the receiver refused it (HTTP 422): course 7 is archived" in page
    assert "Sent again on request" not in page
    [delivery] = client.get("/api/v1/webhooks/deliveries", headers=bearer(admin)).get_json()
    assert delivery["answer"] == "the receiver refused it (HTTP 422): course 7 is archived"


def test_failed_deliveries_of_a_turned_off_endpoint_wait_until_it_is_on_again(app, client, launch, receiver):
    """"Send all failed deliveries again" put back deliveries of an endpoint the admin had turned off: each failed
    again at once ("the endpoint is turned off"). They now wait for the endpoint; one alone is refused, saying so."""
    admin, manager = launch(role="admin", sub="boss"), launch(role="instructor", sub="teach")
    add_endpoint(client, admin, receiver.url)
    receiver.script = [(400, '{"message": "not yet"}')]
    award(client, manager, launch(sub="ada"))
    assert deliver(app).failed == 1
    page = text(client.get(PAGE, query_string={"lt": admin}))
    endpoint_id = re.search(r"/app/admin/webhooks/(\d+)/active", page).group(1)
    item_id = re.search(r'name="delivery" value="(\d+)"', page).group(1)
    assert client.post(f"{PAGE}/{endpoint_id}/active", data={"lt": admin}).status_code == 303  # off

    every = client.post(f"{PAGE}/resend", data={"lt": admin})
    assert "0 failed deliveries queued again." in visible(client.get(every.headers["Location"]))
    one = client.post(f"{PAGE}/resend", data={"lt": admin, "delivery": item_id})
    assert one.status_code == 409 and "Turn its endpoint on first" in visible(one)
    assert deliver(app).processed == 0 and len(receiver.received) == 1

    assert client.post(f"{PAGE}/{endpoint_id}/active", data={"lt": admin, "active": "on"}).status_code == 303
    every = client.post(f"{PAGE}/resend", data={"lt": admin})
    assert "1 failed delivery queued again." in visible(client.get(every.headers["Location"]))
    assert deliver(app).done == 1


def test_delivery_counts_and_the_resend_toast_read_as_numbers_and_plurals_in_the_readers_language(
        app, client, launch, receiver):
    """The counts above the deliveries are grouped as the reader writes numbers (1.500 in Turkish, 1,500 in
    English), and "queued again" says one delivery or several deliveries, not "delivery(ies)"."""
    from plugin.tenancy.models import Course
    from plugin.webhooks import service as webhooks

    admin = launch(role="admin", sub="boss", **TURKISH)
    english = launch(role="admin", sub="other-admin")
    now = utcnow()
    with app.app_context():
        course_id = db.session.scalar(select(Course.id))
        db.session.execute(OutboxItem.__table__.insert(), [
            {"kind": webhooks.KIND, "dedupe_key": f"webhook:test:{n}", "course_id": course_id, "payload": {},
             "status": "done", "attempts": 1, "version": 1, "next_attempt_at": now, "created_at": now,
             "updated_at": now} for n in range(1500)])
        db.session.commit()
    page = visible(client.get(PAGE, query_string={"lt": admin}))
    assert "1.500 teslim edildi, 0 bekliyor, 0 başarısız." in page
    assert "1,500 delivered, 0 waiting, 0 failed." in visible(client.get(PAGE, query_string={"lt": english}))

    one = visible(client.get(PAGE, query_string={"lt": english, "requeued": "1"}))
    assert "1 failed delivery queued again." in one
    several = visible(client.get(PAGE, query_string={"lt": english, "requeued": "1500"}))
    assert "1,500 failed deliveries queued again." in several and "(ies)" not in several
    turkish = visible(client.get(PAGE, query_string={"lt": admin, "requeued": "1500"}))
    assert "1.500 başarısız gönderim yeniden sıraya alındı." in turkish


def test_a_waiting_deliverys_next_try_names_its_day_when_not_today_and_says_when_it_is_overdue(
        app, client, launch, receiver):
    """"(next try 09:00)" read as today's 09:00 whether the try was due tomorrow or two days ago (the worker not
    running): a try on another day names the day, one that is past says it is overdue; in the reader's language."""
    from babel.dates import format_date

    from plugin.tenancy.models import Course
    from plugin.webhooks import service as webhooks

    admin = launch(role="admin", sub="boss")
    turkish = launch(role="admin", sub="other-admin", **TURKISH)
    now = utcnow()
    tomorrow, overdue = now + timedelta(days=1), now - timedelta(days=2)
    with app.app_context():
        course_id = db.session.scalar(select(Course.id))
        db.session.execute(OutboxItem.__table__.insert(), [
            {"kind": webhooks.KIND, "dedupe_key": f"webhook:test:{name}", "course_id": course_id, "payload": {},
             "status": "pending", "attempts": 2, "version": 1, "next_attempt_at": due, "last_error": name,
             "created_at": now, "updated_at": now} for name, due in (("tomorrow", tomorrow), ("overdue", overdue))])
        db.session.commit()

    page = visible(client.get(PAGE, query_string={"lt": admin}))
    later = re.search(r"tomorrow \(([^)]*)\)", page).group(1)
    assert later.startswith("next try ") and format_date(tomorrow, "d MMM", locale="en") in later
    assert tomorrow.strftime("%H:%M") in later
    past = re.search(r"overdue \(([^)]*)\)", page).group(1)
    assert "overdue" in past and format_date(overdue, "d MMM", locale="en") in past

    page = visible(client.get(PAGE, query_string={"lt": turkish}))
    later = re.search(r"tomorrow \(([^)]*)\)", page).group(1)
    assert later.startswith("sonraki girişim ") and format_date(tomorrow, "d MMM", locale="tr") in later
    past = re.search(r"overdue \(([^)]*)\)", page).group(1)
    assert "gecikti" in past and format_date(overdue, "d MMM", locale="tr") in past


def test_each_endpoints_buttons_name_the_endpoint_they_act_on(client, launch, receiver):
    """With two endpoints the table had two "Turn off" and two "Remove" buttons: a screen-reader user tabbing
    through them could not tell which endpoint each would switch off or delete."""
    admin = launch(role="admin", sub="boss")
    add_endpoint(client, admin, f"{receiver.url}/chat")
    add_endpoint(client, admin, f"{receiver.url}/hr")
    page = text(client.get(PAGE, query_string={"lt": admin}))
    table = re.search(r"<caption[^>]*>Endpoints</caption>(.*?)</table>", page, re.S).group(1)
    buttons = [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", b)).strip() for b in re.findall(r"<button>(.*?)</button>", table, re.S)]
    assert sorted(buttons) == sorted([f"Turn off {receiver.url}/chat", f"Remove {receiver.url}/chat",
                                      f"Turn off {receiver.url}/hr", f"Remove {receiver.url}/hr"]), buttons


def test_each_send_again_button_names_the_delivery_it_sends(app, client, launch, receiver):
    """Two failed deliveries had two "Send again" buttons alike: each names its delivery's message id, shown in
    its row, so a screen-reader user tabbing through them knows which one each sends."""
    admin, manager = launch(role="admin", sub="boss"), launch(role="instructor", sub="teach")
    add_endpoint(client, admin, receiver.url)
    receiver.script = [(400, '{"message": "no"}'), (400, '{"message": "no"}')]
    award(client, manager, launch(sub="ada"))
    award(client, manager, launch(sub="bo"))
    assert deliver(app).failed == 2
    page = text(client.get(PAGE, query_string={"lt": admin}))
    ids = re.findall(r'<td><code>(msg_[^<]+|[0-9a-f-]{20,})</code></td>', page)
    buttons = [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", b)).strip()
               for b in re.findall(r'name="delivery" value="\d+"><button>(.*?)</button>', page, re.S)]
    assert len(buttons) == 2 and sorted(buttons) == sorted(f"Send again {i}" for i in ids), (buttons, ids)


def test_a_delivery_the_operator_dismissed_reads_as_dismissed_with_nothing_to_send_again(app, client, cli, launch,
                                                                                          receiver):
    admin, manager = launch(role="admin", sub="boss"), launch(role="instructor", sub="teach")
    add_endpoint(client, admin, receiver.url)
    receiver.script = [(410, '{"message": "this hook is gone"}')]
    award(client, manager, launch(sub="ada"))
    assert deliver(app).failed == 1
    assert "Send again" in visible(client.get(PAGE, query_string={"lt": admin}))

    result = cli("outbox", "dismiss", "--kind", "webhook")
    assert result.exit_code == 0 and "1 failed delivery dismissed" in result.output
    page = visible(client.get(PAGE, query_string={"lt": admin}))
    assert "Dismissed" in page and "Dismissed by the operator: not sent" in page and "Send again" not in page
    assert "the receiver refused it (HTTP 410): this hook is gone" in page  # what made it fail, still shown
    assert "0 delivered, 0 waiting, 0 failed." in page
    [delivery] = client.get("/api/v1/webhooks/deliveries", headers=bearer(admin)).get_json()
    assert delivery["status"] == "dismissed"
    assert delivery["answer"] == "the receiver refused it (HTTP 410): this hook is gone"
    assert client.post("/api/v1/webhooks/deliveries/resend", headers=bearer(admin), json={}).get_json() == {"queued": 0}
    turkish = visible(client.get(PAGE, query_string={"lt": launch(role="admin", sub="boss", **TURKISH)}))
    assert "Dismissed" not in turkish and "Dismissed by the operator" not in turkish
    assert deliver(app, minutes=60).processed == 0 and len(receiver.received) == 1  # never sent again
