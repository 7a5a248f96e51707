"""Pooled PostgreSQL connections the server closed while they sat idle (a restart, a failover, an idle timeout,
an operator's pg_terminate_backend) are replaced when taken from the pool (core.db.watch_connections), without a
SELECT 1 round trip before every transaction as pool_pre_ping sends."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy import text

from plugin.extensions import db


@pytest.fixture
def postgres(appctx):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("a server that closes connections (SQLite has none)")
    db.session.remove()
    db.engine.dispose()
    yield
    db.session.remove()


def _backend() -> int:
    pid = db.session.execute(text("SELECT pg_backend_pid()")).scalar()
    db.session.commit()
    db.session.remove()  # back to the pool
    return pid


def test_a_connection_the_server_closed_in_the_pool_is_replaced_and_the_request_goes_through(postgres):
    first = _backend()
    other = sa.create_engine(db.engine.url.render_as_string(hide_password=False))
    with other.connect() as conn:
        assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first}).scalar()
        for _ in range(50):  # until the server has closed it
            if not conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"),
                                {"pid": first}).scalar():
                break
    other.dispose()
    second = _backend()  # the same pool: its one connection was the closed one
    assert second != first


def test_taking_a_connection_from_the_pool_sends_nothing(postgres):
    _backend()
    sent: list[str] = []

    def listen(_conn, _cursor, statement, *_args):
        sent.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", listen)
    try:
        with db.engine.connect() as conn:
            conn.exec_driver_sql("SELECT 42").scalar()
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", listen)
    assert sent == ["SELECT 42"]
    assert db.engine.pool._pre_ping is False  # the check that replaced it is the test above
