"""Where webhooks and xAPI statements may go: only to the organisation's own endpoints, only to public addresses
(checked on the connection itself, so a host name that changes its answer between the check and the connection
is refused), with a port that exists, and the LRS secret only to the host it was given for."""
from __future__ import annotations

import inspect
import socket
import threading
import time

import pytest
from sqlalchemy import select

from plugin.core.actor import Role
from plugin.errors import InvalidInput
from plugin.extensions import db
from plugin.outbox import service as outbox
from plugin.outbox.models import OutboxItem
from plugin.recognition.service import give_kudos
from plugin.webhooks import service as webhooks
from plugin.webhooks.models import WebhookEndpoint
from plugin.xapi import service as xapi
from tests.services.factories import NOW, later, log, make_actor, make_platform
from tests.support.refusals import assert_refused_privately
from tests.webhooks.conftest import receiver, verify  # noqa: F401

PUBLIC = "93.184.216.34"


def add(admin, url, events=("kudos.received",)):
    return webhooks.create_endpoint(admin, webhooks.WebhookIn().load({"url": url, "events": list(events)}), NOW)


def test_a_removed_endpoints_deliveries_never_reach_an_endpoint_given_its_id_later(appctx, receiver):  # noqa: F811
    a = make_platform()
    admin_a, boss_a = make_actor(a, "admin", Role.ADMIN), make_actor(a, "boss", Role.MANAGER)
    ada = make_actor(a, "ada", name="Ada Lovelace")
    admin_b = make_actor(make_platform(issuer="https://other.example", organisation="Org B"), "admin-b", Role.ADMIN)
    endpoint_a, _ = add(admin_a, "https://hooks.org-a.example/in")
    give_kudos(boss_a, receiver_id=ada.user_id, message="Thanks", submission_key="kudos-1", now=later(1), points=5)
    db.session.commit()
    webhooks.delete_endpoint(admin_a, endpoint_a.id, later(2))  # before the queued delivery went out
    db.session.commit()
    assert db.session.query(OutboxItem).filter(OutboxItem.kind == webhooks.KIND).count() == 0  # gone with it
    add(admin_b, receiver.url)  # SQLite may give it the removed endpoint's id
    db.session.commit()
    outbox.process_due(later(3))
    assert [r.json["data"]["organisation_id"] for r in receiver.received] == []


def test_a_delivery_queued_for_another_organisations_endpoint_is_given_up(appctx, receiver):  # noqa: F811
    """An item whose endpoint id now belongs elsewhere (queued before removals cleared their items) is not sent."""
    a, b = make_platform(), make_platform(issuer="https://other.example", organisation="Org B")
    ada, admin_b = make_actor(a, "ada"), make_actor(b, "admin-b", Role.ADMIN)
    endpoint_b, _ = add(admin_b, receiver.url)
    outbox.enqueue(webhooks.KIND, "webhook:stale", {"endpoint_id": endpoint_b.id, "event": "kudos.received",
                                                    "message_id": "msg_1", "body": '{"data": {"organisation_id": %d}}'
                                                    % ada.organisation_id}, NOW, course_id=ada.course_id)
    db.session.commit()
    outbox.process_due(later(1))
    assert receiver.received == []
    assert db.session.query(OutboxItem).filter_by(dedupe_key="webhook:stale").one().last_error == \
        "the endpoint was removed"


@pytest.fixture
def rebinding(monkeypatch):
    """rebind.attacker.example answers a public address to the private-address check and 127.0.0.1 after."""
    real = socket.getaddrinfo

    def answer(host, port, *args, **kwargs):
        if host != "rebind.attacker.example":
            return real(host, port, *args, **kwargs)
        checking = any(frame.function == "private_address" for frame in inspect.stack()[1:6])
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (PUBLIC if checking else "127.0.0.1",
                                                                               port))]

    monkeypatch.setattr(socket, "getaddrinfo", answer)


def _rebinding_url(receiver, path):  # noqa: F811
    return f"http://rebind.attacker.example:{receiver.url.split(':')[2].split('/')[0]}{path}"


def test_a_webhook_host_that_rebinds_to_loopback_gets_nothing(app, appctx, receiver, rebinding, monkeypatch,  # noqa: F811
                                                               caplog):
    platform = make_platform()
    admin, ada = make_actor(platform, "admin", Role.ADMIN), make_actor(platform, "ada")
    add(admin, _rebinding_url(receiver, "/internal-admin"), events=("experiment.logged",))  # plain http: saved
    monkeypatch.setitem(app.config, "WEBHOOKS_ALLOW_PRIVATE_ENDPOINTS", False)  # while private receivers were allowed
    log(ada, later(1))
    db.session.commit()
    outbox.process_due(later(2))
    assert receiver.received == []
    item = db.session.query(OutboxItem).filter(OutboxItem.kind == webhooks.KIND).one()
    assert_refused_privately(item.last_error, caplog.text)


