"""The tool's key set: a standard {"keys": [...]}, shared by every instance, rotated without breaking."""
import jwt


def test_jwks_is_a_standard_document(client, app):
    response = client.get("/lti/jwks")
    assert response.status_code == 200
    document = response.get_json()
    assert list(document) == ["keys"]
    (key,) = document["keys"]
    assert key["kty"] == "RSA" and key["alg"] == "RS256" and key["use"] == "sig" and key["kid"]
    assert "d" not in key and "p" not in key  # never the private part


def test_rotate_keeps_old_key_published_until_removed(client, cli):
    """(A rotation that signs at once; staged ones: test_key_rotation.py.)"""
    first = client.get("/lti/jwks").get_json()["keys"][0]["kid"]
    result = cli("lti", "rotate-key", "--now")
    assert result.exit_code == 0
    kids = [k["kid"] for k in client.get("/lti/jwks").get_json()["keys"]]
    assert len(kids) == 2 and first in kids and kids[0] != first
    assert cli("lti", "remove-key", kids[0]).exit_code != 0  # the current signing key stays
    assert cli("lti", "remove-key", first).exit_code == 0
    assert [k["kid"] for k in client.get("/lti/jwks").get_json()["keys"]] == [kids[0]]


def test_signatures_verify_against_the_published_key(app, client):
    from plugin.lti import keys

    published = {k["kid"]: k for k in client.get("/lti/jwks").get_json()["keys"]}
    with app.app_context():
        token = keys.sign({"iss": "tinker", "aud": "platform"})
    header = jwt.get_unverified_header(token)
    public = jwt.PyJWK(published[header["kid"]]).key
    assert jwt.decode(token, public, algorithms=["RS256"], audience="platform")["iss"] == "tinker"


def test_private_key_is_encrypted_at_rest(app, client):
    from sqlalchemy import select

    from plugin.extensions import db
    from plugin.lti.models import ToolKey

    client.get("/lti/jwks")
    with app.app_context():
        stored = db.session.scalar(select(ToolKey.private_pem_encrypted))
    assert "PRIVATE KEY" not in stored


def test_key_written_with_another_secret_is_refused_clearly(app, client, monkeypatch):
    import pytest

    from plugin.lti import keys

    client.get("/lti/jwks")
    monkeypatch.setitem(app.config, "SECRET_KEY", "a-different-secret")
    with app.app_context(), pytest.raises(RuntimeError, match="TINKER_SECRET_KEY"):
        keys.sign({"x": 1})
