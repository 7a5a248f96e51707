"""/readyz during an upgrade (docs/deploy.md, step 12): the schema is migrated once, then the instances are
restarted one at a time. An instance still running the previous release on the migrated schema stays in the
load balancer's rotation; one whose code is newer than the schema stays out until the migration ran."""
from __future__ import annotations

import pytest
from sqlalchemy import text


@pytest.fixture
def schema_at(app):
    """Set the database's recorded migration (as another release's `flask db upgrade` would leave it)."""
    from plugin.extensions import db

    def set_to(revision: str) -> None:
        with app.app_context(), db.engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :revision"), {"revision": revision})

    with app.app_context():
        original = db.session.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
        db.session.rollback()
    yield set_to
    set_to(original)


def test_the_previous_release_stays_ready_on_a_schema_migrated_for_the_next(client, schema_at):
    schema_at("9999_next_release")  # a revision this code does not have
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json() == {"status": "ok", "migration": ["9999_next_release"],
                                "note": "schema newer than this code"}


def test_a_newer_release_is_not_ready_until_the_schema_is_migrated(client, schema_at):
    schema_at("0001")  # a revision this code has, behind its newest
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.get_json()["database"] == "migrations pending" and ready.get_json()["current"] == ["0001"]
