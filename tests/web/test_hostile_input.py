"""Pages that refuse input say what is wrong in words a person understands (English and Turkish) and keep what they
typed; a stale or hand-edited link falls back to a default view; hostile values are refused, never a server error
(found by a fuzzing review: each failed before its fix)."""
from __future__ import annotations

import pytest

from tests.support.platform import LTI, token_from
from tests.web.helpers import text, visible


def _launch_in(client, platform, locale: str, role: str = "learner", sub: str = "ada") -> str:
    overrides = {LTI + "launch_presentation": {"return_url": "https://lms.example.edu/x", "locale": locale}}
    response, _flow = platform.launch(client, role=role, sub=sub, overrides=overrides)
    return token_from(response)


# --- the badge identity form forgets the address it refused -----------------------------------------------------

@pytest.mark.parametrize("kind, field, typed", [
    ("email", "email", "ada.lovelace@localhost"),  # a browser's type="email" accepts it; Tinker refuses it
    ("url", "url", "http://localhost/~ada"),  # a browser's type="url" accepts it; Tinker refuses it (no dot)
])
def test_a_refused_badge_identity_keeps_what_was_typed(client, launch, kind, field, typed):
    token = launch(sub="ada")
    response = client.post("/app/badges/identity", data={"lt": token, "kind": kind, field: typed})
    assert response.status_code == 422
    assert typed in text(response), "the refused address is gone from the form: the learner must type it again"


# --- linking accounts forgets the code it refused ---------------------------------------------------------------

def test_a_refused_link_code_keeps_what_was_typed(client, launch):
    token = launch(sub="ada")
    response = client.post("/app/linked-accounts/link", data={"lt": token, "code": "ABCD-EFGX"})
    assert response.status_code in (404, 409, 422)
    assert 'name="code"' in text(response)
    assert "ABCD-EFGX" in text(response), "the mistyped code is gone: the learner cannot see or fix their typo"


# --- the leaderboard answers a stale or edited link with marshmallow's list of internal values ------------------

@pytest.mark.parametrize("locale", ["en", "tr-TR"])
@pytest.mark.parametrize("query, internal", [
    ({"measure": "points"}, "points_per_member"),
    ({"tab": "people "}, "people, teams"),
    ({"scope": "all"}, "course, organisation"),
])
def test_a_bad_leaderboard_parameter_is_said_in_words_not_as_internal_values(client, platform, locale, query,
                                                                              internal):
    token = _launch_in(client, platform, locale)
    response = client.get("/app/leaderboard", query_string={"lt": token, **query})
    page = visible(response)
    assert response.status_code < 500
    assert internal not in page and "Must be one of" not in page and "Şunlardan biri" not in page, page[-400:]


def test_a_bad_leaderboard_dimension_message_names_what_is_wrong(client, launch):
    token = launch(sub="ada")
    response = client.get("/app/leaderboard", query_string={"lt": token, "dimension": ""})
    page = visible(response)
    assert "Length must be between 1 and 40." not in page, page[-300:]


# --- the experiment form answers a choice it does not know, or a lost hidden key, with library messages ----------

@pytest.mark.parametrize("locale", ["en", "tr-TR"])
@pytest.mark.parametrize("field, value, internal", [
    ("outcome", "success", "worked, partly, failed"),  # a stale form, or a value an LMS wrapper rewrote
    ("visibility", "public", "private, team, course"),
    ("sensitive_data", "maybe", "no, yes, unsure"),
])
def test_an_unknown_choice_on_the_experiment_form_is_said_in_words_and_the_text_is_kept(client, platform, locale,
                                                                                       field, value, internal):
    from tests.web.helpers import experiment_form

    english = _launch_in(client, platform, "en", sub="bob")  # the helper reads the form's English labels
    data = experiment_form(client, english, tried="Asked it to summarise the syllabus in five bullets")
    data.update({"lt": _launch_in(client, platform, locale), field: value})
    response = client.post("/app/experiments", data=data)
    page = visible(response)
    assert response.status_code == 422
    assert "Asked it to summarise the syllabus in five bullets" in text(response)
    assert "Must be one of" not in page and "Şunlardan biri" not in page and internal not in page, page[:600]


def test_a_lost_submission_key_is_not_reported_as_a_bare_length_rule(client, launch):
    from tests.web.helpers import experiment_form

    token = launch(sub="ada")
    data = experiment_form(client, token)
    data["submission_key"] = ""
    response = client.post("/app/experiments", data=data)
    page = visible(response)
    assert response.status_code == 422
    assert "Length must be between 8 and 64." not in page, page[:600]


# --- a NUL in a public badge address is a server error on PostgreSQL ---------------------------------------------

