"""Open Badges 3.0 credentials verified with a maintained third-party library (openbadgeslib, PyPI) against
the running tool: the VC-JWT, the issuer's published keys, and revocation through the signed status list."""
from __future__ import annotations

import hashlib

import pytest
import requests
from jwt.algorithms import RSAAlgorithm

from plugin.badges.models import BadgeAward, SigningKey
from plugin.extensions import db
from tests.badges.conftest import award, make_world
from tests.services.factories import later

ob3 = pytest.importorskip("openbadgeslib.ob3")


def _http_get(url: str) -> bytes:
    response = requests.get(url, timeout=10)
    response.raise_for_status()
    return response.content


def _pem(jwk: dict) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return RSAAlgorithm.from_jwk(jwk).public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo)


def _award_on_live(app):
    with app.app_context():
        world = make_world(email="ada@example.org")
        pid = award(world)
        db.session.commit()
    return world, pid


def test_credential_verifies_with_openbadgeslib_using_the_published_key(app, live_server):
    world, pid = _award_on_live(app)
    base = live_server.base_url
    response = requests.get(f"{base}/ob/v3/credentials/{pid}.jwt", timeout=10)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("application/vc+jwt")
    token = response.text
    keys = requests.get(f"{base}/ob/v3/issuers/{world.org_id}/jwks", timeout=10).json()["keys"]
    assert len(keys) == 1 and "d" not in keys[0]  # public parameters only

    credential = ob3.OB3Verifier(_pem(keys[0])).verify(token, check_status=True, download=_http_get)
    assert credential.id == f"{base}/ob/v3/credentials/{pid}"
    assert credential.issuer.id == f"{base}/ob/v3/issuers/{world.org_id}" and credential.issuer.name == "Org A"
    assert credential.achievement.name == "AI Champion" and credential.achievement.tags == ["ai", "champion"]
    payload = ob3.OB3Verifier._decode_unverified(token)
    ident = payload["credentialSubject"]["identifier"][0]
    assert ident["identityHash"] == "sha256$" + hashlib.sha256(("ada@example.org" + ident["salt"]).encode()).hexdigest()
    assert payload["@context"] == ["https://www.w3.org/ns/credentials/v2",
                                   "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"]


def test_a_tampered_or_foreign_signed_credential_fails(app, live_server):
    world, pid = _award_on_live(app)
    base = live_server.base_url
    token = requests.get(f"{base}/ob/v3/credentials/{pid}.jwt", timeout=10).text
    header, payload, signature = token.split(".")
    tampered = ".".join([header, payload[:-4] + ("AAAA" if payload[-4:] != "AAAA" else "BBBB"), signature])
    key = requests.get(f"{base}/ob/v3/issuers/{world.org_id}/jwks", timeout=10).json()["keys"][0]
    with pytest.raises(ob3.OB3VerificationError):
        ob3.OB3Verifier(_pem(key)).verify(tampered)
    assert requests.get(f"{base}/ob/v3/credentials/not-a-real-id.jwt", timeout=10).status_code == 404
    with app.app_context():
        other = make_world(organisation="Org B", issuer="https://lms.b.example", sub="b-1")
        other_pid = award(other)
        db.session.commit()
    requests.get(f"{base}/ob/v3/credentials/{other_pid}.jwt", timeout=10)  # B's key is made on first use
    b_key = requests.get(f"{base}/ob/v3/issuers/{other.org_id}/jwks", timeout=10).json()["keys"][0]
    assert b_key["kid"] != key["kid"]
    with pytest.raises(ob3.OB3VerificationError):
        ob3.OB3Verifier(_pem(b_key)).verify(token)  # organisation B's key does not vouch for A's badge


def test_revoked_award_fails_status_check_through_the_signed_list(app, live_server):
    from plugin.recognition.service import revoke_badge

    world, pid = _award_on_live(app)
    base = live_server.base_url
    token = requests.get(f"{base}/ob/v3/credentials/{pid}.jwt", timeout=10).text
    key = _pem(requests.get(f"{base}/ob/v3/issuers/{world.org_id}/jwks", timeout=10).json()["keys"][0])
    ob3.OB3Verifier(key).verify(token, check_status=True, download=_http_get)
    with app.app_context():
        award_id = db.session.scalar(db.select(BadgeAward.id).where(BadgeAward.public_id == pid))
        revoke_badge(world.manager, award_id, "Revoked for the test", later(5))
        db.session.commit()
    with pytest.raises(ob3.OB3VerificationError, match="revocation"):
        ob3.OB3Verifier(key).verify(token, check_status=True, download=_http_get)
    listing = requests.get(f"{base}/ob/v3/issuers/{world.org_id}/status/revocation", timeout=10)
    assert listing.headers["Content-Type"].startswith("application/vc+jwt")


def test_keys_are_stored_encrypted_and_did_document_publishes_the_same_key(app, live_server):
    world, pid = _award_on_live(app)
    base = live_server.base_url
    requests.get(f"{base}/ob/v3/credentials/{pid}.jwt", timeout=10)
    with app.app_context():
        row = db.session.scalar(db.select(SigningKey).where(SigningKey.organisation_id == world.org_id))
        assert "PRIVATE KEY" not in row.private_pem_encrypted
    did = requests.get(f"{base}/ob/v3/issuers/{world.org_id}/did.json", timeout=10)
    assert did.headers["Content-Type"].startswith("application/did+json")
    doc = did.json()
    host = base.removeprefix("http://").replace(":", "%3A")
    assert doc["id"] == f"did:web:{host}:ob:v3:issuers:{world.org_id}"
    [method] = doc["verificationMethod"]
    jwks = requests.get(f"{base}/ob/v3/issuers/{world.org_id}/jwks", timeout=10).json()["keys"]
    assert method["publicKeyJwk"]["n"] == jwks[0]["n"] and doc["assertionMethod"] == [method["id"]]
    assert requests.get(f"{base}/ob/v3/issuers/999999/jwks", timeout=10).status_code == 404


