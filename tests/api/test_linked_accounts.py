"""Linked accounts over the API, through real signed launches from two registrations of one organisation: the
person lists their accounts, shows a code in one LMS, types it in the other, and unlinks; wrong, used and own
codes are refused in the envelope, then 429; an API token (no person) is refused."""
from __future__ import annotations

import pytest

from tests.api.conftest import SCOPES, bearer, issue_token
from tests.lti.test_identity_links import launch_from

URL = "/api/v1/me/linked-accounts"


@pytest.fixture
def canvas(canvas_of_same_organisation):
    return canvas_of_same_organisation


def code_of(client, token: str) -> str:
    shown = client.post(f"{URL}/codes", headers=bearer(token))
    assert shown.status_code == 201 and shown.headers["Cache-Control"] == "no-store"
    assert shown.get_json()["expires_at"]
    return shown.get_json()["code"]


def refusal(response) -> tuple[int, str, str]:
    error = response.get_json()["error"]
    return response.status_code, error["code"], error["message"]


def test_a_person_links_two_lms_accounts_and_unlinks_them(client, platform, canvas):
    in_moodle = launch_from(platform, client, "3", "onboarding", "Ada Lovelace")
    in_canvas = launch_from(canvas, client, "a1b2", "academy", "Ada L.")
    assert client.get(URL, headers=bearer(in_moodle)).get_json() == []

    linked = client.post(f"{URL}/link", headers=bearer(in_canvas), json={"code": code_of(client, in_moodle).lower()})
    assert linked.status_code == 200, linked.get_json()
    accounts = linked.get_json()
    assert [(a["platform"], a["name"], a["method"], a["is_me"]) for a in accounts] == [
        ("https://lms.example.edu", "Ada Lovelace", "code", False),
        ("https://canvas.instructure.com", "Ada L.", "code", True)]
    seen_from_moodle = client.get(URL, headers=bearer(in_moodle)).get_json()
    assert [(a["user_id"], a["is_me"]) for a in seen_from_moodle] == [(accounts[0]["user_id"], True),
                                                                      (accounts[1]["user_id"], False)]

    unlinked = client.delete(f"{URL}/{accounts[1]['user_id']}", headers=bearer(in_moodle))
    assert unlinked.status_code == 200 and unlinked.get_json() == {"unlinked": accounts[1]["user_id"], "accounts": []}
    assert client.get(URL, headers=bearer(in_canvas)).get_json() == []
    gone = client.delete(f"{URL}/{accounts[1]['user_id']}", headers=bearer(in_moodle))
    assert refusal(gone) == (404, "not_found", "That account is not linked to you.")


def test_codes_are_refused_as_on_the_page_then_limited(client, platform, canvas):
    in_moodle = launch_from(platform, client, "3", "onboarding", "Ada")
    in_canvas = launch_from(canvas, client, "a1b2", "academy", "Ada")
    short = client.post(f"{URL}/link", headers=bearer(in_canvas), json={"code": "ABC"})
    assert short.status_code == 422 and short.get_json()["error"]["errors"] == {
        "code": ["The code has 8 letters and digits, like ABCD-1234."]}
    own = client.post(f"{URL}/link", headers=bearer(in_canvas), json={"code": code_of(client, in_canvas)})
    assert refusal(own)[:2] == (422, "link_refused") and "shown in this account" in refusal(own)[2]
    good = code_of(client, in_moodle)
    assert client.post(f"{URL}/link", headers=bearer(in_canvas), json={"code": good}).status_code == 200
    bo = launch_from(canvas, client, "bo", "academy", "Bo")
    used = client.post(f"{URL}/link", headers=bearer(bo), json={"code": good})
    assert refusal(used) == (422, "link_refused", "This code was already used.")
    for _ in range(4):  # with the used code: five wrong codes in the window
        wrong = client.post(f"{URL}/link", headers=bearer(bo), json={"code": "ZZZZ-ZZZZ"})
        assert refusal(wrong) == (422, "link_refused", "This code is not valid. Check it and try again.")
    limited = client.post(f"{URL}/link", headers=bearer(bo), json={"code": code_of(client, in_moodle)})
    assert limited.status_code == 429 and limited.get_json()["error"]["code"] == "rate_limited"
    assert "Too many wrong codes" in limited.get_json()["error"]["message"]
    assert int(limited.headers["Retry-After"]) > 0
    assert client.get(URL, headers=bearer(bo)).get_json() == []


def test_an_api_token_has_no_person_to_link(app, client, platform):
    learner = launch_from(platform, client, "3", "onboarding", "Ada")
    organisation_id = client.get("/api/v1/me", headers=bearer(learner)).get_json()["organisation_id"]
    token = issue_token(app, organisation_id, SCOPES)
    for method, path, body in (("GET", URL, None), ("POST", f"{URL}/codes", None),
                               ("POST", f"{URL}/link", {"code": "ZZZZ-ZZZZ"}), ("DELETE", f"{URL}/1", None)):
        response = client.open(path, method=method, headers=bearer(token), json=body)
        assert response.status_code == 403 and response.get_json()["error"]["code"] == "forbidden", path
