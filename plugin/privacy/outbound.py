"""Erasure and the deliveries Tinker sends out (webhooks, xAPI statements): their outbox rows hold the bodies
whole, so a queued or failed delivery would still name the erased person when it goes (or is sent again), and a
delivered one keeps their name in Tinker's copy.

- Webhooks: every body that names the person (sent or not) is rewritten as events about an erased person are
  built (`"name": null, "lms_user_id": null`; the id stays, as on every other row). Undelivered ones still go,
  with the same webhook-id: the receiver learns the fact, not the person.
- xAPI: a statement's Agent *is* the person's identifier (LMS account or mailbox), so an undelivered statement
  naming the person (as actor, helped person, giver...) is cancelled (deleted). A delivered one is kept for the
  status page and for voiding, with the person's Agent replaced by an anonymous one (account `[erased]`). A
  queued void of a delivered statement still goes (it names the statement by id only).

What receivers and the LRS already hold is theirs to erase (docs/privacy.md says so).
"""
from __future__ import annotations

import json

from sqlalchemy import Text, cast, delete, or_, select, update

from plugin.core.db import dialect_name
from plugin.extensions import db
from plugin.outbox.models import DONE, OutboxItem
from plugin.tenancy.models import Course
from plugin.webhooks.service import KIND as WEBHOOK
from plugin.xapi.service import KIND as XAPI

ERASED = "[erased]"


def _webhook_body(body: str, user_id: int) -> str | None:
    """The body with the person's entries anonymised, or None when it does not name them."""
    data, found = json.loads(body), []

    def walk(node):
        if isinstance(node, dict):
            if node.get("id") == user_id and {"name", "lms_user_id"} <= node.keys() and (
                    node["name"] is not None or node["lms_user_id"] is not None):
                node["name"], node["lms_user_id"] = None, None
                found.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(data)
    return json.dumps(data, separators=(",", ":"), sort_keys=True) if found else None  # as events.py writes it


def _statement(statement: dict, issuer: str, sub: str, email: str | None) -> dict | None:
    """The statement with the person's Agents made anonymous, or None when it does not name them."""
    mbox = f"mailto:{email}" if email else None
    found = []

    def walk(node):
        if isinstance(node, dict):
            account = node.get("account")
            if (isinstance(account, dict) and account.get("homePage") == issuer and account.get("name") == sub) or (
                    mbox is not None and node.get("mbox") == mbox):
                found.append(True)
                return {"objectType": "Agent", "account": {"homePage": issuer, "name": ERASED}}
            return {key: walk(value) for key, value in node.items()}
        if isinstance(node, list):
            return [walk(value) for value in node]
        return node

    scrubbed = walk(statement)
    return scrubbed if found else None


def _candidates(organisation_id: int, user_id: int, sub: str, email: str | None, *columns, lock: bool = False):
    """Webhook and xAPI deliveries of the organisation whose payload may name the person (told apart by the
    caller): (id, kind, status, payload, *columns) rows. `lock` (the erasure, which writes them back): on PostgreSQL
    the rows are taken FOR UPDATE, so a trim committed meanwhile by another instance is read as it left the row
    (then no longer naming them), not overwritten with a rewritten copy of the full body."""
    text = cast(OutboxItem.payload, Text)
    named = [text.contains(sub, autoescape=True)] if '"' not in sub and "\\" not in sub else [OutboxItem.id > 0]
    if email:
        named.append(text.contains(email, autoescape=True))
    # A statement queued about them names them by the e-mail they had then, which may not be today's: the payload's
    # user_id says whom it is about (either JSON spacing; a longer id that starts the same is told apart below).
    named += [text.contains(f'"user_id": {user_id}'), text.contains(f'"user_id":{user_id}')]
    query = select(OutboxItem.id, OutboxItem.kind, OutboxItem.status, OutboxItem.payload, *columns).where(
        OutboxItem.kind.in_([WEBHOOK, XAPI]), or_(*named), OutboxItem.course_id.in_(
            select(Course.id).where(Course.organisation_id == organisation_id))).order_by(OutboxItem.id)
    if lock and dialect_name(db.session) == "postgresql":
        query = query.with_for_update(of=OutboxItem)
    return db.session.execute(query).all()


