"""Layered fixtures: a real database (SQLite or PostgreSQL, --db), the app migrated with Alembic,
an independent LTI platform serving its JWKS over HTTP, and real signed launches."""
from __future__ import annotations

import os

import pytest
import sqlalchemy as sa

from tests.support.platform import FakePlatform, token_from


def pytest_addoption(parser):
    parser.addoption("--db", default=os.environ.get("TINKER_TEST_DB", "sqlite"), choices=["sqlite", "postgresql"],
                     help="database the suite runs on")
    parser.addoption("--redis", action="store_true", default=bool(os.environ.get("TINKER_TEST_REDIS")),
                     help="run the app fixtures with the shared cache in a throwaway redis-server")


def pytest_report_header(config):
    return (f"tinker database: {config.getoption('--db')}, shared cache: "
            f"{'redis' if config.getoption('--redis') else 'database'}")


@pytest.fixture(scope="session")
def db_kind(request) -> str:
    return request.config.getoption("--db")


@pytest.fixture(scope="session")
def db_url(db_kind, tmp_path_factory):
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    if db_kind == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('sqlite')}/tinker-{worker}.db"
        return
    from tests.support.pg import ThrowawayPostgres, create_database

    admin = os.environ.get("TINKER_TEST_POSTGRES_URL")
    server = None
    if not admin:
        server = ThrowawayPostgres()
        admin = server.start()
    try:
        yield create_database(admin, f"tinker_test_{worker}")
    finally:
        if server:
            server.stop()


@pytest.fixture(scope="session")
def redis_url():
    """A throwaway redis-server (per test session and xdist worker), or TINKER_TEST_REDIS_URL."""
    given = os.environ.get("TINKER_TEST_REDIS_URL")
    if given:  # one database number per xdist worker: each test empties its own (FLUSHDB)
        worker = os.environ.get("PYTEST_XDIST_WORKER", "gw-1")
        base = given.rstrip("/")
        base = base.rsplit("/", 1)[0] if base.count("/") > 2 else base  # without its database number
        yield f"{base}/{int(worker[2:]) + 1}"
        return
    from tests.support.redis_server import ThrowawayRedis

    server = ThrowawayRedis()
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture(scope="session")
def shared_cache(request) -> dict:
    """The app fixtures' shared-cache settings: none by default, Redis with --redis."""
    return {"REDIS_URL": request.getfixturevalue("redis_url")} if request.config.getoption("--redis") else {}


@pytest.fixture(scope="session")
def app(db_url, tmp_path_factory, shared_cache):
    import flask_migrate

    from plugin import create_app

    app = create_app({
        **shared_cache,
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": db_url,
        "TINKER_BASE_URL": "http://localhost",
        "DEV_LMS_ENABLED": True,
        "DEV_LMS_KEY_PATH": str(tmp_path_factory.mktemp("devlms") / "key.pem"),
    })
    with app.app_context():
        flask_migrate.upgrade()
        from plugin.extensions import db
        from tests.support.held_rows import watch

        watch(db.engine)
    yield app
    with app.app_context():
        from plugin.extensions import db

        db.engine.dispose()


@pytest.fixture(scope="session")
def live_server(app, db_url, tmp_path_factory, shared_cache):
    """The tool served over real HTTP on 127.0.0.1 (threaded, as `make run` serves it), sharing the test DB.

    Its dev LMS fetches its own JWKS over HTTP, so the whole launch path is real.
    """
    import socket
    import threading

    from werkzeug.serving import make_server

    from plugin import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    live = create_app({
        **shared_cache,
        "TESTING": True, "SQLALCHEMY_DATABASE_URI": db_url, "TINKER_BASE_URL": base, "DEV_LMS_ENABLED": True,
        "DEV_LMS_KEY_PATH": str(tmp_path_factory.mktemp("live-devlms") / "key.pem"),
        "RAISE_UNEXPECTED": False,
    })
    with live.app_context():
        from plugin.extensions import db
        from tests.support.held_rows import watch

        watch(db.engine)
    server = make_server("127.0.0.1", port, live, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    live.base_url = base
    yield live
    server.shutdown()


def _clean_tables(app) -> None:
    from plugin.extensions import db
    from plugin.lti import keys, platform_keys, roster_jobs

    # A launch may have started a roster sync in the background; wiping the tables under it deadlocked the
    # TRUNCATE against its writes (seen once on PostgreSQL in CI).
    roster_jobs.wait_for_background()
    platform_keys.forget()
    keys._current.clear()  # the remembered newest tool key is gone with the wiped table
    if app.config.get("REDIS_URL"):
        app.extensions["shared_store"].client.flushdb()
    with app.app_context():
        tables = [t.name for t in reversed(db.metadata.sorted_tables)]
        with db.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
            else:
                for table in tables:
                    conn.execute(sa.text(f'DELETE FROM "{table}"'))


@pytest.fixture(autouse=True)
def _clean_database(request):
    yield
    if "app" in request.fixturenames:
        _clean_tables(request.getfixturevalue("app"))
    if "redis_url" in request.fixturenames:  # a test that used the throwaway Redis leaves it empty
        import redis

        with redis.Redis.from_url(request.getfixturevalue("redis_url")) as client:
            client.flushdb()


@pytest.fixture
def appctx(app):
    with app.app_context():
        yield app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()

    def invoke(*args):
        result = runner.invoke(args=list(args))
        return result

    return invoke


@pytest.fixture
def platform(app, cli):
    """An independent platform, registered through the operator CLI."""
    fake = FakePlatform()
    result = cli(*fake.register_args())
    assert result.exit_code == 0, result.output
    yield fake
    fake.close()


@pytest.fixture
def canvas_of_same_organisation(app, cli, platform):
    """A second registration (Canvas-shaped) of the same organisation as `platform` (the Moodle-like one)."""
    other = FakePlatform(issuer="https://canvas.instructure.com", client_id="10000000000042", deployment_id="12:abcdef")
    assert cli(*other.register_args()).exit_code == 0
    yield other
    other.close()


@pytest.fixture
def launch(client, platform):
    """launch(role=..., sub=..., context_id=...) -> launch token for a fresh, fully validated launch."""

    def do(role: str = "learner", sub: str = "user-1", context_id: str = "course-1", **kwargs) -> str:
        response, _flow = platform.launch(client, role=role, sub=sub, context_id=context_id, **kwargs)
        return token_from(response)

    return do
