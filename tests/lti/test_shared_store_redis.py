"""OIDC state and nonce, and platform key sets, in a real Redis shared by two app instances (TINKER_REDIS_URL):
a login on one instance launches on the other, each state is spent once, states expire, and a Redis that
goes away gives a 503 page, never a 500."""
from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from plugin.lti.views import state_cookie
from tests.lti.test_launch_rejections import assert_rejected
from tests.support.redis_server import ThrowawayRedis


def _instance(app, **config):
    """Another app object on the same database (another instance behind the load balancer)."""
    from plugin import create_app

    return create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
                       "TINKER_BASE_URL": "http://localhost", "DEV_LMS_ENABLED": False, **config})


@pytest.fixture
def redis_pair(app, redis_url):
    a, b = _instance(app, REDIS_URL=redis_url), _instance(app, REDIS_URL=redis_url)
    yield a, b
    a.extensions["shared_store"].client.flushdb()
    for instance in (a, b):
        with instance.app_context():
            from plugin.extensions import db

            db.engine.dispose()


def _launch_on(client, platform, flow, **claims):
    """Post the platform's id_token for flow to client, which carries the browser's state cookie."""
    client.set_cookie(state_cookie(flow.state), flow.state, domain="localhost")
    token = platform.sign({**platform.claims(flow.nonce), **claims})
    return client.post("/lti/launch", data={"id_token": token, "state": flow.state})


def _oidc_rows(app) -> int:
    from plugin.extensions import db
    from plugin.lti.models import OidcState

    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(OidcState))


def test_a_login_on_a_launches_on_b_and_a_replay_on_either_is_refused(app, platform, redis_pair):
    a, b = redis_pair
    flow = platform.login(a.test_client())
    store = a.extensions["shared_store"]
    ttl = store.client.ttl(f"tinker:login:{flow.state}")
    assert 0 < ttl <= a.config["LTI_STATE_TTL"]  # Redis drops it by itself once it expires
    assert _oidc_rows(app) == 0  # the state lives in Redis, not in the database

    launched = _launch_on(b.test_client(), platform, flow)
    assert launched.status_code == 303, launched.get_data(as_text=True)[:800]

    assert_rejected(_launch_on(a.test_client(), platform, flow), "already used")
    assert_rejected(_launch_on(b.test_client(), platform, flow), "already used")


def test_a_state_is_spent_by_exactly_one_of_many_simultaneous_launches(app, platform, redis_pair):
    a, b = redis_pair
    flow = platform.login(a.test_client())
    from plugin.core.clock import utcnow

    wins: list[bool] = []
    start = threading.Barrier(8)

    def consume(instance):
        with instance.app_context():
            store = instance.extensions["shared_store"]
            start.wait()
            wins.append(store.consume_login(flow.state, utcnow()))

    threads = [threading.Thread(target=consume, args=((a, b)[i % 2],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(wins) == [False] * 7 + [True]
    assert_rejected(_launch_on(b.test_client(), platform, flow), "already used")


def test_the_nonce_must_be_the_one_issued_with_the_state(app, platform, redis_pair):
    a, b = redis_pair
    first, second = platform.login(a.test_client()), platform.login(a.test_client())
    client = b.test_client()
    client.set_cookie(state_cookie(first.state), first.state, domain="localhost")
    token = platform.sign(platform.claims(second.nonce))  # a real nonce, but another login's
    assert_rejected(client.post("/lti/launch", data={"id_token": token, "state": first.state}),
                    "nonce was not issued by Tinker for this login")
    assert _launch_on(b.test_client(), platform, first).status_code == 303  # the refusal did not spend it


def test_an_expired_state_is_gone_and_refused(app, platform, redis_pair):
    a, b = redis_pair
    flow = platform.login(a.test_client())
    client = a.extensions["shared_store"].client
    key = f"tinker:login:{flow.state}"
    client.pexpire(key, 1)  # what its TTL does after LTI_STATE_TTL seconds
    deadline = time.monotonic() + 5
    while client.exists(key) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not client.exists(key)
    assert_rejected(_launch_on(b.test_client(), platform, flow), "state is unknown or has expired")


def test_a_state_past_its_expiry_is_refused_even_before_redis_drops_it(app, platform, redis_pair):
    a, b = redis_pair
    flow = platform.login(a.test_client())
    from plugin.core.clock import utcnow

    past = (utcnow() - timedelta(minutes=1)).isoformat()
    a.extensions["shared_store"].client.hset(f"tinker:login:{flow.state}", "expires_at", past)
    assert_rejected(_launch_on(b.test_client(), platform, flow), "state is unknown or has expired")


def test_platform_keys_fetched_by_one_instance_serve_the_other(app, platform, redis_pair):
    from plugin.lti import platform_keys

    a, b = redis_pair
    assert _launch_on(a.test_client(), platform, platform.login(a.test_client())).status_code == 303
    platform_keys.forget()  # B's process memory holds nothing (here: one process plays both)
    assert _launch_on(b.test_client(), platform, platform.login(b.test_client())).status_code == 303
    assert platform.server.fetches == 1


def test_redis_going_away_gives_503_pages_and_not_ready(app, platform):
    server = ThrowawayRedis()
    instance = _instance(app, REDIS_URL=server.start(), REDIS_TIMEOUT=1)
    try:
        client = instance.test_client()
        assert client.get("/readyz").status_code == 200
        flow = platform.login(client)
        server.stop()

        launched = _launch_on(client, platform, flow)
        body = launched.get_data(as_text=True)
        assert launched.status_code == 503 and "briefly unavailable" in body and "Traceback" not in body
        assert launched.headers["Retry-After"] == "30"
        login = client.post("/lti/login", data={"iss": platform.issuer, "login_hint": "u",
                                                 "client_id": platform.client_id},
                            headers={"Accept": "application/json"})
        assert login.status_code == 503 and login.get_json()["error"]["code"] == "shared_store_unavailable"
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.get_json()["shared_cache"] == "unreachable"
    finally:
        server.stop()
        with instance.app_context():
            from plugin.extensions import db

            db.engine.dispose()


def test_a_service_token_fetched_by_one_instance_serves_the_other_until_dropped(app, cli, redis_pair):
    from plugin.core.clock import utcnow
    from plugin.extensions import db
    from plugin.lti import keys, service_token
    from plugin.tenancy.models import Platform
    from tests.support.ags import FakeAgs
    from tests.support.platform import FakePlatform

    def tool_jwks():
        with app.app_context():
            return keys.public_jwks()

    a, b = redis_pair
    ags, lms = FakeAgs("client-123", tool_jwks), FakePlatform()
    scopes = ("https://purl.imsglobal.org/spec/lti-ags/scope/score",)
    try:
        assert cli(*lms.register_args(token_url=ags.token_url)).exit_code == 0

        def token_on(instance) -> str:
            service_token.forget()  # nothing in this process's memory: each call plays a fresh instance
            with instance.app_context():
                client = service_token.ServiceClient.of(db.session.scalar(select(Platform)))
                return service_token.access_token(client, scopes, utcnow())

        first = token_on(a)
        assert token_on(b) == first and len(ags.token_requests) == 1
        with b.app_context():  # the platform refused it (401): forgotten for every instance
            service_token.drop(service_token.ServiceClient.of(db.session.scalar(select(Platform))), scopes)
        token_on(a)
        assert len(ags.token_requests) == 2
    finally:
        ags.close(), lms.close()
        service_token.forget()
