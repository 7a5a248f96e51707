"""Review of secret rotation and the refusal of an address added twice: a receiver that switched to the new secret
keeps accepting deliveries when the secret is replaced again within the day; the same receiver written with its
host in capitals is the same address; the audit page reads when the replaced secret stops signing as a date."""
from __future__ import annotations

import re

from tests.api.conftest import bearer
from tests.web.helpers import visible
from tests.webhooks.conftest import verify
from tests.webhooks.test_rotation import _endpoint_id, _replace
from tests.webhooks.test_webhooks_http import PAGE, add_endpoint, award, deliver


def test_a_receiver_that_switched_to_the_new_secret_keeps_accepting_when_it_is_replaced_again(
        app, client, launch, receiver):
    """The page says: give the receiver the new secret within the day. One that did, and then sees the secret
    replaced again that day (a second admin, the new one pasted somewhere it should not be), holds the middle
    secret: it must keep signing beside the newest, as the first does for a receiver that never switched."""
    admin, manager = launch(role="admin", sub="boss"), launch(role="instructor", sub="teach")
    first = add_endpoint(client, admin, receiver.url)
    endpoint_id = _endpoint_id(client, admin)
    middle, _page = _replace(client, admin, endpoint_id)
    award(client, manager, launch(sub="ada"))
    deliver(app)
    assert verify(middle, receiver.received[-1])  # the receiver switches to it
    newest, _page = _replace(client, admin, endpoint_id)
    award(client, manager, launch(sub="bo"), comment="Second clinic")
    deliver(app)
    received = receiver.received[-1]
    assert verify(middle, received) and verify(first, received) and verify(newest, received)


def test_the_same_receiver_with_its_host_in_capitals_is_refused_a_trailing_slash_is_another_address(
        app, client, launch, receiver):
    """Scheme and host name are case-insensitive (RFC 3986 6.2.2.1), and :80 is http's own port: those spellings
    reach the same receiver, so each event would reach it twice. A path is the receiver's own (/hooks and /hooks/
    may be two handlers), so a different path, trailing slash included, is another address."""
    admin, manager = launch(role="admin", sub="boss"), launch(role="instructor", sub="teach")
    url = receiver.url.replace("127.0.0.1", "localhost")
    add_endpoint(client, admin, url, events=("badge.earned",))
    spelled = url.replace("http://localhost", "HTTP://LocalHost")
    again = client.post(PAGE, data={"lt": admin, "url": spelled, "events": ["badge.earned"]})
    assert again.status_code == 422 and "already receives badge.earned" in visible(again)
    slash = client.post(PAGE, data={"lt": admin, "url": url + "/", "events": ["badge.earned"]})
    assert slash.status_code == 201, visible(slash)[:1500]
    award(client, manager, launch(sub="ada"))
    deliver(app)
    assert len(receiver.received) == 2  # once to each path


def test_the_audit_page_reads_until_when_the_replaced_secret_signs_as_a_date(client, launch, receiver):
    admin = launch(role="admin", sub="boss")
    add_endpoint(client, admin, receiver.url)
    _replace(client, admin, _endpoint_id(client, admin))
    page = visible(client.get("/app/admin/audit", query_string={"lt": admin}))
    assert "+00:00" not in page
    assert re.search(r"The replaced secret signs until: \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d", page), page[:3000]


def test_the_api_document_leads_from_an_added_endpoint_to_replacing_its_secret(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    created = doc["paths"]["/webhooks"]["post"]["responses"]["201"]["links"]
    assert {link["operationId"] for link in created.values()} >= {"rotate_webhook_secret"}


def test_an_api_client_refused_the_same_address_is_told_what_to_do_without_a_page(client, launch, receiver):
    admin = launch(role="admin", sub="boss")
    body = {"url": receiver.url, "events": ["badge.earned"]}
    assert client.post("/api/v1/webhooks", headers=bearer(admin), json=body).status_code == 201
    again = client.post("/api/v1/webhooks", headers=bearer(admin), json=body)
    assert again.status_code == 422
    [message] = again.get_json()["error"]["errors"]["url"]
    assert "each would be sent twice" in message and "below" not in message


def test_which_spellings_of_an_address_count_as_the_same_receiver():
    from plugin.webhooks.service import same_address

    hook = "https://hooks.example.org/tinker"
    for same in ("HTTPS://Hooks.Example.ORG/tinker", "https://hooks.example.org:443/tinker", f"  {hook} "):
        assert same_address(hook, same), same
    for other in ("https://hooks.example.org/tinker/", "https://hooks.example.org/Tinker",
                  "http://hooks.example.org/tinker", "https://hooks.example.org:8443/tinker",
                  "https://hooks.example.org/tinker?team=2"):
        assert not same_address(hook, other), other
    assert same_address("http://hooks.example.org", "http://hooks.example.org:80/")


def test_an_address_whose_endpoint_is_turned_off_is_refused_in_words_that_fit(app, client, launch, receiver):
    """Adding an address again while its endpoint is turned off is refused too (turned on again, each event would
    reach the receiver twice), but not as "already receives": it says the endpoint is turned off and what to do."""
    admin = launch(role="admin", sub="boss")
    add_endpoint(client, admin, receiver.url, events=("badge.earned",))
    endpoint_id = _endpoint_id(client, admin)
    assert client.post(f"{PAGE}/{endpoint_id}/active", data={"lt": admin}).status_code == 303  # off
    again = client.post(PAGE, data={"lt": admin, "url": receiver.url, "events": ["badge.earned"]})
    page = visible(again)
    assert again.status_code == 422 and "already receives" not in page
    assert "A turned-off endpoint for this address has badge.earned: turn it on again, or remove it first" in page
