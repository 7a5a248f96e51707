"""Open Badges 3.0: each award as an OpenBadgeCredential (VC data model 2.0), secured as a VC-JWT (OB 3.0
§8.2: the payload is the credential, with iss/jti/nbf/sub registered claims) signed with the organisation's
RS256 key; its public keys as a JWKS and a did:web document; revocation as a signed Bitstring Status List.

Private keys are encrypted with a key derived from the app secret; every id is under TINKER_BASE_URL."""
from __future__ import annotations

import base64
import secrets
from datetime import datetime, timedelta
from urllib.parse import quote, urlsplit

import jwt
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app
from jwt.algorithms import RSAAlgorithm
from sqlalchemy import select

from plugin.badges import status
from plugin.badges.models import BadgeClass, SigningKey
from plugin.badges.openbadges import Hosted, Urls, iso, issuer_of
from plugin.badges.recipients import recipient_of
from plugin.errors import NotFound
from plugin.extensions import db
from plugin.i18n import gettext as _
from plugin.tenancy.models import Organisation

VC_CONTEXT = "https://www.w3.org/ns/credentials/v2"
OB3_CONTEXT = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
OB3_SCHEMA = "https://purl.imsglobal.org/spec/ob/v3p0/schema/json/ob_v3p0_achievementcredential_schema.json"
ALG = "RS256"
# OB 2.0 recipient types as OB 3.0 IdentifierTypeEnum terms: the schema has no "url", so a URL is a generic "identifier".
IDENTITY_TYPES = {"email": "emailAddress", "url": "identifier"}
STATUS_LIST_SKEW = timedelta(minutes=5)  # how far behind Tinker's clock a verifier's may run and accept the list


def _fernet() -> Fernet:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"tinker-badge-key", info=b"private-key").derive(
        current_app.config["SECRET_KEY"].encode())
    return Fernet(base64.urlsafe_b64encode(derived))


def issuer_id(urls: Urls, organisation_id: int) -> str:
    return f"{urls.base}/ob/v3/issuers/{organisation_id}"


def credential_id(urls: Urls, public_id: str) -> str:
    return f"{urls.base}/ob/v3/credentials/{public_id}"


def status_list_id(urls: Urls, organisation_id: int) -> str:
    return f"{issuer_id(urls, organisation_id)}/status/revocation"


def did_web(urls: Urls, organisation_id: int) -> str:
    """did:web naming the issuer's DID document, served at {issuer}/did.json."""
    parts = urlsplit(issuer_id(urls, organisation_id))
    return "did:web:" + ":".join([quote(parts.netloc, safe=""), *parts.path.strip("/").split("/")])


# -- keys -------------------------------------------------------------------------------------------------

def ensure_key(organisation_id: int, now: datetime) -> SigningKey:
    """The organisation's newest signing key, created on first use."""
    key = db.session.scalar(select(SigningKey).where(SigningKey.organisation_id == organisation_id)
                            .order_by(SigningKey.created_at.desc(), SigningKey.id.desc()).limit(1))
    if key is None:
        if db.session.get(Organisation, organisation_id) is None:
            raise NotFound(_("No such issuer."))
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        kid = secrets.token_hex(8)
        jwk = RSAAlgorithm.to_jwk(private.public_key(), as_dict=True)
        jwk.pop("key_ops", None)
        jwk.update({"kid": kid, "alg": ALG, "use": "sig"})
        pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
        key = SigningKey(organisation_id=organisation_id, kid=kid, public_jwk=jwk,
                         private_pem_encrypted=_fernet().encrypt(pem).decode(), created_at=now)
        db.session.add(key)
        db.session.flush()
    return key


def _private(key: SigningKey):
    try:
        pem = _fernet().decrypt(key.private_pem_encrypted.encode())
    except InvalidToken as exc:
        raise RuntimeError("the badge signing key cannot be decrypted: was TINKER_SECRET_KEY changed?") from exc
    return serialization.load_pem_private_key(pem, password=None)


def public_keys(organisation_id: int) -> list[dict]:
    return list(db.session.scalars(select(SigningKey.public_jwk).where(SigningKey.organisation_id == organisation_id)
                                   .order_by(SigningKey.created_at.desc(), SigningKey.id.desc())))


def jwks(organisation_id: int) -> dict:
    if db.session.get(Organisation, organisation_id) is None:
        raise NotFound(_("No such issuer."))
    return {"keys": public_keys(organisation_id)}


def did_document(organisation_id: int, urls: Urls) -> dict:
    if db.session.get(Organisation, organisation_id) is None:
        raise NotFound(_("No such issuer."))
    did = did_web(urls, organisation_id)
    methods = [{"id": f"{did}#{jwk['kid']}", "type": "JsonWebKey", "controller": did,
                "publicKeyJwk": {k: v for k, v in jwk.items() if k in ("kty", "n", "e", "alg", "kid")}}
               for jwk in public_keys(organisation_id)]
    return {"@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/jwk/v1"], "id": did,
            "alsoKnownAs": [issuer_id(urls, organisation_id)], "verificationMethod": methods,
            "assertionMethod": [m["id"] for m in methods]}


def _sign(key: SigningKey, payload: dict, typ: str) -> str:
    public = {k: v for k, v in key.public_jwk.items() if k in ("kty", "n", "e", "kid", "alg")}
    return jwt.encode(payload, _private(key), algorithm=ALG, headers={"kid": key.kid, "jwk": public, "typ": typ})


