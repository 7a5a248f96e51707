"""/healthz (the process answers) and /readyz (the database answers and its schema is at the newest
migration; the shared cache answers, when one is configured), for load balancers and orchestrators. JSON, no
authentication, nothing sensitive."""
from __future__ import annotations

from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory
from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from plugin.errors import SharedStoreUnavailable
from plugin.extensions import db

bp = Blueprint("health", __name__)
_heads: set[str] | None = None
_known: set[str] = set()  # every revision this code has


def _read_migrations(directory: str) -> None:
    global _heads, _known
    config = Config()
    config.set_main_option("script_location", str(Path(directory)))
    script = ScriptDirectory.from_config(config)
    _heads, _known = set(script.get_heads()), {revision.revision for revision in script.walk_revisions()}


@bp.record_once
def _read_migrations_at_start(state) -> None:
    """Read when the app is made (each gunicorn worker at boot), not at the first /readyz: after a `git pull`
    next to a running instance, /readyz must still speak for the code that instance runs."""
    if _heads is None:
        _read_migrations(state.app.extensions["migrate"].directory)


def _migration_heads() -> set[str]:
    if _heads is None:
        _read_migrations(current_app.extensions["migrate"].directory)
    return _heads


@bp.get("/healthz")
def healthz():
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    try:
        current = {row[0] for row in db.session.execute(text("SELECT version_num FROM alembic_version"))}
    except Exception:  # unreachable, or never migrated
        db.session.rollback()
        return jsonify(status="unavailable", database="unreachable or not migrated"), 503
    try:
        current_app.extensions["shared_store"].ping()
    except SharedStoreUnavailable:
        return jsonify(status="unavailable", shared_cache="unreachable"), 503
    heads = _migration_heads()
    if current and not current & _known:
        # Migrated for a newer release, the first step of an upgrade (docs/deploy.md): this instance keeps
        # serving until it is restarted with the new code (release notes name migrations that need a pause).
        return jsonify(status="ok", migration=sorted(current), note="schema newer than this code")
    if current != heads:
        return jsonify(status="unavailable", database="migrations pending",
                       current=sorted(current), expected=sorted(heads)), 503
    return jsonify(status="ok", migration=sorted(current))
