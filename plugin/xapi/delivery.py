"""The outbox handler that sends one statement to the organisation's LRS.

PUT {endpoint}/statements?statementId={id} (xAPI 1.0.3, Communication 2.1.1) with HTTP Basic auth and the
version header. The id travels with the statement, so sending it twice stores it once:
2xx = stored; 409 = the LRS already holds a statement with this id (an earlier try got through);
5xx, 408, 429 and network failures = try again later; any other answer (401/403 wrong key or secret,
404 wrong endpoint, 400 a statement the LRS refuses) = give up, with the LRS's own message.

Redirects are not followed, and unless the operator allows it (TINKER_XAPI_ALLOW_PRIVATE_ENDPOINTS, on
outside production) an endpoint whose host resolves to a loopback, private or link-local address is
refused: an organisation's admin must not be able to make the server probe its own network.
"""
from __future__ import annotations

import ipaddress
import socket
from datetime import datetime
from urllib.parse import urlsplit

import requests
from flask import current_app

from plugin.extensions import db
from plugin.outbox.registry import GiveUp, Retry, handler
from plugin.xapi.models import XapiSetting
from plugin.xapi.service import KIND, lrs_secret
from plugin.xapi.statements import VERSION

HEADERS = {"X-Experience-API-Version": VERSION, "Content-Type": "application/json"}
RETRY_STATUSES = {408, 429}


def statements_url(endpoint: str) -> str:
    return endpoint.rstrip("/") + "/statements"


def private_address(url: str) -> str | None:
    """The first non-public address the URL's host resolves to, if any (None: all public)."""
    parts = urlsplit(url)
    try:
        found = socket.getaddrinfo(parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80),
                                   proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise Retry(f"cannot resolve the LRS host {parts.hostname!r}: {exc}") from None
    for *_rest, sockaddr in found:
        address = ipaddress.ip_address(sockaddr[0].split("%")[0])
        if not address.is_global:
            return str(address)
    return None


def _message(response: requests.Response) -> str:
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


@handler(KIND)
def deliver(payload: dict, now: datetime) -> str:
    row = db.session.get(XapiSetting, payload["organisation_id"])
    if row is None or not row.ready:
        raise GiveUp("xAPI is off for this organisation, or its LRS details are incomplete")
    secret = lrs_secret(row)
    if secret is None:
        raise GiveUp("the saved LRS secret can no longer be read (the app's secret key changed): save it again")
    statement = payload["statement"]
    url = statements_url(row.endpoint)
    if not current_app.config.get("XAPI_ALLOW_PRIVATE_ENDPOINTS", False):
        address = private_address(url)
        if address:
            raise GiveUp(f"the LRS endpoint's host resolves to a private address ({address}), which this "
                         "Tinker does not send to")
    timeout = current_app.config.get("XAPI_HTTP_TIMEOUT", 10)
    try:
        response = requests.put(url, params={"statementId": statement["id"]}, json=statement,
                                auth=(row.key, secret), headers=HEADERS, allow_redirects=False, timeout=timeout)
    except requests.Timeout:
        raise Retry(f"the LRS did not answer within {timeout:g} s") from None
    except requests.ConnectionError:
        raise Retry(f"could not connect to the LRS at {urlsplit(url).netloc}") from None
    except requests.RequestException as exc:
        raise Retry(f"sending to the LRS failed: {type(exc).__name__}: {str(exc)[:200]}") from None
    status = response.status_code
    if 200 <= status < 300:
        return f"stored by the LRS (HTTP {status})"
    if status == 409:
        return f"the LRS already holds a statement with this id (HTTP 409: {_message(response)})"[:500]
    detail = _message(response)
    if status >= 500 or status in RETRY_STATUSES:
        raise Retry(f"the LRS answered HTTP {status}: {detail}")
    if status in (401, 403):
        raise GiveUp(f"the LRS refused Tinker's key and secret (HTTP {status}): {detail}")
    if 300 <= status < 400:
        raise GiveUp(f"the LRS endpoint redirects (HTTP {status} to {response.headers.get('Location', '?')}): "
                     "save the address it redirects to")
    raise GiveUp(f"the LRS refused the statement (HTTP {status}): {detail}")
