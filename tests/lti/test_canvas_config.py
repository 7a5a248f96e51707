"""Canvas installs Tinker from a developer-key JSON URL: its shape is what Canvas reads."""
from urllib.parse import urlsplit

import pytest

AGS = "https://purl.imsglobal.org/spec/lti-ags/scope/"
NRPS = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"


@pytest.fixture
def config(client):
    response = client.get("/lti/canvas.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    return response.get_json()


def test_canvas_json_names_the_tool_urls(config):
    assert config["title"] == "Tinker" and config["description"]
    assert config["oidc_initiation_url"] == "http://localhost/lti/login"
    assert config["target_link_uri"] == "http://localhost/lti/launch"
    assert config["public_jwk_url"] == "http://localhost/lti/jwks"
    assert "public_jwk" not in config  # the key set URL, so key rotation needs no Canvas change


def test_canvas_json_scopes_are_ags_and_nrps(config):
    assert sorted(config["scopes"]) == sorted([AGS + "lineitem", AGS + "result.readonly", AGS + "score", NRPS])


def test_canvas_json_extension_and_placements(config):
    (extension,) = config["extensions"]
    assert extension["platform"] == "canvas.instructure.com"
    assert extension["privacy_level"] == "public"
    assert extension["domain"] == "localhost"
    placements = {p["placement"]: p for p in extension["settings"]["placements"]}
    assert set(placements) == {"course_navigation", "link_selection", "assignment_selection"}
    assert placements["course_navigation"]["message_type"] == "LtiResourceLinkRequest"
    for name in ("link_selection", "assignment_selection"):
        assert placements[name]["message_type"] == "LtiDeepLinkingRequest"
    for placement in placements.values():
        assert placement["target_link_uri"] == "http://localhost/lti/launch" and placement["text"]


def test_canvas_json_custom_fields_are_strings(config):
    assert config["custom_fields"] and all(isinstance(v, str) for v in config["custom_fields"].values())


def test_canvas_json_follows_the_configured_base_url(app, db_url, tmp_path):
    from plugin import create_app

    other = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": db_url, "TINKER_BASE_URL": "https://tinker.example.org:8443",
                        "DEV_LMS_KEY_PATH": str(tmp_path / "k.pem")})
    config = other.test_client().get("/lti/canvas.json").get_json()
    assert urlsplit(config["oidc_initiation_url"]).netloc == "tinker.example.org:8443"
    assert config["extensions"][0]["domain"] == "tinker.example.org:8443"


def test_show_config_points_at_the_canvas_json(cli):
    assert "Canvas JSON configuration:   http://localhost/lti/canvas.json" in cli("lti", "show-config").output
