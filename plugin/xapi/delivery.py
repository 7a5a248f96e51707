"""The outbox handler that sends one statement to the organisation's LRS.

PUT {endpoint}/statements?statementId={id} (xAPI 1.0.3, Communication 2.1.1) with HTTP Basic auth and the
version header. The id travels with the statement, so sending it twice stores it once:
A voiding statement waits until the statement it voids has reached the LRS (sent after it, the LRS would
keep that statement standing). 2xx = stored; 409 = the LRS already holds a statement with this id (an earlier try got through);
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

from flask import current_app
from sqlalchemy import select

from plugin.extensions import db
from plugin.outbox.http import answer_text, host_of, is_public, refused_private, send
from plugin.outbox.models import DISMISSED, FAILED, PENDING, OutboxItem
from plugin.outbox.registry import GiveUp, Retry, handler, lane_namer, numbered, trimmer
from plugin.tenancy.models import Organisation
from plugin.xapi import messages as said
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
    except (socket.gaierror, UnicodeError, ValueError) as exc:  # ValueError: a port out of range
        raise Retry(said.UNRESOLVED(host=repr(parts.hostname), error=exc)) from None
    for *_rest, sockaddr in found:
        address = ipaddress.ip_address(sockaddr[0].split("%")[0])
        if not is_public(address):
            return str(address)
    return None


# What a statement keeps once long sent: its id (a later void names it), verb and time (the admin's list of statements).
# Its actor, object and context (a person's account, name or address, what they did) go.
KEPT_STATEMENT_FIELDS = ("id", "verb", "timestamp")


@lane_namer("xapi")
def _lane_names(ids: list[str]) -> dict[str, str]:
    rows = db.session.execute(select(Organisation.id, Organisation.name, XapiSetting.endpoint)
                              .outerjoin(XapiSetting, XapiSetting.organisation_id == Organisation.id)
                              .where(Organisation.id.in_(numbered(ids)))).all()
    return {str(row.id): f"the LRS on {host_of(row.endpoint) if row.endpoint else '(none set)'} ({row.name})"
            for row in rows}


@trimmer(KIND)
def trimmed(payload: dict, note: str | None, _error: str | None) -> dict:
    """The LRS's own words go too (an answer may quote the statement, its actor's address): a 409's note reads as
    stored, an error (a dismissed statement's) is dropped."""
    statement = payload.get("statement") or {}
    payload["statement"] = {name: statement[name] for name in KEPT_STATEMENT_FIELDS if name in statement}
    if note and said.ALREADY_HELD.match(note) is not None:
        note = said.STORED(status=409)
    return {"payload": payload, "note": note, "last_error": None}


@handler(KIND)
def deliver(payload: dict, now: datetime) -> str:
    row = db.session.get(XapiSetting, payload["organisation_id"])
    if row is None or not row.ready:
        raise GiveUp(said.OFF())
    secret = lrs_secret(row)
    if secret is None:
        raise GiveUp(said.SECRET_UNREADABLE())
    statement = payload["statement"]
    if payload.get("voids"):
        # A void stored before the statement it voids leaves that statement standing once it arrives.
        voided = db.session.scalar(select(OutboxItem.status).where(OutboxItem.kind == KIND,
                                                                   OutboxItem.dedupe_key == payload["voids"]))
        if voided == PENDING:
            raise Retry(said.VOIDED_PENDING(), receiver=False)  # the LRS was not asked
        if voided == DISMISSED:  # dismissed after this void was queued: it never reached the LRS
            return said.NOTHING_TO_VOID()
        if voided == FAILED:
            raise GiveUp(said.VOIDED_FAILED())
    url = statements_url(row.endpoint)
    if not current_app.config.get("XAPI_ALLOW_PRIVATE_ENDPOINTS", False):
        address = private_address(url)
        if address:
            refused_private(url, address)
            raise GiveUp(said.PRIVATE_HOST())
    timeout = current_app.config.get("XAPI_HTTP_TIMEOUT", 10)
    response = send("PUT", url, who=said.LRS, timeout=timeout, params={"statementId": statement["id"]},
                    json=statement, auth=(row.key, secret), headers=HEADERS,
                    public_only=not current_app.config.get("XAPI_ALLOW_PRIVATE_ENDPOINTS", False))
    status = response.status_code
    if 200 <= status < 300:
        return said.STORED(status=status)
    if status == 409:
        return said.ALREADY_HELD(detail=answer_text(response))  # the outbox fits it to the note column
    detail = answer_text(response)
    if status >= 500 or status in RETRY_STATUSES:
        raise Retry(said.ANSWERED(status=status, detail=detail))
    if status in (401, 403):
        raise GiveUp(said.KEY_REFUSED(status=status, detail=detail))
    if 300 <= status < 400:
        raise GiveUp(said.REDIRECTS(status=status, location=response.headers.get("Location", "?")))
    raise GiveUp(said.REFUSED(status=status, detail=detail))
