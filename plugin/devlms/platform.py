"""The development LMS's platform side: its own key pair, JWKS and id_token signing."""
from __future__ import annotations

import os
import threading
import uuid
from datetime import datetime
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from plugin.devlms.roster import COURSES_BY_ID, DEPLOYMENT_ID, LMS_ROLES, DevPerson

_lock = threading.Lock()
_keys: dict[str, object] = {}
LTI = "https://purl.imsglobal.org/spec/lti/claim/"


def private_key(path: Path):
    """The dev platform's key, generated once into the git-ignored instance folder."""
    cache_key = str(path)
    with _lock:
        if cache_key not in _keys:
            if not path.exists():
                _create_key(path)
            _keys[cache_key] = serialization.load_pem_private_key(path.read_bytes(), password=None)
        return _keys[cache_key]


def _create_key(path: Path) -> None:
    """Write a new key so that processes racing to create it (gunicorn workers, instances sharing the file)
    all end up reading the same one: written aside, then linked into place only if nobody was first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    aside = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    aside.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption()))
    aside.chmod(0o600)
    try:
        os.link(aside, path)
    except FileExistsError:
        pass  # another process won: use its key
    finally:
        aside.unlink()


def kid_of(key) -> str:
    numbers = key.public_key().public_numbers()
    return f"dev-{numbers.n % 10**12:012d}"


def jwks(key) -> dict:
    jwk = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    jwk.update({"kid": kid_of(key), "alg": "RS256", "use": "sig"})
    return {"keys": [jwk]}


def id_token(key, *, issuer: str, client_id: str, nonce: str, person: DevPerson, context_id: str, role: str,
             target: str, return_url: str, now: datetime, deep_link_return: str | None = None,
             custom: dict | None = None) -> str:
    course = COURSES_BY_ID[context_id]
    claims = {
        "iss": issuer, "aud": client_id, "sub": person.sub, "nonce": nonce,
        "iat": int(now.timestamp()), "exp": int(now.timestamp()) + 60,
        "name": person.name, "email": person.email,
        LTI + "message_type": "LtiResourceLinkRequest",
        LTI + "version": "1.3.0",
        LTI + "deployment_id": DEPLOYMENT_ID,
        LTI + "target_link_uri": target,
        LTI + "resource_link": {"id": f"{context_id}-tinker", "title": "Tinker"},
        LTI + "roles": LMS_ROLES[role],
        LTI + "context": {"id": course.context_id, "label": course.label, "title": course.title,
                          "type": ["http://purl.imsglobal.org/vocab/lis/v2/course#CourseOffering"]},
        LTI + "launch_presentation": {"document_target": "iframe", "locale": person.locale, "return_url": return_url},
        LTI + "tool_platform": {"guid": "tinker-dev-lms", "name": "Tinker development LMS",
                                "product_family_code": "tinker-dev"},
        "jti": uuid.uuid4().hex,
    }
    if custom:
        claims[LTI + "custom"] = custom
    if deep_link_return:  # "Add content": the instructor picks what to place
        claims[LTI + "message_type"] = "LtiDeepLinkingRequest"
        del claims[LTI + "resource_link"]
        claims["https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"] = {
            "deep_link_return_url": deep_link_return, "accept_types": ["ltiResourceLink"],
            "accept_presentation_document_targets": ["iframe", "window"], "accept_multiple": False,
            "data": f"{context_id}:{uuid.uuid4().hex[:8]}"}
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid_of(key)})
