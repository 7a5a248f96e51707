"""Expired OIDC states and ended launch sessions: deleted as logins and launches go, in bounded batches, at most
once per PURGE_EVERY per app instance and table (deleting on every request cost every launch a statement, on
SQLite inside its write lock). A batch that comes back full leaves the table due, so the next request carries
on until the backlog is gone. `flask lti purge-expired` does the same on demand, in a loop.

Nothing depends on the purge for correctness: an expired state is refused and an ended session is refused by
their expiry times (plugin/lti/launch.py, plugin/lti/session.py); the purge only keeps the tables small.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import Table, bindparam, delete, select

from plugin.extensions import db

PURGE_EVERY = timedelta(seconds=60)
BATCH = 500
_STATEMENTS: dict[str, object] = {}


def _statement(table: Table):
    stmt = _STATEMENTS.get(table.name)
    if stmt is None:
        key = next(iter(table.primary_key.columns))
        # DELETE ... LIMIT is not portable; a key IN (... LIMIT n) is, on SQLite and PostgreSQL alike.
        doomed = select(key).where(table.c.expires_at < bindparam("now")).limit(BATCH).scalar_subquery()
        stmt = _STATEMENTS[table.name] = delete(table).where(key.in_(doomed))
    return stmt


def purge(table: Table, now: datetime) -> int:
    """Delete up to BATCH rows of `table` that expired before `now`; returns how many went."""
    return db.session.execute(_statement(table), {"now": now}).rowcount or 0


def _marks() -> dict[str, datetime]:
    return current_app.extensions.setdefault("lti_purged_at", {})


def purge_if_due(table: Table, now: datetime) -> int:
    """purge() when this app instance has not purged `table` for PURGE_EVERY (or its last batch was full)."""
    marks = _marks()
    last = marks.get(table.name)
    if last is not None and timedelta(0) <= now - last < PURGE_EVERY:
        return 0
    removed = purge(table, now)
    if removed < BATCH:
        marks[table.name] = now
    else:
        marks.pop(table.name, None)  # more to do: the next request carries on
    return removed
