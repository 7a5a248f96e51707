"""Per-transaction memos of small settings reads (a course's board mode, an organisation's time zone, its
dimension names) that one page asks for several times.

A memo lives in the session's `info` and is dropped whenever the session could see different data: at the end
of every transaction (commit, rollback, close, savepoints included), after every flush that wrote something, and
before any INSERT, UPDATE or DELETE run through the session (a textual statement that names one included). So a
change made in the same request is read back, and nothing outlives the request: another app instance never serves
a value this one kept.
"""
from __future__ import annotations

import re
from typing import Callable, Hashable, TypeVar

from sqlalchemy import event
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import TextClause

T = TypeVar("T")
_KEY = "tinker_memo"
_WRITES = re.compile(r"\b(insert|update|delete|replace|merge)\b", re.IGNORECASE)


def memoised(session: Session, key: Hashable, compute: Callable[[], T]) -> T:
    """compute() once per transaction of this session for this key (the key names the reader and its inputs)."""
    store = session.info.get(_KEY)
    if store is None:
        store = session.info[_KEY] = {}
    elif key in store:
        return store[key]
    value = store[key] = compute()
    return value


def remember(session: Session, key: Hashable, value: object) -> None:
    """Store an answer read as part of a larger statement, so the reader of `key` asks no more this transaction."""
    session.info.setdefault(_KEY, {})[key] = value


def forget(session: Session) -> None:
    session.info.pop(_KEY, None)


@event.listens_for(Session, "after_transaction_end")
def _transaction_ended(session: Session, _transaction) -> None:
    forget(session)


@event.listens_for(Session, "after_flush")
def _flushed(session: Session, _context) -> None:
    forget(session)


@event.listens_for(Session, "do_orm_execute")
def _writing(state) -> None:
    statement = state.statement
    if state.is_insert or state.is_update or state.is_delete or (
            isinstance(statement, TextClause) and _WRITES.search(statement.text)):
        forget(state.session)
