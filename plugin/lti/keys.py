"""The tool's key pairs: private parts encrypted with the app secret, loaded keys cached per kid.

pylti1p3 loads a PEM for every signature (38 ms each); we load each key once per process.

A rotation is staged: the new key is in the JWKS at once but signs only from its `signs_from`, so platforms that
cache the tool's key set fetch it before anything signed with it reaches them. The signing key is the newest whose
signs_from has come (NULL: from its creation); older keys stay published until an operator removes them.
"""
from __future__ import annotations

import base64
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app
from jwt.algorithms import RSAAlgorithm
from sqlalchemy import select, text

from plugin.core.clock import utcnow
from plugin.core.db import dialect_name
from plugin.errors import Conflict, NotFound
from plugin.extensions import db
from plugin.lti import messages as said
from plugin.lti.models import ToolKey

_loaded: dict[tuple[str, str], object] = {}
_lock = threading.Lock()
# Which key signs, remembered briefly: another instance's rotation is seen within CURRENT_TTL seconds. A staged
# key's moment is known once seen, so the choice is never remembered past it (see _Choice).
CURRENT_TTL = 60.0
_NEWEST_FIRST = (ToolKey.created_at.desc(), ToolKey.id.desc())

SIGNING, NEXT, OLDER = "signing", "next", "older"
# How long `flask lti rotate-key` publishes a new key before it signs. Moodle and Canvas need none: Moodle keeps a
# tool's key set until a signature fails with it, then fetches it again; Canvas fetches it for each token request
# and keeps it 5 minutes for deep-linking answers, fetching it again when a signature fails; /lti/jwks lets any
# cache keep it 5 minutes. A day covers a platform or proxy that keeps it for hours without fetching it again on an
# unknown kid, and a planned rotation has no hurry.
STAGE_FOR = timedelta(hours=24)


@dataclass(frozen=True)
class _Choice:
    """The signing key as read at some moment: it holds while the monotonic clock is before fresh_until and the
    wall clock between the key's start and the next newer key's start (valid_before, None when none waits)."""

    fresh_until: float
    starts: datetime | None  # None: signs whatever the moment (not staged)
    valid_before: datetime | None
    kid: str
    encrypted: str

    def holds(self, now: datetime, monotonic: float) -> bool:
        return monotonic < self.fresh_until and (self.starts is None or self.starts <= now) and (
            self.valid_before is None or now < self.valid_before)


_current: dict[str, _Choice] = {}


class ToolKeyUnreadable(RuntimeError):
    """The tool's private key cannot be decrypted with the app's secret key (it was changed)."""


@dataclass(frozen=True)
class KeyState:
    kid: str
    created_at: datetime
    signs_from: datetime  # when it signs or signed (its creation when not staged)
    state: str  # SIGNING, NEXT (waits for signs_from) or OLDER (published, not signing)
    readable: bool  # its private part decrypts with this app's secret key


@dataclass(frozen=True)
class Rotation:
    key: ToolKey
    signs_from: datetime
    previous: KeyState | None  # the key signing until then (None: none did)
    abandoned: tuple[str, ...]  # keys that waited to sign and now never will (a newer key signs at once)


def _fernet(secret: str) -> Fernet:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"tinker-tool-key", info=b"private-key").derive(
        secret.encode()
    )
    return Fernet(base64.urlsafe_b64encode(derived))


def _readable(encrypted: str, secret: str) -> bool:
    try:
        _fernet(secret).decrypt(encrypted.encode())
    except InvalidToken:
        return False
    return True


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


def _split(rows, now: datetime) -> tuple[int | None, datetime | None]:
    """Of key rows newest first: the index of the one signing at `now` (None when none has started) and the
    earliest start of a newer one (None when none waits)."""
    next_start = None
    for index, row in enumerate(rows):
        if row.signs_from is None or row.signs_from <= now:
            return index, next_start
        next_start = row.signs_from if next_start is None else min(next_start, row.signs_from)
    return None, next_start


def key_states(now: datetime) -> list[KeyState]:
    """Every key, newest first, with what it does at `now`."""
    rows = list(db.session.scalars(select(ToolKey).order_by(*_NEWEST_FIRST)))
    signer, _ = _split(rows, now)
    secret = current_app.config["SECRET_KEY"]
    return [KeyState(row.kid, row.created_at, row.signs_from or row.created_at,
                     NEXT if signer is None or index < signer else SIGNING if index == signer else OLDER,
                     _readable(row.private_pem_encrypted, secret))
            for index, row in enumerate(rows)]


