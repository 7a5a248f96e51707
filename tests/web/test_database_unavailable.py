"""When the database cannot be reached, a page answers 503 "briefly unavailable" inside the frame, the API
answers 503 in its error envelope with Retry-After, and neither shows a stack trace. (The live version, a
PostgreSQL crash under load, is tests/deploy/test_database_outage.py.)"""
from __future__ import annotations

import pytest

from plugin import create_app
from plugin.lti.session import issue_token


@pytest.fixture
def cut_off(tmp_path):
    """The app pointed at a database that cannot be opened (a directory that does not exist)."""
    app = create_app({"TESTING": True, "DATABASE_OUTAGE_PAGES": True, "TINKER_BASE_URL": "http://localhost",
                      "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/missing/dir/tinker.db"})
    return app.test_client(), issue_token(app.config["SECRET_KEY"], "a-launch-session")


def test_a_page_says_briefly_unavailable_with_a_retry_hint(cut_off):
    client, token = cut_off
    response = client.get("/app/", query_string={"lt": token})
    body = response.get_data(as_text=True)
    assert response.status_code == 503 and response.headers["Retry-After"] == "30"
    assert "Tinker is briefly unavailable" in body and "will not save it twice" in body
    assert "Traceback" not in body and "sqlite" not in body.lower()


def test_a_form_post_during_an_outage_is_a_503_not_a_crash(cut_off):
    client, token = cut_off
    response = client.post("/app/experiments", data={"lt": token, "title": "x"})
    assert response.status_code == 503


def test_the_api_answers_in_its_envelope(cut_off):
    client, token = cut_off
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 503 and response.headers["Retry-After"] == "30"
    assert response.get_json() == {"error": {"code": "database_unavailable", "message": response.get_json()[
        "error"]["message"]}} and "try again" in response.get_json()["error"]["message"]