@pytest.mark.parametrize("path", ["/ob/v2/assertions/a%00b", "/ob/v2/assertions/a%00b/verify",
                                  "/ob/v2/assertions/a%00b/evidence", "/ob/v2/assertions/a%00b/baked.png",
                                  "/ob/v3/credentials/a%00b", "/ob/v3/credentials/a%00b.json",
                                  "/ob/v3/credentials/a%00b.jwt", "/ob/v3/credentials/a%00b/verify"])
def test_a_nul_in_a_public_badge_address_is_a_404_not_a_server_error(app, client, monkeypatch, path):
    """Verifiers and crawlers reach these addresses without a launch. The NUL check (web/security.py) read only the
    query string and the form, so the NUL reached PostgreSQL in `BadgeAward.public_id == ...`: a 500 there."""
    monkeypatch.setitem(app.config, "RAISE_UNEXPECTED", False)
    response = client.get(path)
    assert response.status_code in (400, 404), response.status_code


# --- the challenge form's summary: library messages, no field named, English on a Turkish page --------------------

def _challenge_form(**fields) -> dict:
    from datetime import datetime, timedelta, timezone

    now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    return {"title": "Assessment sprint", "goal_kind": "count", "goal_value": "2",
            "starts_at": (now - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"),
            "ends_at": (now + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M"), **fields}


def test_a_too_long_challenge_description_is_said_in_turkish_on_a_turkish_page(client, platform):
    token = _launch_in(client, platform, "tr-TR", role="instructor", sub="teacher")
    response = client.post("/app/challenges/", data={"lt": token, **_challenge_form(description="x" * 5001)},
                           content_type="multipart/form-data")
    page = visible(response)
    assert response.status_code == 422
    assert "Longer than maximum length" not in page, page[:900]


@pytest.mark.parametrize("field", ["ai_tool", "team", "badge", "task_category", "champion"])
def test_a_challenge_choice_that_is_no_number_names_its_field(client, launch, field):
    token = launch(role="instructor", sub="teacher")
    response = client.post("/app/challenges/", data={"lt": token, **_challenge_form(**{field: "any"})},
                           content_type="multipart/form-data")
    page = visible(response)
    assert response.status_code == 422
    assert "Not a valid integer." not in page, page[:900]  # which of the five lists? The summary does not say


# --- insights filters: "Not a valid integer." / "Must be one of: week, month, quarter." with no field named -------

@pytest.mark.parametrize("query, raw", [({"course": "all"}, "Not a valid integer."),
                                       ({"team": "all"}, "Not a valid integer."),
                                       ({"kind": "year"}, "week, month, quarter")])
def test_an_insights_filter_in_bad_shape_is_said_in_words(client, launch, query, raw):
    token = launch(role="instructor", sub="teacher")
    response = client.get("/app/insights/", query_string={"lt": token, **query})
    page = visible(response)
    assert response.status_code < 500
    assert raw not in page, page[-300:]


def test_a_grade_sync_mode_it_does_not_know_is_said_in_words(client, launch):
    """A mode the form does not offer (sent by hand) is answered on the grade sync page itself, the message by the
    score choices, not on an error page."""
    token = launch(role="instructor", sub="teacher")
    response = client.post("/app/manage/grades", data={"lt": token, "enabled": "on", "mode": "percent"})
    assert "points, progress" not in visible(response), visible(response)[-300:]
    assert response.status_code == 422
    page = visible(response)
    assert "Choose what the grade shows: points, or progress towards the top level." in page
    assert "Recent deliveries" in page  # the grade sync page, not an error page
    assert 'id="mode-error"' in response.get_data(as_text=True)


# --- the challenge form's lists take any whole number: past the database's INTEGER it is a server error ------------

@pytest.mark.parametrize("value", ["2147483648", "99999999999999999999"])  # PostgreSQL: both; SQLite: the second
@pytest.mark.parametrize("op, field", [(op, field) for op in ("create", "update")
                                       for field in ("task_category", "ai_tool", "badge")])
def test_a_challenge_list_choice_out_of_range_is_a_field_message(app, client, launch, monkeypatch, op, field, value):
    monkeypatch.setitem(app.config, "RAISE_UNEXPECTED", False)
    token = launch(role="instructor", sub="teacher")
    path = "/app/challenges/"
    if op == "update":
        made = client.post(path, data={"lt": token, **_challenge_form()}, content_type="multipart/form-data")
        assert made.status_code == 303
        path = made.headers["Location"].split("?")[0]
    response = client.post(path, data={"lt": token, **_challenge_form(title="Kept title", **{field: value})},
                           content_type="multipart/form-data")
    assert response.status_code == 422, response.status_code
    assert 'value="Kept title"' in text(response)
