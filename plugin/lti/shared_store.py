"""Where state every app instance must see lives: the database (default) or Redis (TINKER_REDIS_URL).

One interface, two backends; callers ask `shared_store.current()` and never branch on which it is.

- OIDC login state and nonce: single use, expiring. Database: the oidc_state table (expired rows cleared
  as logins go, at most once a minute per instance: plugin/lti/housekeeping.py). Redis: one hash per state
  with a TTL equal to the state's lifetime; consumed by an atomic script, so exactly one launch wins even
  across instances.
- Caches of derived data (platform key sets, LTI service access tokens): the database backend keeps
  nothing here (each process keeps its own copy in memory, as before); Redis shares them with a TTL.
- API rate-limit windows: database upsert per token and minute, or Redis INCR + EXPIRE.

Launch sessions stay in the database in both cases: they are joined to users and courses and audited.
A Redis that cannot be reached raises SharedStoreUnavailable, shown as a 503 (never a 500).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from flask import Flask, current_app

from plugin.errors import SharedStoreUnavailable

KEY_PREFIX = "tinker:"


@dataclass(frozen=True)
class LoginState:
    state: str
    nonce: str
    platform_id: int
    created_at: datetime
    expires_at: datetime
    consumed_at: datetime | None = None
    storage_target: str | None = None


class DatabaseStore:
    name = "database"

    def put_login(self, login: LoginState) -> None:
        from plugin.extensions import db
        from plugin.lti import housekeeping
        from plugin.lti.models import OidcState

        # A plain insert: nothing reads the row back in this request (an ORM add and flush cost more).
        _db_statements().insert.execute(db.session, {
            "state": login.state, "nonce": login.nonce, "platform_id": login.platform_id,
            "created_at": login.created_at, "expires_at": login.expires_at, "storage_target": login.storage_target})
        # Expired states are useless; cleared now and then so the table stays small.
        housekeeping.purge_if_due(OidcState.__table__, login.created_at)

    def find_login(self, state: str) -> LoginState | None:
        from plugin.core.db import read
        from plugin.extensions import db

        row = read(db.session, _db_statements().find, {"state": state}).first()
        if row is None:
            return None
        return LoginState(state=row.state, nonce=row.nonce, platform_id=row.platform_id, created_at=row.created_at,
                          expires_at=row.expires_at, consumed_at=row.consumed_at, storage_target=row.storage_target)

    def consume_login(self, state: str, now: datetime) -> bool:
        from plugin.extensions import db

        return _db_statements().consume.execute(db.session, {"state": state, "now": now}).rowcount == 1

    def cache_get(self, key: str) -> str | None:
        return None  # per-process caches only (derived data any instance can fetch again)

    def cache_set(self, key: str, value: str, ttl_seconds: float) -> None:
        return None

    def cache_delete(self, key: str) -> None:
        return None

    def count_request(self, token, now: datetime) -> int:
        from plugin.tokens import service as tokens

        return tokens.count_request(token, now)

    def ping(self) -> None:
        return None  # the database's own readiness is checked by /readyz


class _Statements:
    """The database backend's statements, built once: a login costs one insert, a launch one read and one
    conditional update, past the ORM's per-statement work (the oidc_state table is nothing boards watch)."""

    def __init__(self) -> None:
        from sqlalchemy import bindparam, select

        from plugin.core.db import Hot, UTCDateTime
        from plugin.lti.models import OidcState

        table = OidcState.__table__
        self.insert = Hot(table.insert(), writes=(table.name,))
        self.find = select(table).where(table.c.state == bindparam("state"))
        self.consume = Hot(table.update().where(table.c.state == bindparam("state"), table.c.consumed_at.is_(None))
                           .values(consumed_at=bindparam("now", type_=UTCDateTime())), writes=(table.name,))


_built: list[_Statements] = []


def _db_statements() -> _Statements:
    if not _built:
        _built.append(_Statements())
    return _built[0]


# Marks the state consumed only if it still exists (an expired key is not brought back without a TTL) and
# was not consumed yet: 1 for the one launch that wins, 0 for every other.
_CONSUME = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
return redis.call('HSETNX', KEYS[1], 'consumed_at', ARGV[1])
"""


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat()


def _parse(raw: str | None) -> datetime | None:
    return datetime.fromisoformat(raw) if raw else None


class RedisStore:
    name = "redis"

    def __init__(self, url: str, timeout: float) -> None:
        import redis

        self._errors = (redis.RedisError, OSError)
        self.client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout,
                                           decode_responses=True, health_check_interval=30)
        self._consume = self.client.register_script(_CONSUME)

    def _call(self, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except self._errors as exc:
            raise SharedStoreUnavailable(str(exc)) from exc

    def _login_key(self, state: str) -> str:
        return f"{KEY_PREFIX}login:{state}"

    def put_login(self, login: LoginState) -> None:
        ttl = max(1, int((login.expires_at - login.created_at).total_seconds()))
        mapping = {"nonce": login.nonce, "platform_id": str(login.platform_id), "created_at": _iso(login.created_at),
                   "expires_at": _iso(login.expires_at), "storage_target": login.storage_target or ""}

        def write():
            with self.client.pipeline(transaction=True) as pipe:
                pipe.hset(self._login_key(login.state), mapping=mapping)
                pipe.expire(self._login_key(login.state), ttl)
                pipe.execute()

        self._call(write)

    def find_login(self, state: str) -> LoginState | None:
        data = self._call(self.client.hgetall, self._login_key(state))
        if not data or "nonce" not in data:
            return None
        return LoginState(state=state, nonce=data["nonce"], platform_id=int(data["platform_id"]),
                          created_at=_parse(data["created_at"]), expires_at=_parse(data["expires_at"]),
                          consumed_at=_parse(data.get("consumed_at")), storage_target=data["storage_target"] or None)

    def consume_login(self, state: str, now: datetime) -> bool:
        return self._call(self._consume, keys=[self._login_key(state)], args=[_iso(now)]) == 1

    def cache_get(self, key: str) -> str | None:
        return self._call(self.client.get, f"{KEY_PREFIX}cache:{key}")

    def cache_set(self, key: str, value: str, ttl_seconds: float) -> None:
        if ttl_seconds >= 1:
            self._call(self.client.set, f"{KEY_PREFIX}cache:{key}", value, ex=int(ttl_seconds))

    def cache_delete(self, key: str) -> None:
        self._call(self.client.delete, f"{KEY_PREFIX}cache:{key}")

    def count_request(self, token, now: datetime) -> int:
        from plugin.extensions import db

        window = now.replace(second=0, microsecond=0)
        key = f"{KEY_PREFIX}rate:{token.id}:{int(window.timestamp())}"

        def bump() -> int:
            with self.client.pipeline(transaction=True) as pipe:
                pipe.incr(key)
                pipe.expire(key, int(timedelta(minutes=2).total_seconds()))
                return int(pipe.execute()[0])

        count = self._call(bump)
        token.last_used_at = now
        db.session.flush()
        return count

    def ping(self) -> None:
        self._call(self.client.ping)


def init_app(app: Flask) -> None:
    url = app.config.get("REDIS_URL")
    app.extensions["shared_store"] = RedisStore(url, app.config["REDIS_TIMEOUT"]) if url else DatabaseStore()


def current() -> DatabaseStore | RedisStore:
    return current_app.extensions["shared_store"]
