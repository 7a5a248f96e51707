"""The outbox handler that sends one statement to the organisation's LRS.

PUT {endpoint}/statements?statementId={id} (xAPI 1.0.3, Communication 2.1.1) with HTTP Basic auth and the
version header. The id travels with the statement, so sending it twice stores it once:
2xx = stored; 409 = the LRS already holds a statement with this id (an earlier try got through);
5xx, 408, 429 and network failures = try again later; any other answer (401/403 wrong key or secret,
404 wrong endpoint, 400 a statement the LRS refuses) = give up, with the LRS's own message.
"""
from __future__ import annotations

from datetime import datetime

import requests
from flask import current_app

from plugin.extensions import db
from plugin.outbox.registry import GiveUp, Retry, handler
from plugin.xapi.models import XapiSetting
from plugin.xapi.service import KIND
from plugin.xapi.statements import VERSION

HEADERS = {"X-Experience-API-Version": VERSION, "Content-Type": "application/json"}
RETRY_STATUSES = {408, 429}


def statements_url(endpoint: str) -> str:
    return endpoint.rstrip("/") + "/statements"


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
    statement = payload["statement"]
    url = statements_url(row.endpoint)
    try:
        response = requests.put(url, params={"statementId": statement["id"]}, json=statement,
                                auth=(row.key, row.secret), headers=HEADERS, allow_redirects=False,
                                timeout=current_app.config.get("XAPI_HTTP_TIMEOUT", 10))
    except requests.RequestException as exc:
        raise Retry(f"PUT {url} failed: {exc}") from None
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
