"""The app the leaderboard bench serves under gunicorn: the real Tinker app against the bench's temporary
database, plus bench-only endpoints: `/bench/bare`, serving the bare top-20 query, and `/bench/control`, the same
shape on a table awards never write (B10 uses it to cancel machine noise between two measurements).

`/bench/floor/login` and `/bench/floor/launch` are B3's launch floor (bench/launch.py): the same two HTTP hops as
an LTI launch (a redirect carrying state and nonce with a state cookie, then a POSTed RS256 id_token answered by a
redirect) doing only one signature verify, with the platform key parsed once per worker, and one insert.

The bare endpoint is the floor pages are compared with, HTTP to HTTP: same app, same engine and pool, same
request hooks (request id, security headers, CSP frame-ancestors lookup) and the same kind of response (a
small HTML table), but no launch token, no services and no Jinja. It exists only in this module.

    gunicorn --chdir <repo> 'bench._app:serve()'   (TINKER_BENCH_DATABASE_URL, TINKER_BENCH_SECRET)
"""
from __future__ import annotations

import os
import secrets
from html import escape
from urllib.parse import urlencode

from flask import Flask, abort, redirect, request
from sqlalchemy import text

BARE_SQL = text("SELECT user_id, points FROM board_score WHERE board = :board ORDER BY points DESC LIMIT 20")
FLOOR_TABLE = ("CREATE TABLE IF NOT EXISTS bench_launch_floor (state VARCHAR(64) PRIMARY KEY, nonce VARCHAR(64) NOT NULL, "
               "sub VARCHAR(255) NOT NULL)")
FLOOR_SQL = text("INSERT INTO bench_launch_floor (state, nonce, sub) VALUES (:state, :nonce, :sub)")
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

    floor_key: list = []  # the platform's public key, fetched and parsed once per worker

    @app.post("/bench/floor/login")
    def bench_floor_login():
        state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        response = redirect("https://floor.invalid/auth?" + urlencode({
            "state": state, "nonce": nonce, "login_hint": request.form["login_hint"]}), 302)
        response.set_cookie("floor_state", state, httponly=True, samesite="Lax")
        return response

    @app.post("/bench/floor/launch")
    def bench_floor_launch():
        import jwt

        if not floor_key:
            floor_key.append(jwt.PyJWKClient(os.environ["TINKER_BENCH_FLOOR_JWKS"]).get_jwk_set().keys[0].key)
        if request.cookies.get("floor_state") != request.form["state"]:
            abort(400)
        claims = jwt.decode(request.form["id_token"], floor_key[0], algorithms=["RS256"],
                            audience=os.environ["TINKER_BENCH_FLOOR_AUD"])
        db.session.execute(FLOOR_SQL, {"state": request.form["state"], "nonce": claims["nonce"],
                                       "sub": claims["sub"]})
        db.session.commit()
        response = redirect("/bench/floor/landed?lt=" + secrets.token_urlsafe(24), 303)
        response.delete_cookie("floor_state")
        return response

    return app


def serve() -> Flask:
    """gunicorn factory: the settings come from the bench through the environment."""
    return build(os.environ["TINKER_BENCH_DATABASE_URL"], os.environ["TINKER_BENCH_SECRET"],
                 os.environ.get("TINKER_BENCH_BASE_URL", "http://127.0.0.1"))
