"""Configuration: defaults, then environment variables; production refuses to start without secrets."""
from __future__ import annotations

import math
import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

ENVIRONMENTS = ("development", "production")
MIN_SECRET_LENGTH = 16  # it signs launch tokens: a short or guessable one lets anyone forge a launch
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class ConfigError(RuntimeError):
    """Raised at start-up when a required setting is missing."""


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value not in {"1", "true", "yes", "on", "0", "false", "no", "off", ""}:
        # read as off, a misspelt "on" would start an instance that, e.g., ignores its proxy and refuses launches
        raise ConfigError(f"{name} must be on or off (1/0, true/false, yes/no), not {raw!r}")
    return value in {"1", "true", "yes", "on"}


def _env_number(name: str, default: str, kind: type = int, minimum: float = 1, maximum: float | None = None):
    """A number from the environment; refuses to start on one it cannot read or outside its range (a zero token
    lifetime, rate limit or timeout would start an app that refuses every page, API call or LMS request)."""
    raw = os.environ.get(name, default).strip()
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, not {raw!r}") from None
    if not math.isfinite(value) or value < minimum or (maximum is not None and value > maximum):
        bounds = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
        raise ConfigError(f"{name} must be {bounds}, not {raw!r}")
    return value


def _dev_secret(instance_path: Path) -> str:
    """A secret generated once per checkout and kept in the git-ignored instance folder."""
    instance_path.mkdir(parents=True, exist_ok=True)
    path = instance_path / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def load_config(instance_path: Path, overrides: dict | None = None) -> dict:
    overrides = dict(overrides or {})
    env = (overrides.get("TINKER_ENV") or os.environ.get("TINKER_ENV") or "development").strip().lower()
    if env not in ENVIRONMENTS:  # a misspelt "production" must not run as development (its LMS, a made-up secret)
        raise ConfigError(f"TINKER_ENV must be one of {', '.join(ENVIRONMENTS)}, not {env!r}")
    testing = bool(overrides.get("TESTING"))
    production = env == "production"

    cfg: dict = {
        "TINKER_ENV": env,
        "TESTING": testing,
        "DEBUG": False,
        "SECRET_KEY": os.environ.get("TINKER_SECRET_KEY"),
        "SQLALCHEMY_DATABASE_URI": os.environ.get(
            "TINKER_DATABASE_URL", f"sqlite:///{instance_path / 'tinker.db'}"
        ),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "TINKER_BASE_URL": os.environ.get("TINKER_BASE_URL", "http://127.0.0.1:5000").rstrip("/"),
        "DEV_LMS_ENABLED": _env_bool("TINKER_DEV_LMS", not production),
        # The development LMS's signing key (made on first use); instances behind one URL share one file.
        "DEV_LMS_KEY_PATH": os.environ.get("TINKER_DEV_LMS_KEY_PATH") or None,
        # Seconds a launch token stays valid; every page hands out a fresh one.
        "LAUNCH_TOKEN_TTL": _env_number("TINKER_LAUNCH_TOKEN_TTL", "3600"),
        # Seconds of platform clock skew tolerated on iat/exp.
        "LTI_CLOCK_LEEWAY": _env_number("TINKER_LTI_CLOCK_LEEWAY", "30", minimum=0),
        "LTI_STATE_TTL": _env_number("TINKER_LTI_STATE_TTL", "600"),
        "LTI_HTTP_TIMEOUT": _env_number("TINKER_LTI_HTTP_TIMEOUT", "5", float, minimum=0.1),
        "LTI_JWKS_TTL": _env_number("TINKER_LTI_JWKS_TTL", "3600", minimum=0),
        # Optional shared cache for OIDC state and nonces, key sets, service tokens and API rate limits
        # (docs/deploy.md); unset: all of it in the database and process memory.
        "REDIS_URL": os.environ.get("TINKER_REDIS_URL") or None,
        "REDIS_TIMEOUT": _env_number("TINKER_REDIS_TIMEOUT", "2", float, minimum=0.1),
        "TRUST_PROXY_HEADERS": _env_bool("TINKER_TRUST_PROXY", production),
        # Roster sync (NRPS) after launches: at most once per course per interval, in the background.
        "LTI_ROSTER_SYNC_ON_LAUNCH": _env_bool("TINKER_ROSTER_SYNC_ON_LAUNCH", True),
        "LTI_ROSTER_SYNC_INTERVAL": _env_number("TINKER_ROSTER_SYNC_INTERVAL", "900", minimum=0),
        "LOG_JSON": _env_bool("TINKER_LOG_JSON", production),
        "LOG_LEVEL": os.environ.get("TINKER_LOG_LEVEL", "INFO").strip().upper(),
        "MAX_CONTENT_LENGTH": 2 * 1024 * 1024,
        "SESSION_COOKIE_NAME": "tinker_session",
        "SESSION_COOKIE_HTTPONLY": True,
        "PREFERRED_URL_SCHEME": "https" if production else "http",
        # Outgoing e-mail (badge address confirmations), sent by the outbox; no host = not sent.
        "SMTP_HOST": os.environ.get("TINKER_SMTP_HOST", ""),
        "SMTP_PORT": _env_number("TINKER_SMTP_PORT", "25", maximum=65535),
        "SMTP_USERNAME": os.environ.get("TINKER_SMTP_USERNAME", ""),
        "SMTP_PASSWORD": os.environ.get("TINKER_SMTP_PASSWORD", ""),
        "SMTP_STARTTLS": _env_bool("TINKER_SMTP_STARTTLS", False),
        "SMTP_FROM": os.environ.get("TINKER_SMTP_FROM", "Tinker <tinker@localhost>"),
        "SMTP_TIMEOUT": _env_number("TINKER_SMTP_TIMEOUT", "10", float, minimum=0.1),
        # Days a delivered (or dismissed) outbox delivery keeps its body: webhook JSON, xAPI statement details, an
        # e-mail's address and text (plugin/outbox/retention.py); the row, its key and its outcome stay.
        "OUTBOX_KEEP_DAYS": _env_number("TINKER_OUTBOX_KEEP_DAYS", "30", maximum=36500),
        # PostgreSQL: how long `flask db upgrade` waits for a table's lock (a long transaction of the running service
        # holding it) before giving up, changing nothing; waiting longer would queue every request behind it. 0: wait
        # for ever. PostgreSQL's lock_timeout takes up to 2^31 - 1 ms.
        "MIGRATION_LOCK_TIMEOUT": _env_number("TINKER_MIGRATION_LOCK_TIMEOUT", "5", float, minimum=0,
                                              maximum=2_147_483),
        # JSON API: requests per API token per minute (counted in the database, across instances).
        "API_RATE_LIMIT": _env_number("TINKER_API_RATE_LIMIT", "120"),
        # xAPI statements to each organisation's LRS (admin-configured): request timeout, and whether an
        # endpoint may resolve to a loopback/private address (off in production: no probing the server's network).
        "XAPI_HTTP_TIMEOUT": _env_number("TINKER_XAPI_HTTP_TIMEOUT", "10", float, minimum=0.1),
        "XAPI_ALLOW_PRIVATE_ENDPOINTS": _env_bool("TINKER_XAPI_ALLOW_PRIVATE_ENDPOINTS", not production),
        # Webhooks to admin-configured receivers: the same two knobs.
        "WEBHOOKS_HTTP_TIMEOUT": _env_number("TINKER_WEBHOOKS_HTTP_TIMEOUT", "10", float, minimum=0.1),
        "WEBHOOKS_ALLOW_PRIVATE_ENDPOINTS": _env_bool("TINKER_WEBHOOKS_ALLOW_PRIVATE_ENDPOINTS", not production),
        # Calls to an LMS (dynamic registration, key sets, tokens, grade and roster services; plugin/lti/platform_http.py):
        # whether they may go to a loopback/private address and through HTTP(S)_PROXY (off in production: an LMS's
        # URLs come from whoever runs it, and must not make the server probe its own network).
        "LTI_ALLOW_PRIVATE_PLATFORMS": _env_bool("TINKER_LTI_ALLOW_PRIVATE_PLATFORMS", not production),
    }
    cfg["RAISE_UNEXPECTED"] = testing
    cfg.update(overrides)

    if not cfg["SECRET_KEY"]:
        if production:
            raise ConfigError("TINKER_SECRET_KEY must be set when TINKER_ENV=production")
        cfg["SECRET_KEY"] = "test-secret" if testing else _dev_secret(instance_path)
    if production and len(cfg["SECRET_KEY"]) < MIN_SECRET_LENGTH:  # e.g. the README's "..." pasted as it is
        raise ConfigError(f"TINKER_SECRET_KEY must be at least {MIN_SECRET_LENGTH} characters when TINKER_ENV=production "
                          "(python3 -c 'import secrets; print(secrets.token_urlsafe(48))' makes one)")
    if production and cfg["DEV_LMS_ENABLED"]:
        raise ConfigError("the development LMS cannot be enabled when TINKER_ENV=production")
    if production and not os.environ.get("TINKER_BASE_URL") and "TINKER_BASE_URL" not in overrides:
        raise ConfigError("TINKER_BASE_URL must be set when TINKER_ENV=production")
    if cfg["LOG_LEVEL"] not in LOG_LEVELS:  # logging.setLevel would stop the app with a bare "Unknown level"
        raise ConfigError(f"TINKER_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, not {cfg['LOG_LEVEL']!r}")
    base = urlsplit(cfg["TINKER_BASE_URL"])
    if base.scheme not in ("http", "https") or not base.hostname:  # every launch would be refused
        raise ConfigError(f"TINKER_BASE_URL must be the tool's public http(s) URL, e.g. https://tinker.example.org, "
                          f"not {cfg['TINKER_BASE_URL']!r}")
    for prefix in ("postgresql://", "postgres://"):  # hosting providers hand out both
        if cfg["SQLALCHEMY_DATABASE_URI"].startswith(prefix):
            cfg["SQLALCHEMY_DATABASE_URI"] = "postgresql+psycopg://" + cfg["SQLALCHEMY_DATABASE_URI"][len(prefix):]
    if cfg["SQLALCHEMY_DATABASE_URI"].startswith("postgresql+psycopg"):
        # No "SELECT 1" round trip before every transaction: a pooled connection the server closed while it sat
        # idle (a restart, a failover, a timeout) is found at checkout by reading what the server sent, without
        # asking it anything (plugin.core.db.watch_connections, installed by create_app), and replaced.
        cfg["SQLALCHEMY_ENGINE_OPTIONS"] = {**cfg["SQLALCHEMY_ENGINE_OPTIONS"], "pool_pre_ping": False}
    if cfg["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        # Read committed whatever the server's default_transaction_isolation: the row locks and unique constraints
        # that keep awards single are written for it, and the data version behind ETags relies on the answer it tags
        # being read under a later snapshot than its own (plugin/insights/version.py).
        cfg["SQLALCHEMY_ENGINE_OPTIONS"] = {**cfg["SQLALCHEMY_ENGINE_OPTIONS"], "isolation_level": "READ COMMITTED"}
    if cfg["SQLALCHEMY_DATABASE_URI"].startswith("postgresql") and _env_bool("TINKER_PG_GENERIC_PLANS", True):
        # psycopg prepares a statement on the server once a connection has run it 5 times; PostgreSQL then
        # keeps planning it afresh for every execution whenever a plan for the actual values looks cheaper
        # than its generic plan. For a board (one statement with a dozen subqueries) that planning took ~1 ms,
        # three times what running it took: generic plans are planned once per connection.
        options = dict(cfg["SQLALCHEMY_ENGINE_OPTIONS"])
        connect = dict(options.get("connect_args") or {})
        connect["options"] = (connect.get("options", "") + " -c plan_cache_mode=force_generic_plan").strip()
        cfg["SQLALCHEMY_ENGINE_OPTIONS"] = {**options, "connect_args": connect}
    return cfg
