"""An app on a SQLite file of its own, migrated to head, for tests of a data migration: write rows as the code does,
step back below the revision, upgrade again and compare."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import flask_migrate

from plugin import create_app
from plugin.extensions import db


@contextmanager
def migrated_app(tmp_path: Path) -> Iterator[None]:
    """Inside: an app context on a fresh database at head. Leaves its engine disposed."""
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/migrating.db",
                      "TINKER_BASE_URL": "http://localhost", "DEV_LMS_KEY_PATH": str(tmp_path / "key.pem")})
    with app.app_context():
        flask_migrate.upgrade()
        try:
            yield
        finally:
            db.session.remove()
            db.engine.dispose()


def step_back_and_upgrade(revision: str) -> None:
    """Commit, downgrade to `revision` (the one before the migration under test), and upgrade to head again."""
    db.session.commit()
    db.session.remove()
    flask_migrate.downgrade(revision=revision)
    flask_migrate.upgrade()
