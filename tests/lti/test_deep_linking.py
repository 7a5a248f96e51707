"""Deep linking through real signed launches: managers pick what to place, the signed answer verifies
against the tool's published key set, and a placed link's later launch opens that view."""
import html
import re

import jwt
import pytest
from sqlalchemy import func, select

from tests.support.platform import DEEP_LINKING_SETTINGS, DROP, LTI, RETURN_URL, deep_linking_request, token_from

DL = "https://purl.imsglobal.org/spec/lti-dl/claim/"


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def deep_link(client, platform, role="instructor", sub="teacher", **settings):
    """A deep-linking launch; returns the launch response."""
    response, _ = platform.launch(client, role=role, sub=sub, overrides=deep_linking_request(**settings))
    return response


def picker_token(client, platform, **settings) -> str:
    response = deep_link(client, platform, **settings)
    assert response.headers["Location"].startswith("/lti/deep-link?lt="), response.headers.get("Location")
    return token_from(response)


def submitted_jwt(response) -> str:
    page = text(response)
    assert response.status_code == 200, page[:2000]
    return re.search(r'name="JWT" value="([^"]+)"', page).group(1)


def verify(client, token: str, audience: str) -> dict:
    """Verify as a platform would: with the key /lti/jwks publishes under the token's kid."""
    published = {k["kid"]: k for k in client.get("/lti/jwks").get_json()["keys"]}
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "RS256" and header["kid"] in published
    return jwt.decode(token, jwt.PyJWK(published[header["kid"]]).key, algorithms=["RS256"], audience=audience)


# --- who may deep link ----------------------------------------------------------------------------

@pytest.mark.parametrize("role", ["instructor", "ta", "admin"])
def test_staff_get_an_accessible_picker(client, platform, role):
    token = picker_token(client, platform) if role == "instructor" else token_from(
        deep_link(client, platform, role=role, sub=f"s-{role}"))
    page = client.get("/lti/deep-link", query_string={"lt": token})
    body = text(page)
    assert page.status_code == 200, body[:1500]
    assert "<fieldset" in body and "<legend>" in body
    for key, title in [("dashboard", "My dashboard"), ("log-experiment", "Log an experiment"),
                       ("leaderboard", "Leaderboard")]:
        assert f'value="{key}" id="f-view-{key}"' in body and title in body
        assert f'<label class="choice" for="f-view-{key}">' in body
    assert 'type="checkbox"' in body  # the platform accepts several items
    assert 'name="lt" value="' in body


def test_learner_deep_link_launch_is_refused(client, platform, app):
    from plugin.lti.models import LaunchSession

    response = deep_link(client, platform, role="learner", sub="pupil")
    assert response.status_code == 403 and "Only instructors and administrators" in text(response)
    assert "Location" not in response.headers
    with app.app_context():
        from plugin.extensions import db

        assert db.session.scalar(select(func.count()).select_from(LaunchSession)) == 0


def test_picker_needs_a_deep_linking_launch_and_a_staff_role(client, platform, launch):
    learner = launch(role="learner", sub="pupil")
    assert client.get("/lti/deep-link", query_string={"lt": learner}).status_code == 403
    assert client.post("/lti/deep-link", data={"lt": learner, "view": "leaderboard"}).status_code == 403
    manager_plain_launch = launch(role="instructor", sub="teacher")
    refused = client.get("/lti/deep-link", query_string={"lt": manager_plain_launch})
    assert refused.status_code == 403 and "content selection" in text(refused)


def test_submit_needs_the_launch_token(client, platform):
    picker_token(client, platform)  # the session cookie alone never authorises a POST
    assert client.post("/lti/deep-link", data={"view": "leaderboard"}).status_code == 401


# --- the signed answer ----------------------------------------------------------------------------

def test_response_jwt_verifies_against_the_tool_jwks(client, platform, app):
    token = picker_token(client, platform)
    response = client.post("/lti/deep-link", data={"lt": token, "view": "leaderboard"})
    page = text(response)
    assert f'<form method="post" action="{RETURN_URL}" data-autopost' in page
    assert "js/tinker.js" in page and "<script>" not in page
    csp = response.headers["Content-Security-Policy"]
    form_action = csp.split("form-action", 1)[1].split(";", 1)[0]
    assert form_action.split() == ["'self'", "https://lms.example.edu"]
    other_page = client.get("/app/", query_string={"lt": token}, follow_redirects=True)
    assert "form-action 'self';" in other_page.headers["Content-Security-Policy"]  # only that page

    claims = verify(client, submitted_jwt(response), audience=platform.issuer)
    assert claims["iss"] == platform.client_id and claims["aud"] == platform.issuer
    assert claims[LTI + "deployment_id"] == platform.deployment_id
    assert claims[LTI + "message_type"] == "LtiDeepLinkingResponse"
    assert claims[LTI + "version"] == "1.3.0"
    assert claims["nonce"] and 0 < claims["exp"] - claims["iat"] <= 600
    assert claims[DL + "data"] == "moodle-opaque-42"
    (item,) = claims[DL + "content_items"]
    assert item["type"] == "ltiResourceLink" and item["title"] == "Leaderboard"
    assert item["url"] == "http://localhost/lti/launch"
    assert item["custom"] == {"tinker_view": "leaderboard"}


