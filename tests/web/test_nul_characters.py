"""A NUL character (%00) in a query string or form is a 400 on every page and in the API, never a server error
(PostgreSQL refuses NUL in any text a query compares)."""
import pytest


@pytest.mark.parametrize("path,args,role", [
    ("/app/experiments", {"q": "a\x00b"}, "learner"),
    ("/app/experiments", {"outcome": "fa\x00iled"}, "learner"),
    ("/app/admin/privacy", {"q": "a\x00b"}, "admin"),
    ("/app/insights/", {"kind": "month\x00"}, "instructor"),
])
def test_a_nul_in_a_query_string_is_a_bad_request(client, launch, path, args, role):
    token = launch(role=role, sub=f"someone-{role}")
    response = client.get(path, query_string={"lt": token, **args})
    assert response.status_code == 400
    assert client.get(path, query_string={"lt": token}).status_code == 200  # the same page without it


def test_a_nul_in_a_form_is_a_bad_request_and_nothing_is_saved(client, launch):
    from tests.web.helpers import log_experiment, visible

    learner = launch(sub="ada")
    assert log_experiment(client, learner, title="Drafted\x00 a memo").status_code == 400
    assert "Drafted" not in visible(client.get("/app/experiments", query_string={"lt": learner}))


def test_the_api_answers_a_nul_in_a_query_string_with_its_envelope(client, launch):
    token = launch(role="instructor", sub="teacher")
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).get_json()
    response = client.get(f"/api/v1/courses/{me['course_id']}/experiments", query_string={"q": "a\x00b"},
                          headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "bad_request"
