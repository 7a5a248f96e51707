"""PostgreSQL crashes in the middle of a stream of experiments sent to a gunicorn instance: requests during the
outage get a clean 503 (page and JSON, never a traceback), the app reconnects by itself once the database is
back, and every experiment that got a success is stored exactly once with its ledger entry; re-sending the
ones that failed saves each once too (the receipts kept client-side are compared with the database)."""
from __future__ import annotations

import threading
import time

import pytest
import requests
from sqlalchemy import create_engine, select, text

from tests.support.instances import Instance, experiment_fields, free_port, instance_env, launch
from tests.support.pg import ThrowawayPostgres, create_database

LEARNERS = ("dev-learner-20", "dev-learner-21", "dev-learner-22")


def _replay_differences() -> list:
    """Where the ledger differs from what the rules award for the stored facts (plugin.replay)."""
    from plugin.core.clock import utcnow
    from plugin.extensions import db
    from plugin.replay.service import replay
    from plugin.tenancy.models import Organisation

    return [change for organisation_id in db.session.scalars(select(Organisation.id))
            for change in replay(organisation_id, utcnow()).points]


@pytest.fixture
def outage_world(db_kind, tmp_path):
    if db_kind != "postgresql":
        pytest.skip("a PostgreSQL restart (the SQLite file cannot go away under the app)")
    import flask_migrate

    from plugin import create_app
    from plugin.core.clock import utcnow
    from plugin.devlms.seed import seed
    from plugin.extensions import db

    server = ThrowawayPostgres(durable=True)  # its own server, which this test crashes
    url = create_database(server.start(), "outage")
    port = free_port()
    public = f"http://127.0.0.1:{port}"
    setup = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "TINKER_BASE_URL": public,
                        "DEV_LMS_ENABLED": True})
    with setup.app_context():
        flask_migrate.upgrade()
        seed(public, utcnow())
        db.session.commit()
        setup.replay_before = _replay_differences()  # the demo data's own (backdated history), if any
        db.engine.dispose()
    instance = Instance(instance_env(url, public, tmp_path), tmp_path / "app.log", port, workers=3)
    try:
        instance.wait()
        yield server, instance, url, setup.replay_before
    finally:
        instance.stop()
        server.stop()


def test_a_database_crash_mid_stream_gets_clean_503s_recovers_and_loses_or_doubles_nothing(outage_world):
    server, app, url, replay_before = outage_world
    people = [launch(app.base, sub) for sub in LEARNERS]
    forms = [experiment_fields(browser, app.base, token) for browser, token in people]
    receipts: list[str] = []      # submission keys the app answered with success
    refused: list[str] = []       # submission keys answered 503 during the outage
    unexpected: list[tuple[int, str]] = []
    outage_bodies: list[str] = []
    stop = threading.Event()
    lock = threading.Lock()

    def stream(index: int) -> None:
        browser, _token = people[index]
        n = 0
        while not stop.is_set():
            n += 1
            key = f"outage-{index}-{n:05d}"
            try:
                r = browser.post(f"{app.base}/app/experiments", allow_redirects=False, timeout=20, data={
                    **forms[index], "submission_key": key, "title": f"Stream {index} #{n}",
                    "tried": "Sent while the database may be restarting."})
            except requests.RequestException as err:  # the connection itself failed: unknown outcome
                with lock:
                    unexpected.append((0, f"{key}: {err}"))
                continue
            with lock:
                if r.status_code == 303:
                    receipts.append(key)
                elif r.status_code == 503:
                    refused.append(key)
                    outage_bodies.append(r.text)
                else:
                    unexpected.append((r.status_code, key))
            if r.status_code == 503:
                time.sleep(0.2)

    threads = [threading.Thread(target=stream, args=(i,)) for i in range(len(people))]
    for t in threads:
        t.start()
    time.sleep(3)
    before_crash = len(receipts)
    server.crash()
    time.sleep(3)
    json_during = requests.get(f"{app.base}/app/experiments", params={"lt": people[0][1]},
                               headers={"Accept": "application/json"}, timeout=20)
    server.start_again()
    with lock:
        at_restart = len(receipts)
    time.sleep(6)
    stop.set()
    for t in threads:
        t.join(60)

    assert before_crash > 0, "experiments were flowing before the crash"
    assert refused, "the outage was seen by clients"
    assert not unexpected, (unexpected[:10], app.tail())
    # The page speaks each learner's language (some of the dev LMS's learners launch in Turkish).
    said = ("Tinker is briefly unavailable", "Tinker kısa bir süre için kullanılamıyor")
    assert all(any(s in body for s in said) and "Traceback" not in body for body in outage_bodies), \
        [b[:600] for b in outage_bodies if not any(s in b for s in said)][:2]
    assert json_during.status_code == 503
    assert json_during.json()["error"]["code"] == "database_unavailable"
    assert len(receipts) > at_restart, "the app recovered by itself and accepted experiments again"

    # The clients send again what the outage refused, as the page asks: each is saved once.
    for key in refused:
        index = int(key.split("-")[1])
        r = people[index][0].post(f"{app.base}/app/experiments", allow_redirects=False, timeout=20, data={
            **forms[index], "submission_key": key, "title": "Sent again", "tried": "Sent again after the outage."})
        assert r.status_code == 303, (key, r.status_code)

    from plugin.experiments.service import sent_key

    engine = create_engine(url)
    with engine.connect() as conn:
        stored: dict[str, int] = {}  # by the key the form sent (the entry is kept under it and a digest)
        for key, count in conn.execute(text("SELECT submission_key, count(*) FROM experiment "
                                            "WHERE submission_key LIKE 'outage-%' GROUP BY submission_key")):
            stored[sent_key(key)] = stored.get(sent_key(key), 0) + count
    engine.dispose()
    for key in receipts + refused:
        assert stored.get(key) == 1, (key, stored.get(key))
    assert set(stored) <= set(receipts) | set(refused) | {k for _, k in unexpected}

    # ...and the ledger holds exactly what the rules award for what is stored (no award lost with a crash, none
    # doubled by a retry), totals and boards agree with it.
    from plugin import create_app
    from plugin.leaderboards import rebuild
    from plugin.ledger.service import verify_totals

    check = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "TINKER_BASE_URL": app.base})
    with check.app_context():
        from plugin.extensions import db

        assert _replay_differences() == replay_before
        assert verify_totals() == []
        assert rebuild.verify() == {}
        db.session.rollback()
        db.engine.dispose()
