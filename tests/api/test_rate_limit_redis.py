"""API rate-limit windows in a real Redis (TINKER_REDIS_URL): two app instances count one token together."""
from __future__ import annotations

from sqlalchemy import func, select

from tests.api.conftest import bearer


def test_two_instances_share_one_rate_limit_window(app, world, redis_url, monkeypatch):
    from plugin import create_app
    from plugin.core.clock import utcnow
    from plugin.extensions import db
    from plugin.tokens.models import ApiRateWindow

    instances = [create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
                             "REDIS_URL": redis_url, "API_RATE_LIMIT": 3}) for _ in range(2)]
    moment = utcnow().replace(second=30)  # one fixed minute: the window cannot roll over mid-test
    monkeypatch.setattr("plugin.api.auth.utcnow", lambda: moment)
    try:
        a, b = (instance.test_client() for instance in instances)
        token, other = bearer(world.callers["token_ledger"]), bearer(world.callers["token_insights"])
        statuses = [(a, b)[i % 2].get("/api/v1/me", headers=token).status_code for i in range(5)]
        assert statuses == [200, 200, 200, 429, 429]  # 2 on A + 1 on B fill the window; A and B both refuse
        assert b.get("/api/v1/me", headers=other).status_code == 200  # each token counts apart
        with app.app_context():
            assert db.session.scalar(select(func.count()).select_from(ApiRateWindow)) == 0  # counted in Redis
    finally:
        instances[0].extensions["shared_store"].client.flushdb()
        for instance in instances:
            with instance.app_context():
                db.engine.dispose()
