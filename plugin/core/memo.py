"""Per-transaction memoisation of small reads (settings, rules, a membership, a course's board mode) in
`session.info`.

Nothing outlives the transaction: the memo is dropped on commit and rollback, so a second app instance
(or the next request of this one) never sees a stale value. Inside the transaction an entry names the
tables it was read from and is forgotten as soon as the session writes to one of them: a flush of ORM
objects mapped to the table, or an INSERT/UPDATE/DELETE run through `session.execute`. An entry read
without naming its tables (`memoised`, `store`) depends on ANY: every write forgets it, textual ones too.
"""
from __future__ import annotations

import re
from typing import Any, Callable, Hashable

from sqlalchemy import event
from sqlalchemy.orm import Session, scoped_session
from sqlalchemy.sql.elements import TextClause

_KEY = "tinker_memo"
ANY = "*"  # depends on every table: forgotten by any write
_WRITES = re.compile(r"\b(insert|update|delete|replace|merge)\b", re.IGNORECASE)


def remember(session: Session, key: tuple, tables: tuple[str, ...], compute: Callable[[], Any]) -> Any:
    """The value memoised under `key` in this transaction, computed (from `tables`) when absent."""
    if isinstance(session, scoped_session):
        session = session()
    store = session.info.get(_KEY)
    if store is None:
        store = session.info[_KEY] = {}
    elif key in store and _pending(session):
        session._autoflush()  # as a query would: pending ORM changes reach the database (and the memo) first
    entry = store.get(key)
    if entry is not None:
        return entry[0]
    value = compute()
    if session.in_transaction():  # else no transaction end would ever drop it
        store[key] = (value, frozenset(tables))
    return value


def peek(session: Session, key: tuple) -> Any:
    """The value memoised under `key` in this transaction, or None (nothing is read)."""
    if isinstance(session, scoped_session):
        session = session()
    store = session.info.get(_KEY)
    if not store or key not in store:
        return None
    if _pending(session):
        session._autoflush()  # as remember() does: pending ORM changes may forget the entry
    entry = store.get(key)
    return None if entry is None else entry[0]


def memoised(session: Session, key: Hashable, compute: Callable[[], Any]) -> Any:
    """compute() once per transaction for this key; any write in the session forgets it."""
    return remember(session, key if isinstance(key, tuple) else (key,), (ANY,), compute)


def store(session: Session, key: Hashable, value: Any, tables: tuple[str, ...] = (ANY,)) -> None:
    """Keep an answer read as part of a larger statement, so the reader of `key` asks no more."""
    if isinstance(session, scoped_session):
        session = session()
    if session.in_transaction():
        session.info.setdefault(_KEY, {})[key if isinstance(key, tuple) else (key,)] = (value, frozenset(tables))


def _pending(session) -> bool:
    return bool(session._new or session._deleted or session.identity_map._modified)


def forget(session: Session, *tables: str) -> None:
    """Drop what was read from `tables` (everything when none are named)."""
    if isinstance(session, scoped_session):
        session = session()
    store = session.info.get(_KEY)
    if not store:
        return
    if not tables:
        store.clear()
        return
    forget_touched(session, frozenset(tables) | {ANY})


def forget_touched(session: Session, touched: frozenset[str]) -> None:
    """forget() for a plain session and tables already gathered with ANY (what core.db.Hot keeps per statement)."""
    store = session.info.get(_KEY)
    if store:
        for key in [k for k, (_value, deps) in store.items() if not deps.isdisjoint(touched)]:
            del store[key]


@event.listens_for(Session, "after_transaction_end")
def _transaction_end(session, transaction) -> None:
    if transaction.parent is None:  # the outermost transaction (savepoints end inside it)
        session.info.pop(_KEY, None)


@event.listens_for(Session, "after_soft_rollback")
def _rolled_back(session, _previous) -> None:  # a savepoint too: what was read inside it may be gone
    session.info.pop(_KEY, None)


@event.listens_for(Session, "after_flush")
def _after_flush(session, _context) -> None:
    if not session.info.get(_KEY):
        return
    tables = {table.name for obj in (*session.new, *session.dirty, *session.deleted)
              for table in _tables_of(obj)}
    if tables:
        forget(session, *tables)


def _tables_of(obj) -> list:
    mapper = getattr(type(obj), "__mapper__", None)
    return list(mapper.tables) if mapper is not None else []


@event.listens_for(Session, "do_orm_execute")
def _on_execute(state) -> None:
    if not state.session.info.get(_KEY):
        return
    if isinstance(state.statement, TextClause):  # a textual statement: if it writes, forget everything
        if _WRITES.search(state.statement.text):
            forget(state.session)
        return
    if not (state.is_insert or state.is_update or state.is_delete):
        return
    table = getattr(state.statement, "table", None)
    name = getattr(table, "name", None)
    forget(state.session, name) if name else forget(state.session)
