"""OAuth2 client-credentials access tokens for LTI Advantage services (AGS, NRPS).

The client assertion is signed with the tool's cached key (keys.sign, no PEM load per signature), its
aud is exactly the platform's token URL (Canvas rejects anything else), and tokens are kept in process
memory (and in the shared cache, when TINKER_REDIS_URL is set) until shortly before they expire: losing them
only costs one more token request.
"""
from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import requests
from flask import current_app

from plugin.errors import SharedStoreUnavailable
from plugin.lti import keys, platform_http, shared_store
from plugin.lti import messages as said
from plugin.outbox.registry import GiveUp, Retry
from plugin.tenancy.models import Platform


@dataclass(frozen=True)
class ServiceClient:
    """What the token request needs, copied out of the registration so no database read (or open
    transaction) is needed around the HTTP call."""

    platform_id: int
    client_id: str
    token_url: str

    @classmethod
    def of(cls, platform: Platform) -> "ServiceClient":
        return cls(platform.id, platform.client_id, platform.auth_token_url)

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
EARLY = timedelta(seconds=60)  # refresh a little before the platform's expiry

_cache: dict[tuple, tuple[str, datetime]] = {}
_lock = threading.Lock()


def forget() -> None:
    with _lock:
        _cache.clear()


def _cache_key(client: ServiceClient, scopes: tuple[str, ...]) -> tuple:
    return client.platform_id, client.client_id, client.token_url, scopes


def _shared_key(key: tuple) -> str:
    return "service-token:" + hashlib.sha256(json.dumps(key).encode()).hexdigest()


def drop(client: ServiceClient, scopes: tuple[str, ...]) -> None:
    """Forget a token the platform no longer accepts (401)."""
    key = _cache_key(client, tuple(sorted(scopes)))
    with _lock:
        _cache.pop(key, None)
    shared_store.current().cache_delete(_shared_key(key))


def client_assertion(client: ServiceClient, now: datetime) -> str:
    # iat and exp from the real clock: the platform checks them against its own; `now` picks the signing key
    issued = int(time.time())
    return keys.sign({"iss": client.client_id, "sub": client.client_id, "aud": client.token_url,
                      "iat": issued, "exp": issued + 300, "jti": uuid.uuid4().hex}, now=now)


def access_token(client: ServiceClient, scopes: tuple[str, ...], now: datetime) -> str:
    try:
        return _access_token(client, scopes, now)
    except SharedStoreUnavailable as exc:  # the outbox tries again later, as for an unreachable LMS
        raise Retry(said.CACHE_UNREACHABLE(error=exc), receiver=False) from None
    except keys.ToolKeyUnreadable as exc:  # until the operator restores the secret key: said where it shows
        raise Retry(str(exc), receiver=False) from None


def _access_token(client: ServiceClient, scopes: tuple[str, ...], now: datetime) -> str:
    scopes = tuple(sorted(scopes))
    key = _cache_key(client, scopes)
    with _lock:
        cached = _cache.get(key)
    if cached and cached[1] > now:
        return cached[0]
    store = shared_store.current()
    shared = store.cache_get(_shared_key(key))  # another instance's token (shared cache configured)
    if shared:
        token, expires = json.loads(shared)
        expires_at = datetime.fromisoformat(expires)
        if expires_at > now:
            with _lock:
                _cache[key] = (token, expires_at)
            return token
    try:
        response = platform_http.call("POST", client.token_url, data={
            "grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": client_assertion(client, now), "scope": " ".join(scopes),
        }, headers={"Accept": "application/json"}, timeout=current_app.config["LTI_HTTP_TIMEOUT"])
    except platform_http.NotPublic as exc:
        platform_http.refused_private(client.token_url, exc)
        raise GiveUp(said.PRIVATE_ADDRESS(method="POST", url=client.token_url)) from None
    except requests.RequestException as exc:
        # the kind of failure for the pages (as ags._call), its detail for the server log
        current_app.logger.warning("token request to %s failed: %r", client.token_url, exc)
        raise Retry(said.TOKEN_REQUEST_FAILED(url=client.token_url, error=type(exc).__name__)) from None
    if response.status_code != 200:
        raise Retry(said.TOKEN_REFUSED(status=response.status_code, detail=response.text[:300]))
    try:
        body = response.json()
        token = str(body["access_token"])
        lifetime = int(body.get("expires_in", 3600))
    except (ValueError, KeyError, TypeError):
        raise Retry(said.NOT_A_TOKEN(detail=response.text[:300])) from None
    expires_at = now + max(timedelta(seconds=lifetime) - EARLY, timedelta(seconds=lifetime // 2))
    with _lock:
        _cache[key] = (token, expires_at)
    store.cache_set(_shared_key(key), json.dumps([token, expires_at.isoformat()]),
                    (expires_at - now).total_seconds())
    return token