def test_an_lrs_host_that_rebinds_to_loopback_gets_nothing(app, appctx, receiver, rebinding, monkeypatch, caplog):  # noqa: F811
    platform = make_platform()
    admin, ada = make_actor(platform, "admin", Role.ADMIN), make_actor(platform, "ada")
    xapi.update_settings(admin, xapi.XIn().load({"enabled": True, "endpoint": _rebinding_url(receiver, "/x"),
                                                 "key": "k", "secret": "s"}), NOW)  # plain http: saved while
    monkeypatch.setitem(app.config, "XAPI_ALLOW_PRIVATE_ENDPOINTS", False)  # private endpoints were allowed
    log(ada, later(1))
    db.session.commit()
    outbox.process_due(later(2))
    assert receiver.received == []  # neither the statement nor the LRS credentials
    item = db.session.query(OutboxItem).filter(OutboxItem.kind == xapi.KIND).first()
    assert_refused_privately(item.last_error, caplog.text)


@pytest.mark.parametrize("url", ["https://hooks.example.org:99999/in", "https://hooks.example.org:0/in"])
def test_an_address_with_a_port_that_cannot_exist_is_refused_at_the_form(appctx, url):
    admin = make_actor(make_platform(), "admin", Role.ADMIN)
    with pytest.raises(Exception) as webhook:
        add(admin, url)
    assert "The port must be a number from 1 to 65535." in str(getattr(webhook.value, "messages", webhook.value))
    with pytest.raises(Exception) as lrs:
        xapi.XIn().load({"enabled": True, "endpoint": url, "key": "k", "secret": "s"})
    assert "The port must be a number from 1 to 65535." in str(getattr(lrs.value, "messages", lrs.value))


def test_the_saved_lrs_secret_goes_to_a_new_host_only_when_typed_again(appctx, receiver):  # noqa: F811
    admin = make_actor(make_platform(), "admin", Role.ADMIN)
    xapi.update_settings(admin, xapi.XIn().load({"enabled": True, "endpoint": "https://lrs.vendor.example/xapi",
                                                 "key": "tinker", "secret": "the-real-lrs-password"}), NOW)
    db.session.commit()
    with pytest.raises(InvalidInput) as refused:  # only the address changed, the secret left blank
        xapi.update_settings(admin, xapi.XIn().load({"enabled": True, "endpoint": receiver.url, "key": "tinker",
                                                     "secret": ""}), later(1))
    assert "give the secret again" in refused.value.errors["secret"][0]
    db.session.rollback()
    # the same host, another path: the saved secret stays in use, nothing to type again
    kept = xapi.update_settings(admin, xapi.XIn().load({"enabled": True, "key": "tinker", "secret": "",
                                                        "endpoint": "https://lrs.vendor.example/v2/xapi"}), later(2))
    assert kept.endpoint == "https://lrs.vendor.example/v2/xapi" and xapi.lrs_secret(kept) == "the-real-lrs-password"