def test_several_items_when_the_platform_accepts_several(client, platform):
    token = picker_token(client, platform)
    response = client.post("/lti/deep-link", data={"lt": token, "view": ["dashboard", "log-experiment"]})
    claims = verify(client, submitted_jwt(response), audience=platform.issuer)
    assert [i["custom"]["tinker_view"] for i in claims[DL + "content_items"]] == ["dashboard", "log-experiment"]


def test_no_data_setting_means_no_data_claim(client, platform):
    token = picker_token(client, platform, data=DROP)
    claims = verify(client, submitted_jwt(client.post("/lti/deep-link", data={"lt": token, "view": "dashboard"})),
                    audience=platform.issuer)
    assert DL + "data" not in claims


def test_cancel_returns_no_items(client, platform):
    token = picker_token(client, platform)
    response = client.post("/lti/deep-link", data={"lt": token, "cancel": "1"})
    claims = verify(client, submitted_jwt(response), audience=platform.issuer)
    assert claims[DL + "content_items"] == [] and claims[DL + "data"] == "moodle-opaque-42"


@pytest.mark.parametrize("views, settings", [
    ([], {}),
    (["not-a-view"], {}),
    (["dashboard", "leaderboard"], {"accept_multiple": False}),
])
def test_invalid_choices_are_shown_again(client, platform, views, settings):
    token = picker_token(client, platform, **settings)
    response = client.post("/lti/deep-link", data={"lt": token, "view": views})
    body = text(response)
    assert response.status_code == 422 and 'role="alert"' in body and 'aria-invalid="true"' in body
    assert 'name="JWT"' not in body
    if settings.get("accept_multiple") is False:
        assert 'type="radio"' in body and 'type="checkbox"' not in body


# --- the deep-linking request is validated ---------------------------------------------------------

@pytest.mark.parametrize("overrides, fragment", [
    ({DEEP_LINKING_SETTINGS: DROP}, "Deep Linking Settings"),
    ({DEEP_LINKING_SETTINGS: {"accept_types": ["ltiResourceLink"], "accept_presentation_document_targets": ["iframe"]}},
     "deep_link_return_url"),
    ({DEEP_LINKING_SETTINGS: {"deep_link_return_url": "javascript:alert(1)", "accept_types": ["ltiResourceLink"],
                              "accept_presentation_document_targets": ["iframe"]}}, "deep_link_return_url"),
    ({DEEP_LINKING_SETTINGS: {"deep_link_return_url": RETURN_URL, "accept_types": ["file"],
                              "accept_presentation_document_targets": ["iframe"]}}, "resource link"),
])
def test_deep_linking_launch_without_usable_settings_is_rejected(client, platform, overrides, fragment):
    claims = {**deep_linking_request(), **overrides}
    response, _ = platform.launch(client, role="instructor", sub="teacher", overrides=claims)
    body = text(response)
    assert response.status_code == 400 and fragment in body, body[:1500]
    assert "Location" not in response.headers


# --- placed links land on their view ---------------------------------------------------------------

@pytest.mark.parametrize("role, view, landing", [
    ("learner", "leaderboard", "/app/leaderboard"),
    ("instructor", "leaderboard", "/app/leaderboard"),
    ("learner", "log-experiment", "/app/experiments/new"),
    ("mentor", "log-experiment", "/app/?"),   # observers cannot log: their home page instead
    ("learner", "no-such-view", "/app/?"),
    ("learner", "dashboard", "/app/?"),
])
def test_placed_link_launch_lands_on_its_view(client, platform, role, view, landing):
    response, _ = platform.launch(client, role=role, sub=f"{role}-{view}",
                                  overrides={LTI + "custom": {"tinker_view": view}})
    token = token_from(response)
    assert response.headers["Location"].startswith(landing), response.headers["Location"]
    assert client.get(response.headers["Location"]).status_code in (200, 303)
    assert token


def test_round_trip_from_picker_to_placed_launch(client, platform):
    token = picker_token(client, platform)
    claims = verify(client, submitted_jwt(client.post("/lti/deep-link", data={"lt": token, "view": "leaderboard"})),
                    audience=platform.issuer)
    (item,) = claims[DL + "content_items"]
    # The platform stores the link and launches it with the item's custom parameters.
    response, _ = platform.launch(client, role="learner", sub="pupil", overrides={LTI + "custom": item["custom"]})
    page = client.get(response.headers["Location"])
    assert response.headers["Location"].startswith("/app/leaderboard") and page.status_code == 200


def test_a_tool_key_the_secret_key_no_longer_opens_gives_a_page_telling_the_operator_what_to_do(
        client, platform, app, monkeypatch):
    """The operator changed TINKER_SECRET_KEY after the tool key was made: the key cannot be decrypted, so Tinker
    cannot sign its answer. The manager who picked the links gets an error page in the LMS frame saying why and
    what the server's administrator can do (it was a 500 "something went wrong on our side"), and nothing is posted
    back to the LMS."""
    picker_token(client, platform)  # the tool key exists, encrypted with the first secret key
    monkeypatch.setitem(app.config, "SECRET_KEY", "another-secret-key-entirely-0123456789")
    token = picker_token(client, platform)  # the launch after the change (its token signed with the new key)
    response = client.post("/lti/deep-link", data={"lt": token, "view": "leaderboard"})
    page = text(response)
    assert response.status_code == 503, page[:2000]
    assert "TINKER_SECRET_KEY" in page and "rotate-key" in page
    assert "Something went wrong on our side" not in page and 'name="JWT"' not in page
