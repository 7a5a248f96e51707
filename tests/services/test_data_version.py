"""The data version behind the API's weak ETags: it moves when points are posted, and it is read off primary
keys, never by scanning the ledger or the experiments (BENCH B6: no read path touches the ledger)."""
from __future__ import annotations

from sqlalchemy import text

from plugin.extensions import db
from plugin.insights.version import data_version, version_query
from tests.services.factories import NOW, later, log, make_actor, make_platform


def test_a_new_entry_changes_the_version_and_nothing_changes_it_otherwise(appctx):
    learner = make_actor(make_platform(), "ada")
    before = data_version(learner.course_id, NOW)
    assert data_version(learner.course_id, NOW) == before
    log(learner, later(1))
    assert data_version(learner.course_id, NOW) != before
    assert data_version(learner.course_id, NOW) != data_version(learner.course_id, later(60))  # the next hour


def test_the_version_is_read_off_indexes_without_scanning_big_tables(appctx):
    learner = make_actor(make_platform(), "ada")
    engine = db.session.get_bind()
    sql = str(version_query(learner.course_id).compile(engine, compile_kwargs={"literal_binds": True}))
    big = ("ledger_entry", "experiment", "badge_award", "audit_event", "membership")
    if engine.dialect.name == "postgresql":
        db.session.execute(text("SET LOCAL enable_seqscan = off"))  # an empty table would be scanned anyway
        plan = "\n".join(r[0] for r in db.session.execute(text("EXPLAIN " + sql)))
        # max(id): the first entry of the primary key read backwards, whatever the table's size
        unbounded = [t for t in big if f"Scan Backward using pk_{t} on {t}" not in plan]
    else:
        lines = [r[-1] for r in db.session.execute(text("EXPLAIN QUERY PLAN " + sql))]
        plan = "\n".join(lines)
        # SQLite's min/max optimisation shows as a bare SEARCH; a range or a scan would name an index or SCAN
        unbounded = [t for t in big if f"SEARCH {t}" not in lines]
    assert unbounded == [], plan