def _dripping_receiver(pause: float, lines: int):
    """A receiver that answers its status line at once, then one header line every `pause` seconds."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(5)

    def serve():
        conn, _ = server.accept()
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 204 No Content\r\n")
        for _ in range(lines):
            time.sleep(pause)
            try:
                conn.sendall(b"X-Drip: a\r\n")
            except OSError:
                return
        conn.sendall(b"Content-Length: 0\r\n\r\n")
        conn.close()

    threading.Thread(target=serve, daemon=True).start()
    return server


def test_a_receiver_answering_a_byte_at_a_time_holds_the_delivery_worker_no_longer_than_twice_its_timeout(
        app, appctx, monkeypatch):
    monkeypatch.setitem(app.config, "WEBHOOKS_HTTP_TIMEOUT", 1)
    server = _dripping_receiver(pause=0.5, lines=16)  # 8 s in all, never 1 s without a byte
    platform = make_platform()
    admin, ada = make_actor(platform, "admin", Role.ADMIN), make_actor(platform, "ada")
    add(admin, f"http://127.0.0.1:{server.getsockname()[1]}/in", events=("experiment.logged",))
    log(ada, later(1))
    db.session.commit()
    outbox.process_due(later(2))
    server.close()
    item = db.session.query(OutboxItem).filter(OutboxItem.kind == webhooks.KIND).one()
    # cut off at twice the timeout (not the receiver's 8 s), and tried again later
    assert (item.status, item.last_error) == ("pending", "Retry: the receiver did not finish answering within 2 s")


def test_a_delivery_sent_after_a_slow_receiver_carries_the_time_it_is_sent(app, appctx, monkeypatch, receiver):  # noqa: F811
    """webhook-timestamp is what receivers check against their clock (5 minutes, Standard Webhooks): a batch's later
    deliveries, held up by another organisation's slow receiver, must not go out stamped with the batch's start."""
    monkeypatch.setitem(app.config, "WEBHOOKS_HTTP_TIMEOUT", 1)
    server = _dripping_receiver(pause=0.5, lines=16)  # cut off after 2 s
    a, b = make_platform(), make_platform(issuer="https://other.example", organisation="Org B")
    admin_a, ada = make_actor(a, "admin", Role.ADMIN), make_actor(a, "ada")
    admin_b, bob = make_actor(b, "admin-b", Role.ADMIN), make_actor(b, "bob")
    add(admin_a, f"http://127.0.0.1:{server.getsockname()[1]}/in", events=("experiment.logged",))
    _, secret_b = add(admin_b, receiver.url, events=("experiment.logged",))
    log(ada, later(1))
    log(bob, later(1))
    db.session.commit()
    started = later(2)
    outbox.process_due(started)
    server.close()
    [got] = receiver.received
    assert verify(secret_b, got)
    assert int(got.headers["webhook-timestamp"]) >= int(started.timestamp()) + 2


def test_a_rebinding_host_on_a_closed_port_reads_the_same_as_on_an_open_one(app, appctx, rebinding, monkeypatch,  # noqa: F811
                                                                            caplog):
    """The connection goes to the address checked, so nothing is tried on the private one: a closed port there is
    reported as an open one is (before, "could not connect" against "private address" told them apart)."""
    platform = make_platform()
    admin, ada = make_actor(platform, "admin", Role.ADMIN), make_actor(platform, "ada")
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    add(admin, f"http://rebind.attacker.example:{closed}/internal", events=("experiment.logged",))
    monkeypatch.setitem(app.config, "WEBHOOKS_ALLOW_PRIVATE_ENDPOINTS", False)
    log(ada, later(1))
    db.session.commit()
    outbox.process_due(later(2))
    item = db.session.query(OutboxItem).filter(OutboxItem.kind == webhooks.KIND).one()
    assert_refused_privately(item.last_error, caplog.text)


def test_a_proxy_in_the_environment_does_not_carry_deliveries_past_the_address_check(app, appctx, receiver,  # noqa: F811
                                                                                       monkeypatch, caplog):
    """Through HTTP_PROXY the connection was the proxy's and nobody checked where it went: a receiver at a private
    address got the delivery. Deliveries kept to the public internet are sent directly."""
    from plugin.outbox.http import send
    from plugin.outbox.registry import GiveUp
    from plugin.webhooks.messages import RECEIVER

    monkeypatch.setenv("HTTP_PROXY", receiver.url.rsplit("/", 1)[0])  # the receiver stands in for the proxy
    monkeypatch.setenv("NO_PROXY", "")
    with pytest.raises(GiveUp) as refused:
        send("POST", "http://10.1.2.3:8080/internal", who=RECEIVER, timeout=2, public_only=True, json={})
    assert "at 10.1.2.3:8080 answered from a private network address" in str(refused.value)  # the host typed
    assert "private network address (10.1.2.3)" in caplog.text
    assert receiver.received == []


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_endpoint_that_is_down_is_tried_once_a_pass_and_never_holds_up_another_organisations(appctx, receiver):  # noqa: F811
    a, b = make_platform(), make_platform(issuer="https://other.example", organisation="Org B")
    admin_a, boss_a, ada = make_actor(a, "admin", Role.ADMIN), make_actor(a, "boss", Role.MANAGER), make_actor(a, "ada")
    admin_b, boss_b, bo = (make_actor(b, "admin-b", Role.ADMIN), make_actor(b, "boss-b", Role.MANAGER),
                           make_actor(b, "bo"))
    port = _closed_port()
    add(admin_a, f"http://127.0.0.1:{port}/in/T0-secret-path")  # nothing listens there
    add(admin_b, receiver.url)
    for n in range(3):
        give_kudos(boss_a, receiver_id=ada.user_id, message="Thanks", submission_key=f"a-{n}", now=later(1), points=5)
        give_kudos(boss_b, receiver_id=bo.user_id, message="Thanks", submission_key=f"b-{n}", now=later(1), points=5)
    db.session.commit()
    counts = outbox.process_due(later(2))
    assert [r.json["data"]["organisation_id"] for r in receiver.received] == [bo.organisation_id] * 3
    errors = sorted(row.last_error for row in db.session.query(OutboxItem).filter(OutboxItem.kind == webhooks.KIND)
                    if row.status != "done")
    assert len(errors) == 3 and (counts.retried, counts.held) == (3, 2)
    assert sum(error.startswith("Retry: not sent: its receiver had just failed") for error in errors) == 2
    # the operator sees that endpoint failing, by its id, host and organisation (not its path: it may be a secret)
    from plugin.outbox.status import failing_receivers

    [failing] = failing_receivers()
    endpoint = db.session.scalar(select(WebhookEndpoint.id).where(
        WebhookEndpoint.organisation_id == ada.organisation_id))
    assert (failing.lane, failing.pending, failing.retrying) == (f"webhook:{endpoint}", 3, 3)
    assert failing.name == f"webhook endpoint {endpoint} on 127.0.0.1:{port} (Org A)"
