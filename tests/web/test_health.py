"""Load balancers ask /healthz (process up) and /readyz (database reachable, migrations at head)."""
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
