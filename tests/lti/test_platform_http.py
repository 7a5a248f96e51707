"""Calls to an LMS kept to public addresses (plugin/lti/platform_http.py, over plugin/outbox/http.request) against
real HTTP(S) servers: such an LMS is reached as it was before the guard (on its next address, with the operator's CA
bundle), and a malformed redirect is an HTTP error its callers catch.

Tests cannot own a public address: the loopback stands in for the public internet here (is_public is told so), and
a name resolving to two addresses is given by the resolver. Everything else (the sockets, TLS, the HTTP exchange)
is real."""
from __future__ import annotations

import socket
import threading

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Response

from plugin.lti import platform_http
from plugin.outbox import http as outbox_http
from tests.support.tls import make_certificates, server_context

NAME = "lms.dual-stack.test"


def _serve(ssl_context=None):
    server = make_server("127.0.0.1", 0, lambda environ, start: Response('{"keys": []}')(environ, start),
                         threaded=True, ssl_context=ssl_context)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server


@pytest.fixture
def loopback_is_public(monkeypatch):
    monkeypatch.setattr(outbox_http, "is_public", lambda address: address.is_loopback)


@pytest.fixture
def lms_kept_public(app, monkeypatch):
    with app.app_context():
        monkeypatch.setitem(app.config, "LTI_ALLOW_PRIVATE_PLATFORMS", False)
        yield


def test_an_lms_whose_first_address_refuses_is_reached_on_its_next_one(lms_kept_public, loopback_is_public,
                                                                         monkeypatch):
    """A dual-stack LMS whose IPv6 address does not answer from this server (a route or firewall missing) is reached
    on its IPv4 one, as requests alone reaches it; connecting to the first address only failed every key set fetch
    (every launch), grade and roster call to that LMS."""
    server = _serve()
    port = server.server_port
    real = socket.getaddrinfo

    def resolve(host, *args, **kwargs):
        if host != NAME:
            return real(host, *args, **kwargs)
        return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("::1", port, 0, 0)),  # nothing listens there
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    try:
        url = f"http://{NAME}:{port}/jwks"
        assert outbox_http.request("GET", url, timeout=2, keep=None).status_code == 200  # unguarded: reached
        assert platform_http.call("GET", url, timeout=2).status_code == 200
    finally:
        server.shutdown()


def test_an_lms_whose_certificate_the_operators_ca_bundle_vouches_for_is_still_reached(
        lms_kept_public, loopback_is_public, monkeypatch, tmp_path):
    """An LMS on a public address with a certificate from the organisation's own CA, which the operator trusts with
    REQUESTS_CA_BUNDLE: calls kept public leave the environment's proxies out, not that bundle."""
    ca, cert, key = make_certificates(tmp_path)
    server = _serve(server_context(cert, key))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca))
    try:
        url = f"https://127.0.0.1:{server.server_port}/jwks"
        import requests

        assert requests.get(url, timeout=2).status_code == 200  # as service_token calls the same LMS
        assert platform_http.call("GET", url, timeout=2).status_code == 200
    finally:
        server.shutdown()


@pytest.mark.parametrize("kept_public", [True, False])
def test_a_redirect_to_a_malformed_host_is_a_requests_error_its_callers_catch(app, monkeypatch, kept_public):
    """Roster pages follow redirects: a Location whose host has an empty or overlong label (UnicodeError from the
    resolver, LocationParseError from urllib3) is requests.InvalidURL, which callers report as an unreachable LMS,
    not an unexpected failure."""
    import http.server

    import requests

    class Redirect(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            self.send_response(302)
            self.send_header("Location", "http://a..example.com/page")  # as the LMS wrote it
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    monkeypatch.setattr(outbox_http, "is_public", lambda address: address.is_loopback)
    try:
        with app.app_context():
            monkeypatch.setitem(app.config, "LTI_ALLOW_PRIVATE_PLATFORMS", not kept_public)
            with pytest.raises(requests.RequestException):
                platform_http.call("GET", f"http://127.0.0.1:{server.server_address[1]}/roster", timeout=2, redirects=True)
    finally:
        server.shutdown()