def deliveries_naming(organisation_id: int, user_id: int, issuer: str, sub: str, email: str | None) -> list[dict]:
    """For the person's own export: the webhook notifications and xAPI statements Tinker holds (queued or sent)
    that name them, what and when only (the bodies also name other people)."""
    out = []
    for _id, kind, status, payload, course_id, created_at in _candidates(
            organisation_id, user_id, sub, email, OutboxItem.course_id, OutboxItem.created_at):
        if kind == WEBHOOK:
            named = _webhook_body(payload.get("body") or "{}", user_id) is not None
        else:
            named = payload.get("user_id") == user_id or _statement(
                payload.get("statement") or {}, issuer, sub, email) is not None
        if named:
            out.append({"kind": "webhook" if kind == WEBHOOK else "xapi_statement", "event": payload.get("event"),
                        "course_id": course_id, "status": status, "created_at": created_at})
    return out


def scrub_deliveries(organisation_id: int, user_id: int, issuer: str, sub: str, email: str | None) -> dict[str, int]:
    """Run inside the erasure, before the person's LMS id and e-mail are dropped (they are how the bodies
    name them). Returns counts for the audit entry."""
    s = db.session
    candidates = _candidates(organisation_id, user_id, sub, email, OutboxItem.trimmed_at, OutboxItem.note,
                             OutboxItem.last_error, lock=True)
    counts = {"webhooks_rewritten": 0, "xapi_cancelled": 0, "xapi_scrubbed": 0}
    for item_id, kind, status, payload, trimmed_at, note, last_error in candidates:
        if trimmed_at is not None:
            continue  # what is left of a trimmed delivery names nobody (plugin/outbox/retention.py)
        if kind == WEBHOOK:
            body = _webhook_body(payload.get("body") or "{}", user_id)
            if body is None:
                continue
            values = {"payload": {**payload, "body": body}, **_answers(kind, payload, note, last_error)}
            if status != DONE:  # a send in flight finishes as superseded and goes again, without the name
                values["version"] = OutboxItem.version + 1
            s.execute(update(OutboxItem).where(OutboxItem.id == item_id).values(**values))
            counts["webhooks_rewritten"] += 1
            continue
        statement = _statement(payload.get("statement") or {}, issuer, sub, email)
        if payload.get("voids"):
            # A void names only the statement it voids (by id) and whoever voided it. Once that statement reached
            # the LRS the void must still go, else the LRS keeps it standing, naming the person, for good.
            original = s.scalar(select(OutboxItem.status).where(OutboxItem.kind == XAPI,
                                                                OutboxItem.dedupe_key == payload["voids"]))
            if original == DONE:
                if statement is not None:
                    s.execute(update(OutboxItem).where(OutboxItem.id == item_id).values(
                        payload={**payload, "statement": statement}, version=OutboxItem.version + 1,
                        **_answers(kind, payload, note, last_error)))
                    counts["xapi_scrubbed"] += 1
                continue
            s.execute(delete(OutboxItem).where(OutboxItem.id == item_id))  # what it voids never went: cancelled too
            counts["xapi_cancelled"] += 1
            continue
        if payload.get("user_id") == user_id:  # about them: their actor goes, whatever address it gives
            statement = {**(statement or payload.get("statement") or {}),
                         "actor": {"objectType": "Agent", "account": {"homePage": issuer, "name": ERASED}}}
        if statement is None:
            continue
        if status == DONE:
            s.execute(update(OutboxItem).where(OutboxItem.id == item_id).values(
                payload={**payload, "statement": statement}, **_answers(kind, payload, note, last_error)))
            counts["xapi_scrubbed"] += 1
        else:
            s.execute(delete(OutboxItem).where(OutboxItem.id == item_id))
            counts["xapi_cancelled"] += 1
    return counts


def _answers(kind: str, payload: dict, note: str | None, last_error: str | None) -> dict:
    """The receiver's or the LRS's answers kept on a delivery rewritten for an erasure, as its kind's trimmer leaves
    them (they may quote the body: a 422 naming the actor, a 409 "unknown member Ada ..."): a failed delivery's error
    says only that it was erased, so its status still reads as failed."""
    from plugin.outbox.registry import trimmer_for

    trim = trimmer_for(kind)
    kept = trim(dict(payload), note, last_error) if trim is not None else {}
    answers = {name: kept[name] for name in ("note", "last_error") if name in kept}
    if last_error is not None:
        answers["last_error"] = ERASED
    return answers