def test_public_ob3_verification_page_shows_a_verified_signature(app, live_server):
    _world, pid = _award_on_live(app)
    page = requests.get(f"{live_server.base_url}/ob/v3/credentials/{pid}", headers={"Accept": "text/html"},
                        timeout=10)
    assert page.status_code == 200 and "signature verified with the issuer" in page.text
    json_doc = requests.get(f"{live_server.base_url}/ob/v3/credentials/{pid}.json", timeout=10)
    assert json_doc.headers["Content-Type"].startswith("application/ld+json")
    assert json_doc.json()["type"] == ["VerifiableCredential", "OpenBadgeCredential"]


# OB 3.0 IdentifierTypeEnum (1EdTech ob_v3p0_achievementcredential_schema.json, IdentityObject.identityType): these
# terms, or an extension term "ext:...". Anything else makes the credential fail the schema it names.
IDENTIFIER_TYPES = {"name", "sourcedId", "systemId", "productId", "userName", "accountId", "emailAddress",
                    "nationalIdentityNumber", "isbn", "issn", "lisSourcedId", "oneRosterSourcedId", "sisSourcedId",
                    "ltiContextId", "ltiDeploymentId", "ltiToolId", "ltiPlatformId", "ltiUserId", "identifier"}


@pytest.mark.parametrize("claim", ["unclaimed", "identity_url"])
def test_credential_of_a_learner_named_by_url_uses_an_ob3_identifier_type(appctx, client, claim):
    """An LMS that shares no e-mail leaves learners named by a URL (a placeholder, or the profile page they gave):
    their credentials must still carry an identityType the OB 3.0 schema accepts, and the hash must stay the same."""
    from plugin.badges.recipients import set_identity_url
    from tests.services.factories import NOW

    world = make_world(email=None)
    if claim == "identity_url":
        set_identity_url(world.learner, "https://people.example.org/ada", NOW)
    pid = award(world)
    db.session.commit()

    doc = client.get(f"/ob/v3/credentials/{pid}.json").get_json(force=True)
    [ident] = doc["credentialSubject"]["identifier"]
    assert ident["identityType"] in IDENTIFIER_TYPES or ident["identityType"].startswith("ext:")
    assert ident["type"] == "IdentityObject" and ident["hashed"] is True
    ob2 = client.get(f"/ob/v2/assertions/{pid}", headers={"Accept": "application/ld+json"}).get_json(force=True)
    assert ident["identityHash"] == ob2["recipient"]["identity"]  # the same person in both formats


def test_the_credentials_achievement_id_resolves_to_the_achievement(appctx, client):
    """Every id in the credential is a URL under the tool: the achievement's too, answering with the Achievement a
    wallet or verifier displays (as the OB 2.0 BadgeClass URL does)."""
    world = make_world(email="ada@example.org")
    pid = award(world)
    db.session.commit()
    achievement = client.get(f"/ob/v3/credentials/{pid}.json").get_json(force=True)["credentialSubject"]["achievement"]

    response = client.get(achievement["id"].removeprefix("http://localhost"), headers={"Accept": "application/ld+json"})
    assert response.status_code == 200 and response.mimetype == "application/ld+json"
    doc = response.get_json(force=True)
    assert doc["@context"] == ["https://www.w3.org/ns/credentials/v2",
                               "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"]
    assert {k: v for k, v in doc.items() if k != "@context"} == achievement
    assert client.get("/ob/v3/achievements/999999").status_code == 404


def test_the_status_list_is_valid_for_a_verifier_whose_clock_runs_behind_and_never_before_its_newest_revocation(
        appctx):
    """A verifier whose clock runs a minute behind Tinker's must not find the revocation list "not yet valid" (it
    would then reject every credential it checks); and the list never claims to hold from before what it says."""
    from datetime import timedelta

    import jwt

    from plugin.badges.credentials import status_list_jwt
    from plugin.badges.openbadges import Urls
    from plugin.recognition.service import revoke_badge
    from tests.services.factories import NOW

    world = make_world(email="ada@example.org")
    pid = award(world)
    urls = Urls("http://localhost")
    fetched = NOW + timedelta(hours=1)

    def claims(at):
        return jwt.decode(status_list_jwt(world.org_id, urls, at), options={"verify_signature": False})

    quiet = claims(fetched)
    assert quiet["nbf"] <= (fetched - timedelta(minutes=1)).timestamp()
    assert quiet["validFrom"] <= (fetched - timedelta(minutes=1)).isoformat().replace("+00:00", "Z")

    award_id = db.session.scalar(db.select(BadgeAward.id).where(BadgeAward.public_id == pid))
    revoke_badge(world.manager, award_id, "Awarded by mistake", fetched - timedelta(seconds=30))
    after = claims(fetched)
    assert after["nbf"] == int((fetched - timedelta(seconds=30)).timestamp())  # not before the revocation it lists
