"""Load balancers ask /healthz (process up) and /readyz (database reachable, migrations at head)."""
import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager

from plugin import create_app


def test_healthz_and_readyz_on_a_migrated_database(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["status"] == "ok"


def test_readyz_refuses_an_unmigrated_database(tmp_path):
    fresh = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/empty.db",
                        "DEV_LMS_KEY_PATH": str(tmp_path / "k.pem")})
    response = fresh.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["status"] == "unavailable"


def test_every_response_carries_a_request_id_and_keeps_a_sane_one_from_the_proxy(client):
    generated = client.get("/healthz").headers["X-Request-ID"]
    assert len(generated) == 16
    assert client.get("/healthz", headers={"X-Request-ID": "lb-1234abcd"}).headers["X-Request-ID"] == "lb-1234abcd"
    injected = client.get("/healthz", headers={"X-Request-ID": "bad id\\nwith newline"}).headers["X-Request-ID"]
    assert injected != "bad id\\nwith newline" and len(injected) == 16


@contextmanager
def json_logs(tmp_path) -> Iterator[tuple]:
    """An app logging JSON, and the stream its log lines go to (the root logger's handler set back after)."""
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db", "LOG_JSON": True,
                      "DEV_LMS_KEY_PATH": str(tmp_path / "k.pem")})
    stream = io.StringIO()
    (handler,) = logging.getLogger().handlers
    handler.setStream(stream)
    try:
        yield app, stream
    finally:
        logging.getLogger().handlers[:] = []


def test_json_logs_name_the_request(tmp_path):
    with json_logs(tmp_path) as (app, stream):
        app.test_client().get("/healthz", headers={"X-Request-ID": "trace-abcdef12"})
        lines = [json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{")]
        access = [entry for entry in lines if entry["logger"] == "tinker.access"]
        assert access and access[-1]["request_id"] == "trace-abcdef12" and access[-1]["status"] == 200
        assert access[-1]["path"] == "/healthz"


def test_a_json_log_record_stays_one_line_whatever_the_path_holds(tmp_path):
    """U+2028, U+2029 and U+0085 in a request's path: JSON leaves them raw, and a log reader splitting lines made
    three pieces of one record."""
    with json_logs(tmp_path) as (app, stream):
        app.test_client().get("/healthz/a\u2028b\u2029c\u0085d")
        access = [line for line in stream.getvalue().splitlines() if '"tinker.access"' in line]
        assert access, stream.getvalue()
        entry = json.loads(access[-1])  # the whole record, on one line
        assert entry["path"] == "/healthz/a\u2028b\u2029c\u0085d"
