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


def _migration_heads() -> set[str]:
    global _heads
    if _heads is None:
        directory = Path(current_app.extensions["migrate"].directory)
        config = Config()
        config.set_main_option("script_location", str(directory))
        _heads = set(ScriptDirectory.from_config(config).get_heads())
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
    if current != heads:
        return jsonify(status="unavailable", database="migrations pending",
                       current=sorted(current), expected=sorted(heads)), 503
    return jsonify(status="ok", migration=sorted(current))