# -- documents ----------------------------------------------------------------------------------------------

def issuer_profile(organisation_id: int, urls: Urls) -> dict:
    issuer = issuer_of(organisation_id, urls.base)
    doc = {"id": issuer_id(urls, organisation_id), "type": ["Profile"], "name": issuer.name,
           "url": issuer.url or urls.base}
    if issuer.email:
        doc["email"] = issuer.email
    if issuer.description:
        doc["description"] = issuer.description
    return doc


def achievement(badge: BadgeClass, urls: Urls) -> dict:
    """The badge class as an OB 3.0 Achievement; its id is served (GET it for this document)."""
    return {
        "id": f"{urls.base}/ob/v3/achievements/{badge.id}", "type": ["Achievement"], "name": badge.name,
        "description": badge.description or badge.name,
        "criteria": {"id": f"{urls.badge(badge.id)}#criteria",
                     "narrative": badge.criteria or f"Awarded in Tinker for {badge.name}."},
        "image": {"id": urls.image(badge.id, badge.image_type), "type": "Image"},
        "tag": [t.strip() for t in (badge.tags or "").split(",") if t.strip()],
    }


def credential(found: Hosted, urls: Urls) -> dict:
    """The award as an OpenBadgeCredential. Its first one draws the award's revocation list index (status.py),
    so a request making one writes, and commits before the credential leaves."""
    award, badge = found.award, found.badge
    identity = recipient_of(found.user, urls.base)
    index = status.status_index(award)
    return {
        "@context": [VC_CONTEXT, OB3_CONTEXT],
        "id": credential_id(urls, award.public_id),
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": issuer_profile(award.organisation_id, urls),
        "validFrom": iso(award.awarded_at),
        "name": badge.name,
        "credentialSubject": {
            "type": ["AchievementSubject"],
            "identifier": [{"type": "IdentityObject", "hashed": True, "salt": identity.salt,
                            "identityHash": identity.hashed(),
                            "identityType": IDENTITY_TYPES[identity.kind]}],
            "achievement": achievement(badge, urls),
        },
        "evidence": [{"id": urls.evidence(award.public_id), "type": ["Evidence"]}],
        "credentialStatus": {"id": f"{status_list_id(urls, award.organisation_id)}#{index}",
                             "type": "BitstringStatusListEntry", "statusPurpose": "revocation",
                             "statusListIndex": str(index),
                             "statusListCredential": status_list_id(urls, award.organisation_id)},
        "credentialSchema": [{"id": OB3_SCHEMA, "type": "1EdTechJsonSchemaValidator2019"}],
    }


def credential_jwt(found: Hosted, urls: Urls, now: datetime) -> str:
    """The credential as a VC-JWT: the credential's members at the top level plus iss, jti and nbf."""
    doc = credential(found, urls)
    key = ensure_key(found.award.organisation_id, now)
    claims = {**doc, "iss": doc["issuer"]["id"], "jti": doc["id"],
              "nbf": int(found.award.awarded_at.timestamp())}
    return _sign(key, claims, "vc+jwt")


def status_list_jwt(organisation_id: int, urls: Urls, now: datetime) -> str:
    """The organisation's revocation list: bit N set = the credential with status index N revoked (status.py).
    Its length and bits come from this organisation's awards alone."""
    revoked_rows = status.revocations(organisation_id)
    # Valid from a few minutes back (a verifier whose clock runs behind Tinker's would otherwise find the list "not
    # yet valid"), but never from before its newest revocation: the list has said what it says since then.
    valid_from = max([now - STATUS_LIST_SKEW, *(min(revoked_at, now) for _index, revoked_at in revoked_rows)])
    encoded = status.encoded_list(status.list_length(organisation_id),
                                  [index for index, _revoked_at in revoked_rows if index is not None])
    list_id = status_list_id(urls, organisation_id)
    doc = {"@context": [VC_CONTEXT], "id": list_id, "type": ["VerifiableCredential", "BitstringStatusListCredential"],
           "issuer": issuer_id(urls, organisation_id), "validFrom": iso(valid_from),
           "credentialSubject": {"id": f"{list_id}#list", "type": "BitstringStatusList",
                                 "statusPurpose": "revocation", "encodedList": encoded}}
    key = ensure_key(organisation_id, now)
    return _sign(key, {**doc, "iss": doc["issuer"], "jti": list_id, "nbf": int(valid_from.timestamp())}, "vc+jwt")


def verify_jwt(token: str, organisation_id: int, urls: Urls) -> dict:
    """What the public page reports: the signature checked against the organisation's published keys."""
    header = jwt.get_unverified_header(token)
    jwk = next((k for k in public_keys(organisation_id) if k["kid"] == header.get("kid")), None)
    if jwk is None:
        return {"valid": False, "reason": "signed with a key this issuer does not publish"}
    try:
        claims = jwt.decode(token, RSAAlgorithm.from_jwk(jwk), algorithms=[ALG], options={"verify_aud": False})
    except jwt.InvalidTokenError as exc:
        return {"valid": False, "reason": str(exc)}
    if claims.get("iss") != issuer_id(urls, organisation_id):
        return {"valid": False, "reason": "issuer does not match"}
    return {"valid": True, "kid": jwk["kid"], "jwks": f"{issuer_id(urls, organisation_id)}/jwks"}
