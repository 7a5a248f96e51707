"""Platform public keys: JWKS fetched over HTTP with a timeout, parsed once, cached per (issuer, kid).

The cache holds derived data only (any instance can refetch it), so it may live in process memory; with a
shared cache configured (TINKER_REDIS_URL) the fetched documents are shared too, so N instances fetch once.
An unknown kid triggers one refetch (at most every MIN_REFETCH seconds per key set, so junk kids
cannot turn the tool into a request amplifier). Failed fetches count too: while a key set cannot be
fetched, it is tried again at most every MIN_REFETCH seconds, the keys of its last good fetch keep working
and other launches get the same refusal at once. Fetches of one key set take turns; other platforms'
launches never wait for them (a slow or hanging LMS holds up only its own launches). A fetch lasts at most twice
the timeout in all and reads at most MAX_KEY_SET bytes, following no redirect (outbox.http.send); a launch waits
for another's fetch of its key set no longer than that, then is refused.
"""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field

from flask import has_app_context
from jwt.algorithms import RSAAlgorithm

from plugin.errors import LaunchRejected, SharedStoreUnavailable
from plugin.i18n import gettext as _
from plugin.lti import messages as said
from plugin.lti import platform_http, shared_store
from plugin.outbox.http import send
from plugin.outbox.registry import GiveUp, Retry

MIN_REFETCH = 10.0
MAX_KEY_SET = 256 * 1024  # bytes: a platform's key set holds a few keys (Canvas's, three: about 2 KB)
ALLOWED_ALGS = {"RS256", "RS384", "RS512"}


@dataclass
class _KeySet:
    keys: dict[str, tuple[object, str]] = field(default_factory=dict)
    fetched_at: float = float("-inf")  # the last good fetch
    tried_at: float = float("-inf")  # the last fetch, good or not
    failure: LaunchRejected | None = None  # why the last fetch failed


_cache: dict[str, _KeySet] = {}
_lock = threading.Lock()  # guards _locks and forget(); never held during a fetch
_locks: dict[str, threading.Lock] = {}  # one per key set URL: its fetches take turns


def _lock_for(key_set_url: str) -> threading.Lock:
    with _lock:
        return _locks.setdefault(key_set_url, threading.Lock())


def _download(url: str, timeout: float):
    """The key set document, read within twice `timeout` in all (the timeout alone bounds each read: a key set sent a
    byte at a time would hold this launch, and the launches waiting for it) and at most MAX_KEY_SET bytes, with no
    redirect followed (outbox.http.send)."""
    why = None
    try:
        resp = send("GET", url, who=said.KEY_SET, timeout=timeout, keep=MAX_KEY_SET + 1,
                    public_only=platform_http.public_only(), headers={"Accept": "application/json"})
        if resp.status_code == 200 and len(resp.content) <= MAX_KEY_SET:
            return resp.json()
        why = f"HTTP {resp.status_code}" if resp.status_code != 200 else f"more than {MAX_KEY_SET // 1024} KB"
    except (Retry, GiveUp) as exc:
        why = str(exc)
    except ValueError:
        why = "not JSON"
    raise LaunchRejected(
        _("The platform's public keys could not be fetched."),
        hint=_("Check that the key set URL registered for this LMS (%(url)s) is reachable from Tinker (%(why)s).",
               url=url, why=why))


def _fetch(url: str, kid: str, ttl: float, timeout: float) -> dict[str, tuple[object, str]]:
    """The key set another instance fetched (shared cache, when configured) if it holds kid, else from the LMS."""
    store = shared_store.current() if has_app_context() else None
    cache_key = f"jwks:{url}"
    if store is not None:
        shared = store.cache_get(cache_key)
        if shared:
            parsed = _parse(json.loads(shared))
            if kid in parsed:
                return parsed
    document = _download(url, timeout)
    if store is not None:
        store.cache_set(cache_key, json.dumps(document), ttl)
    return _parse(document)


def _parse(document) -> dict[str, tuple[object, str]]:
    parsed: dict[str, tuple[object, str]] = {}
    for jwk in document.get("keys", []) if isinstance(document, dict) else []:
        if not isinstance(jwk, dict) or jwk.get("kty") != "RSA" or not jwk.get("kid"):
            continue
        if jwk.get("use", "sig") != "sig":  # a key the platform publishes for encryption never signs a launch
            continue
        alg = jwk.get("alg", "RS256")
        if alg not in ALLOWED_ALGS:
            continue
        try:
            parsed[str(jwk["kid"])] = (RSAAlgorithm.from_jwk(json.dumps(jwk)), alg)
        except Exception:  # a broken key in the set must not hide the good ones
            continue
    return parsed


def key_for(key_set_url: str, kid: str, ttl: float, timeout: float) -> tuple[object, str]:
    entry = _cache.get(key_set_url)
    if entry is not None and time.monotonic() - entry.fetched_at < ttl and kid in entry.keys:
        return entry.keys[kid]
    lock = _lock_for(key_set_url)
    # Another launch is fetching this key set: wait no longer than a fetch may last (send's deadline), then
    # refuse, rather than let launches with made-up kids pile up behind a slow platform.
    if not lock.acquire(timeout=2 * timeout + 1):
        raise LaunchRejected(_("The platform's public keys are being fetched: try again in a moment."),
                             hint=_("Tinker is still waiting for %(url)s.", url=key_set_url))
    try:
        entry = _cache.setdefault(key_set_url, _KeySet())
        now = time.monotonic()
        wanted = now - entry.fetched_at >= ttl or kid not in entry.keys
        if wanted and now - entry.tried_at >= MIN_REFETCH:
            entry.tried_at = now
            try:
                entry.keys, entry.fetched_at, entry.failure = _fetch(key_set_url, kid, ttl, timeout), now, None
            except LaunchRejected as exc:
                entry.failure = exc
            except SharedStoreUnavailable:  # not the LMS's fault: the next launch tries again at once
                entry.tried_at = float("-inf")
                raise
    finally:
        lock.release()
    if kid in entry.keys:
        return entry.keys[kid]
    if entry.failure is not None:  # a fresh error each time: an exception object is not shared across requests
        raise LaunchRejected(entry.failure.message, hint=entry.failure.hint)
    raise LaunchRejected(
        _("The launch was signed with a key the platform does not publish."),
        hint=_("No key with kid %(kid)s in %(url)s. Check the registration's key set URL.", kid=repr(kid),
               url=key_set_url),
    )


def forget(key_set_url: str | None = None) -> None:
    with _lock:
        if key_set_url is None:
            _cache.clear()
        else:
            _cache.pop(key_set_url, None)
