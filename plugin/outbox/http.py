"""HTTP for outbox handlers that call another system (an LRS, a webhook receiver): one request, never following
redirects, where a transport failure means "try again later" and the receiver's own words are kept."""
from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from plugin.outbox.registry import GiveUp, Retry


class _NotPublic(Exception):
    """The connection reached a non-public address (raised past urllib3, which retries only OSErrors)."""


def _public_only(connection_class):
    class Checked(connection_class):
        def _new_conn(self):
            sock = super()._new_conn()
            address = ipaddress.ip_address(sock.getpeername()[0].split("%")[0])
            if not address.is_global:
                sock.close()
                raise _NotPublic(str(address))
            return sock
    return Checked


class _PublicHTTPPool(HTTPConnectionPool):
    ConnectionCls = _public_only(HTTPConnection)


class _PublicHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _public_only(HTTPSConnection)


class _PublicOnlyAdapter(HTTPAdapter):
    """Connects only to public addresses, checked on the socket itself once connected (before a byte is sent): a
    host name that resolved to a public address for the check before sending and to a private one for the
    connection (DNS rebinding) is refused all the same."""

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _PublicHTTPPool, "https": _PublicHTTPSPool}


def valid_port(url: str) -> bool:
    """Whether the URL's port, if it names one, is a port (1 to 65535)."""
    try:
        port = urlsplit(url).port
    except ValueError:
        return False
    return port is None or port > 0


def send(method: str, url: str, *, who: str, timeout: float, public_only: bool = False,
         **kwargs) -> requests.Response:
    """The receiver's response; raises Retry (with a message naming `who`) when it could not be reached.
    `public_only`: refuse (GiveUp) a connection that lands on a loopback, private or link-local address."""
    try:
        if not public_only:
            return requests.request(method, url, allow_redirects=False, timeout=timeout, **kwargs)
        with requests.Session() as session:
            session.mount("http://", _PublicOnlyAdapter())
            session.mount("https://", _PublicOnlyAdapter())
            return session.request(method, url, allow_redirects=False, timeout=timeout, **kwargs)
    except _NotPublic as exc:
        raise GiveUp(f"{who} at {urlsplit(url).netloc} answered from a private address ({exc}), which this Tinker "
                     "does not send to") from None
    except requests.Timeout:
        raise Retry(f"{who} did not answer within {timeout:g} s") from None
    except requests.ConnectionError:
        raise Retry(f"could not connect to {who} at {urlsplit(url).netloc}") from None
    except requests.RequestException as exc:
        raise Retry(f"sending to {who} failed: {type(exc).__name__}: {str(exc)[:200]}") from None


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
