"""The tool's key pairs: private parts encrypted with the app secret, loaded keys cached per kid.

pylti1p3 loads a PEM for every signature (38 ms each); we load each key once per process.
"""
from __future__ import annotations

import base64
import secrets
import threading
import time
from datetime import datetime

import jwt
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app
from jwt.algorithms import RSAAlgorithm
from sqlalchemy import func, select

from plugin.errors import Conflict, NotFound
from plugin.extensions import db
from plugin.lti import messages as said
from plugin.lti.models import ToolKey

_loaded: dict[tuple[str, str], object] = {}
_lock = threading.Lock()
# Which key is newest, remembered briefly: another instance's rotation is seen within CURRENT_TTL seconds,
# and the previous key stays published until an operator removes it, so nothing signed meanwhile fails.
CURRENT_TTL = 60.0
_current: dict[str, tuple[float, str, str]] = {}


class ToolKeyUnreadable(RuntimeError):
    """The tool's private key cannot be decrypted with the app's secret key (it was changed)."""


def _fernet(secret: str) -> Fernet:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"tinker-tool-key", info=b"private-key").derive(
        secret.encode()
    )
    return Fernet(base64.urlsafe_b64encode(derived))


def generate_key_pair(secret: str, now: datetime) -> ToolKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    kid = secrets.token_hex(8)
    public_jwk = RSAAlgorithm.to_jwk(private.public_key(), as_dict=True)
    public_jwk.pop("key_ops", None)  # "use": "sig" is what platforms look for
    public_jwk.update({"kid": kid, "alg": "RS256", "use": "sig"})
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return ToolKey(kid=kid, public_jwk=public_jwk, private_pem_encrypted=_fernet(secret).encrypt(pem).decode(),
                   created_at=now)


def rotate_key(now: datetime) -> ToolKey:
    """Add a new signing key; older keys stay published until removed."""
    key = generate_key_pair(current_app.config["SECRET_KEY"], now)
    db.session.add(key)
    db.session.flush()
    _current.clear()
    return key


def remove_key(kid: str) -> None:
    keys = list(db.session.scalars(select(ToolKey).order_by(ToolKey.created_at.desc(), ToolKey.id.desc())))
    match = next((k for k in keys if k.kid == kid), None)
    if match is None:
        raise NotFound(f"no tool key with kid {kid!r}")
    if match is keys[0]:
        raise Conflict("that is the current signing key; rotate first, then remove the old one")
    db.session.delete(match)
    db.session.flush()
    _current.clear()


def ensure_key(now: datetime) -> None:
    if not db.session.scalar(select(func.count()).select_from(ToolKey)):
        rotate_key(now)


def public_jwks() -> dict:
    rows = db.session.scalars(select(ToolKey.public_jwk).order_by(ToolKey.created_at.desc(), ToolKey.id.desc()))
    return {"keys": list(rows)}


def current_signing_key():
    """(kid, loaded private key) of the newest key."""
    secret = current_app.config["SECRET_KEY"]
    database = str(db.engine.url)
    remembered = _current.get(database)
    if remembered is not None and remembered[0] > time.monotonic():
        _, kid, encrypted = remembered
    else:
        row = db.session.execute(select(ToolKey.kid, ToolKey.private_pem_encrypted)
                                 .order_by(ToolKey.created_at.desc(), ToolKey.id.desc()).limit(1)).first()
        if row is None:
            raise NotFound(said.NO_TOOL_KEY())
        kid, encrypted = row.kid, row.private_pem_encrypted
        _current[database] = (time.monotonic() + CURRENT_TTL, kid, encrypted)
    cache_key = (kid, secret)
    key = _loaded.get(cache_key)
    if key is None:
        with _lock:
            try:
                pem = _fernet(secret).decrypt(encrypted.encode())
            except InvalidToken as exc:
                raise ToolKeyUnreadable(said.TOOL_KEY_UNREADABLE()) from exc
            key = serialization.load_pem_private_key(pem, password=None)
            _loaded[cache_key] = key
    return kid, key


def sign(claims: dict, headers: dict | None = None) -> str:
    kid, key = current_signing_key()
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid, **(headers or {})})
