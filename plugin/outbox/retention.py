"""Finished deliveries do not keep their bodies for ever.

A delivery's row outlives its sending: its dedupe key is what makes the same delivery go out once (a webhook's fact,
an xAPI statement that a later void needs by key and id), and pages list recent deliveries with their outcome. Its
body is needed only to send it: a webhook's JSON, a whole xAPI statement naming its actor, an e-mail's address and
text. Once a delivery has been delivered (or dismissed) for longer than TINKER_OUTBOX_KEEP_DAYS (default 30), each
kind's trimmer (plugin/outbox/registry.py `trimmer`) keeps only what is still read, and `trimmed_at` says when. The
row and its key stay. A failed or waiting delivery is never trimmed: it may still be sent.

`flask outbox run` (the operator's every-minute timer) trims up to 20 batches of 500 each time, `flask outbox trim` all at once.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import bindparam, or_, select, update

from plugin.core.db import dialect_name, writing
from plugin.extensions import db
from plugin.outbox.models import DISMISSED, DONE, OutboxItem
from plugin.outbox.registry import trimmer_for

BATCH = 500
FINISHED = (DONE, DISMISSED)


def kept_for() -> timedelta:
    return timedelta(days=current_app.config["OUTBOX_KEEP_DAYS"])


def past_keeping(status: str, cutoff: datetime) -> tuple:
    """The deliveries of a finished `status` done before `cutoff` whose bodies are still on: one range of
    ix_outbox_finished (status, trimmed_at, updated_at), what the trim and the operator's status report read."""
    return OutboxItem.status == status, OutboxItem.trimmed_at.is_(None), OutboxItem.updated_at < cutoff


def trim_batch(now: datetime, limit: int = BATCH) -> int:
    """Trim up to `limit` deliveries finished before `now` less the keeping time, oldest first, in a transaction of
    its own. Returns how many (fewer than `limit`: none is left for now)."""
    db.session.commit()
    with writing():
        count = trim_rows(now, limit)
        db.session.commit()
    return count


def trim_rows(now: datetime, limit: int) -> int:
    """trim_batch's work, in the caller's transaction (the caller commits)."""
    session = db.session
    cutoff = now - kept_for()
    rows = []
    for status in FINISHED:
        # One status at a time, ordered as ix_outbox_finished (status, trimmed_at, updated_at) is: the database
        # reads the index from its oldest untrimmed row and stops at the limit. Both statuses at once, or
        # ordered by updated_at alone, make it read and sort the whole backlog for every batch.
        query = select(OutboxItem.id, OutboxItem.kind, OutboxItem.version, OutboxItem.payload, OutboxItem.note,
                       OutboxItem.last_error).where(*past_keeping(status, cutoff)).order_by(OutboxItem.status, OutboxItem.trimmed_at, OutboxItem.updated_at).limit(limit - len(rows))
        if dialect_name(session) == "postgresql":
            # another instance's trim takes the next rows; an erasure holding one (it rewrites the body) is
            # left to finish, and its row is trimmed by a later batch
            query = query.with_for_update(skip_locked=True)
        rows += session.execute(query).all()
        if len(rows) >= limit:
            break
    untouched, trimmed = [], []
    for item_id, kind, version, payload, note, last_error in rows:
        trim = trimmer_for(kind)
        if trim is None:
            untouched.append(item_id)
            continue
        kept = {"payload": payload, "note": note, "last_error": last_error}
        kept.update(trim(dict(payload or {}), note, last_error))
        trimmed.append({"item_id": item_id, "item_version": version, **{f"kept_{k}": v for k, v in kept.items()}})
    if trimmed:
        # one statement for the batch, sent as one (executemany); unless a newer payload was queued for the key
        # meanwhile (a grade's replacement): that one is to be sent
        table = OutboxItem.__table__
        session.execute(table.update().where(
            table.c.id == bindparam("item_id"), table.c.version == bindparam("item_version"),
            or_(*(table.c.status == status for status in FINISHED))).values(  # no IN list in an executemany
            trimmed_at=now, payload=bindparam("kept_payload"), note=bindparam("kept_note"),
            last_error=bindparam("kept_last_error")), trimmed)
    if untouched:
        session.execute(update(OutboxItem).where(OutboxItem.id.in_(untouched), OutboxItem.status.in_(FINISHED))
                        .values(trimmed_at=now).execution_options(synchronize_session=False))
    return len(rows)


def trim(now: datetime, *, batches: int | None = None, limit: int = BATCH) -> int:
    """Trim batch after batch until none is left (or `batches` were done: the every-minute timer's share, so one run
    on the day of an upgrade that finds years of deliveries stays short). Returns how many."""
    total, done = 0, 0
    while batches is None or done < batches:
        count = trim_batch(now, limit)
        total, done = total + count, done + 1
        if count < limit:
            break
    return total
