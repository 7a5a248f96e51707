"""HTTP for outbox handlers that call another system (an LRS, a webhook receiver): one request, never following
redirects, where a transport failure means "try again later" and the receiver's own words are kept."""
from __future__ import annotations

import ipaddress
import logging
import os
import socket
import threading
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, LocationValueError, NameResolutionError, NewConnectionError
from urllib3.util.connection import create_connection

from plugin.outbox.messages import Peer
from plugin.outbox.registry import GiveUp, Retry

log = logging.getLogger(__name__)

MAX_ANSWER = 4096  # bytes of a receiver's answer kept (answer_text shows at most 300 characters of it)


_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


def is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether a connection to `address` reaches the public internet: the address is global, and so is any IPv4
    address carried inside an IPv6 one (IPv4-mapped, 6to4, Teredo, NAT64 and the old IPv4-compatible form), which a
    gateway on the way turns back into that IPv4 address: 2002:7f00:1:: is 127.0.0.1 by 6to4, 64:ff9b::a00:1 is
    10.0.0.1 by NAT64, though Python calls both global."""
    if not address.is_global:
        return False
    if address.version == 4:
        return True
    inner = [address.ipv4_mapped, address.sixtofour, address.teredo[1] if address.teredo else None]
    if any(address in network for network in _NAT64) or address in _IPV4_COMPATIBLE:
        inner.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return all(embedded is None or embedded.is_global for embedded in inner)


class NotPublic(Exception):
    """The connection reached a non-public address (raised past urllib3, which retries only OSErrors)."""


class Unfinished(requests.RequestException):
    """The answer did not finish arriving within the exchange's deadline (the socket was shut down)."""


class _Guard:
    """What one request's connections must respect: public addresses only (when asked), and a deadline for the
    whole exchange, after which the socket is shut down (a receiver answering a byte at a time would otherwise hold
    the delivery worker, which every organisation shares, for as long as it liked: the timeout bounds each read)."""

    def __init__(self, public_only: bool, seconds: float) -> None:
        self.public_only, self.seconds = public_only, seconds
        self.timers: list[threading.Timer] = []
        self.expired = False

    def vetted(self, host: str, port: int) -> list[str]:
        """The addresses to connect to for `host`, in the resolver's order: every address it resolves to must be
        public, and the connection goes to one of those checked (resolving again to connect would let a name rebind
        to a private address in between, and whether that port answered would show in the delivery's error)."""
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in found]
        for address in addresses:
            if not is_public(address):
                raise NotPublic(str(address))
        return list(dict.fromkeys(str(address) for address in addresses))

    def watch(self, sock: socket.socket) -> None:
        if self.public_only:
            address = ipaddress.ip_address(sock.getpeername()[0].split("%")[0])
            if not is_public(address):
                sock.close()
                raise NotPublic(str(address))
        timer = threading.Timer(self.seconds, self._expire, (sock,))
        timer.daemon = True
        timer.start()
        self.timers.append(timer)

    def _expire(self, sock: socket.socket) -> None:
        self.expired = True
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def stop(self) -> None:
        for timer in self.timers:
            timer.cancel()


class _GuardedAdapter(HTTPAdapter):
    """Connections checked by `guard` once connected, before a byte is sent: a host name that resolved to a public
    address for the check before sending and to a private one for the connection (DNS rebinding) is refused."""

    def __init__(self, guard: _Guard) -> None:
        self.guard = guard
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        guard = self.guard

        def guarded(connection_class):
            class Guarded(connection_class):
                def _new_conn(self):
                    """urllib3's, connecting to the address guard.vetted checked (TLS still names the host)."""
                    try:
                        addresses = guard.vetted(self._dns_host, self.port) if guard.public_only else [self._dns_host]
                        sock = _first_answering(addresses, self.port, self.timeout, self.source_address,
                                                self.socket_options)
                    except socket.gaierror as exc:
                        raise NameResolutionError(self.host, self, exc) from exc
                    except TimeoutError as exc:
                        raise ConnectTimeoutError(self, f"Connection to {self.host} timed out.") from exc
                    except OSError as exc:
                        raise NewConnectionError(self, f"Failed to establish a new connection: {exc}") from exc
                    guard.watch(sock)
                    return sock
            return Guarded

        self.poolmanager.pool_classes_by_scheme = {
            "http": type("GuardedHTTPPool", (HTTPConnectionPool,), {"ConnectionCls": guarded(HTTPConnection)}),
            "https": type("GuardedHTTPSPool", (HTTPSConnectionPool,), {"ConnectionCls": guarded(HTTPSConnection)})}


def _first_answering(addresses: list[str], port: int, timeout, source_address, socket_options) -> socket.socket:
    """A connection to the first of `addresses` that takes it (as a resolver-driven connect tries each address a
    name has: an LMS whose IPv6 address does not answer from here is reached on its IPv4 one); the last one's error
    when none does."""
    for index, address in enumerate(addresses):
        try:
            return create_connection((address, port), timeout, source_address=source_address,
                                     socket_options=socket_options)
        except OSError:
            if index == len(addresses) - 1:
                raise
    raise OSError("no address to connect to")


