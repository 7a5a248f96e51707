"""pylti1p3 reads registrations from the database through DbToolConf (used by the LTI services)."""


def test_registration_and_deployment_come_from_the_database(app, platform, client):
    from plugin.lti.tool_conf import DbToolConf

    jwks = client.get("/lti/jwks").get_json()
    with app.app_context():
        conf = DbToolConf()
        assert conf.check_iss_has_many_clients(platform.issuer)
        reg = conf.find_registration_by_params(platform.issuer, platform.client_id)
        assert reg.get_auth_login_url() == f"{platform.issuer}/auth"
        assert reg.get_auth_token_url() == f"{platform.issuer}/token"
        assert reg.get_key_set_url() == platform.server.url
        assert conf.find_registration_by_params(platform.issuer, "other-client") is None
        deployment = conf.find_deployment_by_params(platform.issuer, platform.deployment_id, platform.client_id)
        assert deployment.get_deployment_id() == platform.deployment_id
        assert conf.find_deployment_by_params(platform.issuer, "unknown", platform.client_id) is None
        assert conf.get_jwks() == jwks
