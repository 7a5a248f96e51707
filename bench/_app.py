"""The app the leaderboard bench serves under gunicorn: the real Tinker app against the bench's temporary
database, plus bench-only endpoints: `/bench/bare`, serving the bare top-20 query, and `/bench/control`, the same
shape on a table awards never write (B10 uses it to cancel machine noise between two measurements).

The bare endpoint is the floor pages are compared with, HTTP to HTTP: same app, same engine and pool, same
request hooks (request id, security headers, CSP frame-ancestors lookup) and the same kind of response (a
small HTML table), but no launch token, no services and no Jinja. It exists only in this module.

    gunicorn --chdir <repo> 'bench._app:serve()'   (TINKER_BENCH_DATABASE_URL, TINKER_BENCH_SECRET)
"""
from __future__ import annotations

import os
from html import escape

from flask import Flask, request
from sqlalchemy import text

BARE_SQL = text("SELECT user_id, points FROM board_score WHERE board = :board ORDER BY points DESC LIMIT 20")
# The same shape on a table awards never touch: B10's control for machine noise between its two measurements.
CONTROL_SQL = text("SELECT id, name FROM user_account WHERE platform_id = :platform ORDER BY id LIMIT 20")


def config(database_url: str, secret: str, base_url: str = "http://127.0.0.1") -> dict:
    return {"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": secret, "TINKER_BASE_URL": base_url,
            "DEV_LMS_ENABLED": False, "LAUNCH_TOKEN_TTL": 86_400, "LOG_JSON": False,
            "RAISE_UNEXPECTED": False, "TESTING": False}


def build(database_url: str, secret: str, base_url: str = "http://127.0.0.1") -> Flask:
    from plugin import create_app
    from plugin.extensions import db

    app = create_app(config(database_url, secret, base_url))

    @app.get("/bench/bare")
    def bench_bare():
        board = f"c{int(request.args['course'])}:all:total"
        rows = db.session.execute(BARE_SQL, {"board": board}).all()
        cells = "".join(f"<tr><td>{int(u)}</td><td>{int(p)}</td></tr>" for u, p in rows)
        return f"<table><caption>{escape(board)}</caption>{cells}</table>"

    @app.get("/bench/control")
    def bench_control():
        rows = db.session.execute(CONTROL_SQL, {"platform": int(request.args["platform"])}).all()
        cells = "".join(f"<tr><td>{int(i)}</td><td>{escape(n or '')}</td></tr>" for i, n in rows)
        return f"<table>{cells}</table>"

    return app


def serve() -> Flask:
    """gunicorn factory: the settings come from the bench through the environment."""
    return build(os.environ["TINKER_BENCH_DATABASE_URL"], os.environ["TINKER_BENCH_SECRET"],
                 os.environ.get("TINKER_BENCH_BASE_URL", "http://127.0.0.1"))