def _read_capped(response: requests.Response, limit: int = MAX_ANSWER) -> None:
    """Read at most `limit` bytes of the answer into the response, then let the connection go."""
    kept = bytearray()
    for chunk in response.iter_content(1024):
        kept += chunk
        if len(kept) >= limit:
            break
    response._content = bytes(kept[:limit])  # what .text and .json() read
    response.close()


def valid_port(url: str) -> bool:
    """Whether the URL's port, if it names one, is a port (1 to 65535)."""
    try:
        port = urlsplit(url).port
    except ValueError:
        return False
    return port is None or port > 0


def in_the_clear(url: str, allow_private_setting: str) -> bool:
    """Whether `url` is plain http where the operator keeps receivers to the public internet (`allow_private_setting`
    off, as in production): what goes there names people, so it goes over https. An operator who allows private
    receivers (an internal network) may use http there."""
    from flask import current_app

    return urlsplit(url.strip()).scheme.lower() == "http" and not current_app.config.get(allow_private_setting, False)


def request(method: str, url: str, *, timeout: float, public_only: bool = False, keep: int | None = MAX_ANSWER,
            deadline: float | None = None, redirects: bool = False, **kwargs) -> requests.Response:
    """One HTTP request, following no redirect unless `redirects` (each connection checked alike): the response with
    at most `keep` bytes of its answer read (None: all of it). `timeout` bounds the connection and each read, `deadline` (default twice `timeout`) the whole
    exchange: past it the socket is shut down and Unfinished raised. `public_only`: a connection that lands on a
    loopback, private or link-local address raises NotPublic before a byte is sent, and proxies from the environment
    are not used (the connection would be the proxy's, past the address check). Raises requests' exceptions too."""
    guard = _Guard(public_only, deadline if deadline is not None else 2 * timeout)
    try:
        with requests.Session() as session:
            session.trust_env = not public_only
            if public_only:  # the environment's proxies are left out, not the CA bundle the operator trusts
                session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
            session.mount("http://", _GuardedAdapter(guard))
            session.mount("https://", _GuardedAdapter(guard))
            response = session.request(method, url, allow_redirects=redirects, timeout=timeout, stream=True, **kwargs)
            if keep is None:
                response.content  # noqa: B018 - read it all now, within the deadline
                response.close()
            else:
                _read_capped(response, keep)
        if guard.expired:  # cut off mid-answer (what arrived may look whole)
            raise Unfinished(f"the answer did not finish within {guard.seconds:g} s")
        return response
    except (LocationValueError, UnicodeError) as exc:  # a redirect to a host no resolver takes ("a..example.com")
        raise requests.exceptions.InvalidURL(f"invalid address: {exc}") from None
    except requests.RequestException:
        if guard.expired:
            raise Unfinished(f"the answer did not finish within {guard.seconds:g} s") from None
        raise
    finally:
        guard.stop()


def send(method: str, url: str, *, who: Peer, timeout: float, public_only: bool = False, keep: int = MAX_ANSWER,
         **kwargs) -> requests.Response:
    """request() for an outbox handler: the receiver's response (its first `keep` bytes); raises Retry (with a
    message naming `who`) when it could not be reached or did not finish answering within twice `timeout`, GiveUp
    when `public_only` and the connection landed on a loopback, private or link-local address."""
    try:
        return request(method, url, timeout=timeout, public_only=public_only, keep=keep, **kwargs)
    except NotPublic as exc:
        refused_private(url, exc)
        raise GiveUp(who.private(host=host_of(url))) from None
    except Unfinished:  # not known to be received, so again
        raise Retry(who.unfinished(seconds=f"{2 * timeout:g}")) from None
    except requests.Timeout:
        raise Retry(who.slow(seconds=f"{timeout:g}")) from None
    except requests.ConnectionError:
        raise Retry(who.unreachable(host=host_of(url))) from None
    except requests.RequestException as exc:
        raise Retry(who.failed(error=f"{type(exc).__name__}: {str(exc)[:200]}")) from None


def refused_private(url: str, address: object) -> None:
    """Log the non-public address a refused URL's host led to. Only the operator's log names it: the record or page
    that says the call was refused names the host (which whoever set the URL typed), never the address, which would
    tell them how this server's network resolves the names they choose."""
    log.warning("not calling %s: a private network address (%s)", host_of(url), address)


def host_of(url: str) -> str:
    """host[:port] of the URL for a message or a receiver's name: never its user name, password, path or query."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    return f"{parts.hostname or ''}{f':{port}' if port else ''}"


def answer_text(response: requests.Response) -> str:
    """What the receiver said, shortened: a JSON error's message (detail/message/error) or the body's text."""
    try:
        body = response.json()
    except ValueError:
        return (response.text or "").strip()[:300]
    if isinstance(body, dict):
        for field in ("detail", "message", "error", "errorMessage"):
            found = body.get(field)
            if isinstance(found, list):  # FastAPI-style validation errors: where and what, first few
                found = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', []))}: {e.get('msg', '')}"
                                  if isinstance(e, dict) else str(e) for e in found[:3])
            if found:
                return str(found)[:300]
    return str(body)[:300]
