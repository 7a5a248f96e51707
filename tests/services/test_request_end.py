"""How a request's transaction ends (core.request_end): on PostgreSQL a transaction that wrote nothing is
committed, so the connection keeps the statements psycopg prepared (a rollback makes it forget them all and the
next request plans everything again); anything written and not committed is still rolled back, and a failed
request still rolls back."""
import pytest
from sqlalchemy import text

from plugin.core.request_end import end_read_only
from plugin.extensions import db
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
    assert connection._prepared._names, "the read was never prepared"
    return connection


def test_a_read_only_request_keeps_the_prepared_statements_of_its_connection(postgres):
    connection = _read_until_prepared()
    end_read_only(db.session, None)
    db.session.remove()
    assert connection._prepared._names  # a rollback would have emptied it
    assert db.session.execute(_READ, {"id": 0}).scalar() == 0  # and the connection still answers


def test_a_failed_request_is_rolled_back(postgres):
    connection = _read_until_prepared()
    end_read_only(db.session, RuntimeError("the view failed"))
    db.session.remove()
    assert not connection._prepared._names


def test_what_a_request_wrote_without_committing_is_rolled_back(appctx):
    platform_id = make_platform().id
    db.session.commit()
    db.session.execute(text("UPDATE platform SET name = 'changed, never committed' WHERE id = :id"),
                       {"id": platform_id})
    end_read_only(db.session, None)
    db.session.remove()
    assert db.session.execute(text("SELECT name FROM platform WHERE id = :id"), {"id": platform_id}).scalar() \
        != "changed, never committed"


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


def _sent_while(fn) -> list[str]:
    import sqlalchemy as sa
    sent: list[str] = []

    def listen(_conn, _cursor, statement, *_args):
        sent.append(" ".join(statement.split()))

    sa.event.listen(db.engine, "before_cursor_execute", listen)
    try:
        fn()
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", listen)
    return sent


def test_a_request_of_plain_reads_commits_without_asking_the_server(postgres):
    platform_id = make_platform().id
    db.session.commit()
    db.session.execute(_READ, {"id": 0}).scalar()
    db.session.execute(text("WITH p AS (SELECT id FROM platform) SELECT count(*) FROM p")).scalar()
    connection = db.session.connection().connection.dbapi_connection
    sent = _sent_while(lambda: end_read_only(db.session, None))
    assert not [s for s in sent if "pg_current_xact_id_if_assigned" in s]  # no round trip to ask
    assert connection.info.transaction_status == 0  # idle: the transaction ended (committed, not left open)
    db.session.remove()
    assert db.session.get(type(make_platform()), platform_id) is not None


@pytest.mark.parametrize("how", ["locked a row", "wrote through a raw cursor", "wrote in a WITH"])
def test_a_request_that_sent_anything_else_asks_the_server_and_rolls_back_a_write(postgres, how):
    from sqlalchemy import bindparam, update

    from plugin.core.db import Hot
    from plugin.tenancy.models import Platform

    platform_id = make_platform().id
    db.session.commit()
    if how == "locked a row":
        db.session.execute(text("SELECT id FROM platform WHERE id = :id FOR UPDATE"), {"id": platform_id})
    elif how == "wrote through a raw cursor":
        hot = Hot(update(Platform.__table__).where(Platform.__table__.c.id == bindparam("id"))
                  .values(name=bindparam("name")), writes=("platform",))
        Hot.registry.remove(hot)  # a test's own statement, not one of the award path's
        hot.execute(db.session, {"id": platform_id, "name": "changed, never committed"})
    else:
        db.session.execute(text("WITH c AS (UPDATE platform SET name = 'changed, never committed' WHERE id = :id "
                                "RETURNING id) SELECT count(*) FROM c"), {"id": platform_id})
    sent = _sent_while(lambda: end_read_only(db.session, None))
    assert [s for s in sent if "pg_current_xact_id_if_assigned" in s]
    db.session.remove()
    assert db.session.execute(text("SELECT name FROM platform WHERE id = :id"), {"id": platform_id}).scalar() \
        != "changed, never committed"
