"""How a request's database transaction ends.

Flask-SQLAlchemy closes the request's session, which rolls its transaction back. On PostgreSQL psycopg then
forgets every statement it had prepared on that connection (a rollback could have undone what they refer
to), so each request would parse and plan all of its statements again: about 1 ms of a board page's 5.
A transaction that wrote nothing (PostgreSQL assigned it no transaction id) is committed instead, which is the
same for the data and keeps the prepared statements. A transaction that wrote anything it did not commit, or
a request that failed, is rolled back as before.
"""
from __future__ import annotations

from sqlalchemy.orm import scoped_session

from plugin.core.db import dialect_name

_WROTE_NOTHING = "SELECT pg_current_xact_id_if_assigned() IS NULL"


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
    if session.connection().exec_driver_sql(_WROTE_NOTHING).scalar():
        session.commit()