def rotate_key(now: datetime, signs_from: datetime | None = None) -> Rotation:
    """Add a key, published at once, signing from `signs_from` (None or not later than now: at once). It signs at
    once anyway when nothing could sign meanwhile: no key yet, or the signing key no longer decrypts with the
    app's secret key. A second staged rotation while one waits is refused: cancel that one first (remove_key)."""
    _take_turn()
    states = key_states(now)
    signing = next((s for s in states if s.state == SIGNING), None)
    waiting = tuple(s for s in states if s.state == NEXT)
    staged = signs_from is not None and signs_from > now and signing is not None and signing.readable
    if staged and waiting:
        raise Conflict(
            f"key {waiting[0].kid} already waits to sign (from {waiting[0].signs_from:%Y-%m-%d %H:%M} UTC).",
            hint=f"Let it start, cancel it first (`flask lti remove-key {waiting[0].kid}`), or rotate with --now.")
    key = generate_key_pair(current_app.config["SECRET_KEY"], now)
    key.signs_from = signs_from if staged else None
    db.session.add(key)
    db.session.flush()
    _current.clear()
    return Rotation(key, signs_from if staged else now, signing, () if staged else tuple(s.kid for s in waiting))


def remove_key(kid: str, now: datetime) -> KeyState:
    """Stop publishing a key: an older one, or one still waiting to sign (which cancels that rotation); never the
    one signing now."""
    _take_turn()
    match = next((s for s in key_states(now) if s.kid == kid), None)
    if match is None:
        raise NotFound(f"no tool key with kid {kid!r}")
    if match.state == SIGNING:
        raise Conflict("that is the key signing now; rotate first, then remove it once the new key signs")
    db.session.delete(db.session.scalar(select(ToolKey).where(ToolKey.kid == kid)))
    db.session.flush()
    _current.clear()
    return match


def ensure_key(now: datetime) -> None:
    if not _any_key():
        _take_turn()
        if not _any_key():  # another instance's first key, made while this one waited its turn
            rotate_key(now)


def _any_key() -> bool:
    return db.session.scalar(select(ToolKey.id).limit(1)) is not None


def _take_turn() -> None:
    """Changes to the key set take turns: two rotations at once (two operators, or two instances making the first
    key) each read that no key waits, then each add one. PostgreSQL: a lock on tool_key held to the end of the
    transaction that conflicts with itself, not with reads (the key set and signing go on). SQLite: the write
    transaction (BEGIN IMMEDIATE) already holds the database's one write lock."""
    if dialect_name(db.session) == "postgresql":
        db.session.execute(text(f"LOCK TABLE {ToolKey.__tablename__} IN SHARE ROW EXCLUSIVE MODE"))


def public_jwks(now: datetime | None = None) -> dict:
    """Every published key, the signing one first (for a platform that takes the first key whatever the kid)."""
    rows = list(db.session.execute(select(ToolKey.public_jwk, ToolKey.signs_from).order_by(*_NEWEST_FIRST)))
    signer, _ = _split(rows, now or utcnow())
    if signer is not None:
        rows.insert(0, rows.pop(signer))
    return {"keys": [row.public_jwk for row in rows]}


def current_signing_key(now: datetime | None = None):
    """(kid, loaded private key) of the key signing at `now`."""
    now = now or utcnow()
    secret = current_app.config["SECRET_KEY"]
    database = str(db.engine.url)
    choice = _current.get(database)
    if choice is None or not choice.holds(now, time.monotonic()):
        rows = db.session.execute(select(ToolKey.kid, ToolKey.private_pem_encrypted, ToolKey.signs_from)
                                  .order_by(*_NEWEST_FIRST)).all()
        index, next_start = _split(rows, now)
        if index is None:
            raise NotFound(said.NO_TOOL_KEY())
        row = rows[index]
        choice = _Choice(time.monotonic() + CURRENT_TTL, row.signs_from, next_start, row.kid, row.private_pem_encrypted)
        _current[database] = choice
    cache_key = (choice.kid, secret)
    key = _loaded.get(cache_key)
    if key is None:
        with _lock:
            try:
                pem = _fernet(secret).decrypt(choice.encrypted.encode())
            except InvalidToken as exc:
                raise ToolKeyUnreadable(said.TOOL_KEY_UNREADABLE()) from exc
            key = serialization.load_pem_private_key(pem, password=None)
            _loaded[cache_key] = key
    return choice.kid, key


def sign(claims: dict, headers: dict | None = None, now: datetime | None = None) -> str:
    """Sign with the key signing at `now` (the claims' own times are the caller's)."""
    kid, key = current_signing_key(now)
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid, **(headers or {})})
