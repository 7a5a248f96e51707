"""Tinker: an LTI 1.3 tool that recognises people who try AI at work."""
from __future__ import annotations

from pathlib import Path

from flask import Flask

ROOT = Path(__file__).resolve().parent.parent


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__, template_folder=str(ROOT / "templates"), static_folder=str(ROOT / "static"),
                instance_path=str(ROOT / "instance"))
    register_config(app, config)
    register_logging(app)
    register_extensions(app)
    register_i18n(app)
    register_errors(app)
    register_security(app)
    register_blueprints(app)
    register_api(app)
    register_outbox(app)
    register_cli(app)
    return app


def register_config(app: Flask, config: dict | None) -> None:
    from plugin.config import load_config

    app.config.update(load_config(Path(app.instance_path), config))


def register_logging(app: Flask) -> None:
    from plugin.logs import register_logging as register

    register(app)


def register_extensions(app: Flask) -> None:
    from plugin import models  # noqa: F401  (every table known to the metadata and to Alembic)
    from plugin.core.db import watch_connections
    from plugin.extensions import db, migrate

    db.init_app(app)
    with app.app_context():
        for engine in db.engines.values():
            watch_connections(engine)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    from plugin.lti import shared_store

    shared_store.init_app(app)

    @app.teardown_appcontext  # runs before Flask-SQLAlchemy's own (teardowns run in reverse order)
    def _end_session(exc):
        """Close the request's session, which rolls back what it did not commit (on PostgreSQL keeping the
        connection's prepared statements: core.db._rollback_keeping_prepared); when the database went away
        mid-request, that rollback fails: drop the session (its connection is already invalidated) rather than
        turn a finished response into a 500."""
        try:
            db.session.remove()
        except Exception as err:  # noqa: BLE001 - the connection is gone; the next request reconnects
            app.logger.warning("closing the database session failed: %s", str(err).splitlines()[0])
            db.session.registry.clear()


def register_i18n(app: Flask) -> None:
    from plugin.i18n import register_i18n as register

    register(app)


def register_errors(app: Flask) -> None:
    from plugin.errors import register_error_handlers

    register_error_handlers(app)


def register_security(app: Flask) -> None:
    from plugin.web.security import register_security as register

    register(app)


def register_blueprints(app: Flask) -> None:
    from plugin.devlms.views import bp as devlms
    from plugin.lti.registration_views import bp as lti_install
    from plugin.lti.views import bp as lti
    from plugin.web import register_web

    app.register_blueprint(lti)
    app.register_blueprint(lti_install)
    app.register_blueprint(devlms)
    register_web(app)


def register_api(app: Flask) -> None:
    from plugin.api import register_api as register

    register(app)


def register_outbox(app: Flask) -> None:
    from plugin.outbox.worker import register_outbox as register

    register(app)


def register_cli(app: Flask) -> None:
    from plugin.cli import register_cli as register

    register(app)
