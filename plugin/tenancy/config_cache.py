"""An organisation's configuration kept in process memory between transactions, checked by its version.

The award path reads the same configuration on every award (limits, active rules, the xAPI connection, the
webhook endpoints). Each instance may keep it in memory, but only as a cache: a transaction that read the
organisation's `config_version` (in a statement it runs anyway, e.g. log_experiment's preflight) and finds the
same number beside the cached value uses it; anything else reads the database as before. Database triggers
(migration 0023) move the version in the same transaction as every write to CONFIG_TABLES, so a change made by
another instance, the CLI or plain SQL is seen by the next transaction that reads the version.

Within a transaction, a write to one of CONFIG_TABLES forgets the version read (plugin/core/memo.py), so what
follows reads the database (the transaction's own, uncommitted configuration). Values kept here are shared by
transactions and threads: they must be immutable, or never changed by their readers.
"""
from __future__ import annotations

from typing import Any, Callable
from weakref import WeakKeyDictionary

from plugin.core import memo
from plugin.extensions import db

# Every table a cached value is read from; each has the version triggers (migration 0023).
CONFIG_TABLES = ("organisation_settings", "rule", "xapi_setting", "webhook_endpoint")


# engine -> {(organisation_id, name): (version, value)}: per engine, so two databases never share entries.
_cache: WeakKeyDictionary = WeakKeyDictionary()


def remember_version(organisation_id: int, version: int | None) -> None:
    """The version as read by the caller's statement in this transaction (0 or None: nothing is cached)."""
    if version:
        memo.store(db.session, ("config_version", organisation_id), version, CONFIG_TABLES)


def cached(organisation_id: int, name: str, tables: tuple[str, ...], compute: Callable[[], Any]) -> Any:
    """compute()'s value for the organisation: from memory when this transaction read the version it was
    kept under, else computed (once per transaction, as memo.remember does) and kept under that version."""
    assert set(tables) <= set(CONFIG_TABLES), tables
    version = memo.peek(db.session, ("config_version", organisation_id))
    if not version:
        return memo.remember(db.session, (name, organisation_id), tables, compute)
    entries = _entries()
    hit = entries.get((organisation_id, name))
    if hit is not None and hit[0] == version:
        return hit[1]
    value = memo.remember(db.session, (name, organisation_id), tables, compute)
    if memo.peek(db.session, ("config_version", organisation_id)) == version:  # no config write in between
        entries[(organisation_id, name)] = (version, value)
    return value


def peek(organisation_id: int, name: str) -> Any:
    """The value kept under the version this transaction read, or None (nothing is read)."""
    version = memo.peek(db.session, ("config_version", organisation_id))
    if not version:
        return None
    hit = _entries().get((organisation_id, name))
    return hit[1] if hit is not None and hit[0] == version else None


def latest(organisation_id: int, *names: str) -> tuple[int, list[Any]] | None:
    """The values kept for the organisation under `names`, all kept under one version, and that version; None when
    one is not kept or they differ. Nothing is read: a caller building a statement before it reads the version (the
    award's preflight) uses them, and compares the version its statement reads."""
    entries = _entries()
    found = [entries.get((organisation_id, name)) for name in names]
    if any(hit is None for hit in found) or len({hit[0] for hit in found}) != 1:
        return None
    return found[0][0], [hit[1] for hit in found]


def _entries() -> dict:
    engine = db.session.get_bind()
    entries = _cache.get(engine)
    if entries is None:
        entries = _cache[engine] = {}
    return entries
