"""How a request's database transaction ends.

Flask-SQLAlchemy closes the request's session, which rolls its transaction back. On PostgreSQL psycopg then
forgets every statement it had prepared on that connection (a rollback could have undone what they refer
to), so each request would parse and plan all of its statements again: about 1 ms of a board page's 5.
A transaction that wrote nothing (PostgreSQL assigned it no transaction id) is committed instead, which is the
same for the data and keeps the prepared statements. A transaction that wrote anything it did not commit, or
a request that failed, is rolled back as before.

Whether it wrote is known without asking the server when every statement the transaction sent was a plain read
(a SELECT, or a WITH of SELECTs, naming no row lock and no write): each statement is looked at once as it goes
out (a connection event, which the ORM, Core, `read` and `Hot` statements all pass through). Only a transaction
that sent anything else asks PostgreSQL whether it was given a transaction id, one more round trip.
"""
from __future__ import annotations

import re

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import scoped_session

from plugin.core.db import dialect_name

_WROTE_NOTHING = "SELECT pg_current_xact_id_if_assigned() IS NULL"
_READS_ONLY = "tinker_reads_only"  # Connection.info: True while the transaction has sent plain reads only
_READ_START = re.compile(r"\s*(select|with)\b", re.IGNORECASE)
# What can make a SELECT or WITH write, lock rows or change a sequence: then the server is asked.
_MAY_WRITE = re.compile(r"\b(insert|update|delete|merge|into|share|lock|nextval|setval|copy|call)\b", re.IGNORECASE)
_PLAIN: dict[str, bool] = {}


def plain_read(statement: str) -> bool:
    known = _PLAIN.get(statement)
    if known is None:
        if len(_PLAIN) >= 4096:
            _PLAIN.clear()
        known = _PLAIN[statement] = bool(_READ_START.match(statement)) and not _MAY_WRITE.search(statement)
    return known


def _reads_only_so_far(conn) -> None:
    conn.info[_READS_ONLY] = True


def _note_other_statements(conn, _cursor, statement, *_args) -> None:
    if not plain_read(statement):
        conn.info[_READS_ONLY] = False


def watch_statements(engine: Engine) -> None:
    """Follow what each transaction of a PostgreSQL engine sends (SQLite's transactions are never committed
    here, so its engine is left without the listeners' cost)."""
    if engine.dialect.name == "postgresql" and not event.contains(engine, "begin", _reads_only_so_far):
        event.listen(engine, "begin", _reads_only_so_far)
        event.listen(engine, "before_cursor_execute", _note_other_statements)


def end_read_only(session, error: BaseException | None) -> None:
    """Commit the request's transaction if it is PostgreSQL's, open, and wrote nothing; otherwise leave it to
    the session's close (a rollback)."""
    if isinstance(session, scoped_session):
        if not session.registry.has():
            return
        session = session()
    if error is not None or session.new or session.dirty or session.deleted or not session.in_transaction():
        return
    if dialect_name(session) != "postgresql":
        return
    conn = session.connection()
    if conn.info.get(_READS_ONLY) is True or conn.exec_driver_sql(_WROTE_NOTHING).scalar():
        session.commit()
