"""How a request's transaction ends: Flask-SQLAlchemy closes the request's session, which rolls back whatever was
not committed, on a failed request as on one that only read. On PostgreSQL that rollback keeps the statements
psycopg prepared on the connection (core.db._rollback_keeping_prepared): psycopg's own rollback forgets them all
and deallocates them on the server, so each request would plan every statement again."""
import pytest
from sqlalchemy import bindparam, text, update
from sqlalchemy.exc import DBAPIError

from plugin.core.db import Hot
from plugin.extensions import db
from plugin.tenancy.models import Platform
from tests.services.factories import make_platform

_READ = text("SELECT count(*) FROM platform WHERE id > :id")


@pytest.fixture
def postgres(appctx):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("psycopg's prepared statements are PostgreSQL's")


def _read_until_prepared():
    for _ in range(8):  # psycopg prepares a statement on its 6th run (prepare_threshold 5)
        db.session.execute(_READ, {"id": 0}).scalar()
    connection = db.session.connection().connection.dbapi_connection
    assert _on_the_server(connection), "the read was never prepared"
    return connection


def _on_the_server(connection) -> list[str]:
    """The statements the server keeps prepared for this connection, asked outside psycopg (whose own view could
    differ from the server's), in an implicit transaction of its own."""
    result = connection.pgconn.exec_(b"SELECT statement FROM pg_prepared_statements")
    return [result.get_value(row, 0).decode() for row in range(result.ntuples)]


def _write(how: str, platform_id: int) -> None:
    """Change the platform's name without committing, as a view could before it fails."""
    if how == "orm":
        db.session.get(Platform, platform_id).name = "changed, never committed"
        db.session.flush()
    elif how == "raw cursor":
        hot = Hot(update(Platform.__table__).where(Platform.__table__.c.id == bindparam("id"))
                  .values(name=bindparam("name")), writes=("platform",))
        Hot.registry.remove(hot)  # a test's own statement, not one of the award path's
        hot.execute(db.session, {"id": platform_id, "name": "changed, never committed"})
    else:  # (PostgreSQL: SQLite has no UPDATE in a WITH)
        db.session.execute(text("WITH c AS (UPDATE platform SET name = 'changed, never committed' WHERE id = :id "
                                "RETURNING id) SELECT count(*) FROM c"), {"id": platform_id})


def _name(platform_id: int) -> str:
    return db.session.execute(text("SELECT name FROM platform WHERE id = :id"), {"id": platform_id}).scalar()


def test_a_request_that_only_read_keeps_the_prepared_statements_of_its_connection(postgres):
    connection = _read_until_prepared()
    prepared = _on_the_server(connection)
    db.session.remove()  # the request's end
    assert connection.info.transaction_status == 0  # idle: its transaction ended
    assert connection._prepared._names  # psycopg still knows them...
    assert _on_the_server(connection) == prepared  # ...and the server still has them
    assert db.session.execute(_READ, {"id": 0}).scalar() == 0  # and the connection still answers


@pytest.mark.parametrize("how", ["orm", "raw cursor", "writing WITH"])
def test_what_a_request_wrote_without_committing_is_rolled_back(appctx, how):
    if how == "writing WITH" and db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no UPDATE in a WITH")
    platform_id = make_platform().id
    db.session.commit()
    _write(how, platform_id)
    db.session.remove()
    assert _name(platform_id) != "changed, never committed"


def test_a_request_that_failed_after_writing_is_rolled_back_and_its_connection_keeps_its_statements(postgres):
    platform_id = make_platform().id
    db.session.commit()
    connection = _read_until_prepared()
    prepared = _on_the_server(connection)
    _write("raw cursor", platform_id)
    with pytest.raises(Exception, match="division by zero"):
        db.session.execute(text("SELECT 1 / 0")).scalar()  # the transaction is now in error
    db.session.rollback()  # what the error handler does
    assert _name(platform_id) != "changed, never committed"
    assert _on_the_server(connection) == prepared
    db.session.remove()


def test_a_lost_connection_is_still_reported_by_the_rollback(postgres):
    """When the ROLLBACK cannot be sent (the server ended the connection), psycopg's own rollback, which follows,
    raises as it always did: SQLAlchemy then drops that connection and the next session gets a working one."""
    connection = _read_until_prepared()
    other = db.engine.raw_connection()  # another session ends this one's, as an operator or a failover would
    try:
        cursor = other.cursor()
        cursor.execute("SELECT pg_terminate_backend(%s)", (connection.info.backend_pid,))
        other.commit()
    finally:
        other.close()
    with pytest.raises(DBAPIError):
        db.session.rollback()
    db.session.remove()
    assert db.session.execute(_READ, {"id": 0}).scalar() == 0


def test_each_app_context_has_its_own_session_and_none_is_used_outside_one(app):
    """The session's scope (plugin.extensions reads Flask's app context itself): a second request handled in the
    same thread, inside the first one's context (a test client call, an internal request), gets a session of its
    own; the first one's comes back unchanged; outside any app context db.session refuses to work."""
    with app.app_context():
        outer = db.session()
        with app.app_context():
            inner = db.session()
            assert inner is not outer
            assert db.session() is inner
        assert db.session() is outer
    with pytest.raises(RuntimeError, match="application context"):
        db.session()


def test_requests_to_the_app_keep_their_statements_prepared_between_them(client, app):
    """Through the app: /readyz reads the schema's revision; after a few requests (each ending its session) its
    statement is prepared on the server and stays so."""
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("psycopg's prepared statements are PostgreSQL's")
        db.engine.dispose()  # one connection for the requests below (the pool hands its connections out in turn)
    for _ in range(8):
        assert client.get("/readyz").status_code == 200
    with app.app_context():
        connection = db.session.connection().connection.dbapi_connection
        assert any("alembic_version" in statement for statement in _on_the_server(connection))
