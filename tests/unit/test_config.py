"""Start-up configuration: production refuses unsafe settings; development needs none."""
import stat

import pytest

from plugin.config import ConfigError, load_config

ENV = ["TINKER_ENV", "TINKER_SECRET_KEY", "TINKER_DATABASE_URL", "TINKER_BASE_URL", "TINKER_DEV_LMS",
       "TINKER_TRUST_PROXY", "TINKER_LAUNCH_TOKEN_TTL", "TINKER_PG_GENERIC_PLANS", "TINKER_LTI_ALLOW_PRIVATE_PLATFORMS"]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def production(monkeypatch):
    """A complete production environment; tests remove or spoil one setting."""
    monkeypatch.setenv("TINKER_ENV", "production")
    monkeypatch.setenv("TINKER_SECRET_KEY", "s3cret-from-the-environment")
    monkeypatch.setenv("TINKER_BASE_URL", "https://tinker.example.org/")
    monkeypatch.setenv("TINKER_DATABASE_URL", "postgresql://tinker@db/tinker")


def test_complete_production_environment_loads(production, tmp_path):
    cfg = load_config(tmp_path)
    assert cfg["SECRET_KEY"] == "s3cret-from-the-environment"
    assert cfg["TINKER_BASE_URL"] == "https://tinker.example.org"
    assert cfg["DEV_LMS_ENABLED"] is False
    assert cfg["TRUST_PROXY_HEADERS"] is True
    assert cfg["PREFERRED_URL_SCHEME"] == "https"
    assert not (tmp_path / "secret_key").exists()


def test_lms_calls_are_kept_to_public_addresses_in_production_unless_the_operator_allows_private_ones(
        production, monkeypatch, tmp_path):
    assert load_config(tmp_path)["LTI_ALLOW_PRIVATE_PLATFORMS"] is False
    monkeypatch.setenv("TINKER_LTI_ALLOW_PRIVATE_PLATFORMS", "1")
    assert load_config(tmp_path)["LTI_ALLOW_PRIVATE_PLATFORMS"] is True
    monkeypatch.delenv("TINKER_ENV")  # development: the built-in LMS runs on this machine
    assert load_config(tmp_path)["LTI_ALLOW_PRIVATE_PLATFORMS"] is True


def test_production_without_secret_key_refuses_to_start(production, monkeypatch, tmp_path):
    monkeypatch.delenv("TINKER_SECRET_KEY")
    with pytest.raises(ConfigError, match="TINKER_SECRET_KEY"):
        load_config(tmp_path)
    assert not (tmp_path / "secret_key").exists()


def test_production_with_empty_secret_key_refuses_to_start(production, monkeypatch, tmp_path):
    monkeypatch.setenv("TINKER_SECRET_KEY", "")
    with pytest.raises(ConfigError, match="TINKER_SECRET_KEY"):
        load_config(tmp_path)


def test_production_chosen_by_override_also_requires_a_secret(tmp_path, monkeypatch):
    monkeypatch.setenv("TINKER_BASE_URL", "https://tinker.example.org")
    with pytest.raises(ConfigError, match="TINKER_SECRET_KEY"):
        load_config(tmp_path, {"TINKER_ENV": "production"})


@pytest.mark.parametrize("value", ["1", "true", "yes", "on", "TRUE"])
def test_production_with_the_development_lms_refuses_to_start(production, monkeypatch, tmp_path, value):
    monkeypatch.setenv("TINKER_DEV_LMS", value)
    with pytest.raises(ConfigError, match="development LMS"):
        load_config(tmp_path)


def test_production_with_the_development_lms_enabled_by_override_refuses(production, tmp_path):
    with pytest.raises(ConfigError, match="development LMS"):
        load_config(tmp_path, {"DEV_LMS_ENABLED": True})


def test_production_without_base_url_refuses_to_start(production, monkeypatch, tmp_path):
    monkeypatch.delenv("TINKER_BASE_URL")
    with pytest.raises(ConfigError, match="TINKER_BASE_URL"):
        load_config(tmp_path)


def test_development_generates_a_secret_once_and_reuses_it(tmp_path):
    instance = tmp_path / "instance"
    first = load_config(instance)
    assert first["TINKER_ENV"] == "development"
    assert first["DEV_LMS_ENABLED"] is True
    secret = first["SECRET_KEY"]
    assert len(secret) >= 32
    key_file = instance / "secret_key"
    assert key_file.read_text().strip() == secret
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert load_config(instance)["SECRET_KEY"] == secret


def test_each_checkout_gets_its_own_development_secret(tmp_path):
    assert load_config(tmp_path / "a")["SECRET_KEY"] != load_config(tmp_path / "b")["SECRET_KEY"]


def test_development_uses_the_environment_secret_without_writing_one(tmp_path, monkeypatch):
    monkeypatch.setenv("TINKER_SECRET_KEY", "from-env")
    assert load_config(tmp_path)["SECRET_KEY"] == "from-env"
    assert not (tmp_path / "secret_key").exists()


def test_testing_uses_a_fixed_secret_and_writes_nothing(tmp_path):
    cfg = load_config(tmp_path, {"TESTING": True})
    assert cfg["SECRET_KEY"] == "test-secret"
    assert cfg["RAISE_UNEXPECTED"] is True
    assert not (tmp_path / "secret_key").exists()


def test_default_database_is_sqlite_in_the_instance_folder(tmp_path):
    assert load_config(tmp_path)["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'tinker.db'}"


@pytest.mark.parametrize("given, expected", [
    ("postgresql://tinker:pw@db:5432/tinker", "postgresql+psycopg://tinker:pw@db:5432/tinker"),
    ("postgresql+psycopg://tinker@db/tinker", "postgresql+psycopg://tinker@db/tinker"),
    ("postgres://tinker@db/tinker", "postgresql+psycopg://tinker@db/tinker"),
    ("sqlite:////var/lib/tinker/tinker.db", "sqlite:////var/lib/tinker/tinker.db"),
])
def test_database_url_from_environment_uses_the_psycopg_driver(tmp_path, monkeypatch, given, expected):
    monkeypatch.setenv("TINKER_DATABASE_URL", given)
    assert load_config(tmp_path)["SQLALCHEMY_DATABASE_URI"] == expected


def test_database_url_from_overrides_is_rewritten_too(tmp_path):
    cfg = load_config(tmp_path, {"SQLALCHEMY_DATABASE_URI": "postgresql://u@h/postgresql://x"})
    assert cfg["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@h/postgresql://x"


def test_numeric_settings_come_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("TINKER_LAUNCH_TOKEN_TTL", "120")
    assert load_config(tmp_path)["LAUNCH_TOKEN_TTL"] == 120
    assert load_config(tmp_path)["MIGRATION_LOCK_TIMEOUT"] == 5
    monkeypatch.setenv("TINKER_MIGRATION_LOCK_TIMEOUT", "0.5")
    assert load_config(tmp_path)["MIGRATION_LOCK_TIMEOUT"] == 0.5
    monkeypatch.setenv("TINKER_MIGRATION_LOCK_TIMEOUT", "3000000")  # more than PostgreSQL's lock_timeout takes
    with pytest.raises(ConfigError, match="TINKER_MIGRATION_LOCK_TIMEOUT must be between 0 and 2147483"):
        load_config(tmp_path)


def test_postgresql_connections_plan_prepared_statements_once_unless_the_operator_says_otherwise(
        production, monkeypatch, tmp_path):
    """A board is one statement with a dozen subqueries: re-planned for every execution it cost three times its
    run (see config.py), so PostgreSQL connections ask for generic plans; TINKER_PG_GENERIC_PLANS=0 undoes it."""
    options = load_config(tmp_path)["SQLALCHEMY_ENGINE_OPTIONS"]
    assert options["connect_args"]["options"] == "-c plan_cache_mode=force_generic_plan"
    assert options["pool_pre_ping"] is False  # a closed connection is found at checkout without a round trip
    monkeypatch.setenv("TINKER_PG_GENERIC_PLANS", "0")
    assert "connect_args" not in load_config(tmp_path)["SQLALCHEMY_ENGINE_OPTIONS"]
    monkeypatch.delenv("TINKER_PG_GENERIC_PLANS")
    monkeypatch.setenv("TINKER_DATABASE_URL", "sqlite:////tmp/x.db")
    assert "connect_args" not in load_config(tmp_path)["SQLALCHEMY_ENGINE_OPTIONS"]


@pytest.mark.parametrize("value", ["prod", "staging", "live"])
def test_an_unknown_environment_name_refuses_to_start(production, monkeypatch, tmp_path, value):
    """A misspelt TINKER_ENV must not quietly run as development (development LMS on, a generated secret)."""
    monkeypatch.setenv("TINKER_ENV", value)
    with pytest.raises(ConfigError, match="TINKER_ENV"):
        load_config(tmp_path)


@pytest.mark.parametrize("value", ["Production", " production", "PRODUCTION\n"])
def test_production_spelt_in_capitals_or_with_spaces_is_production(production, monkeypatch, tmp_path, value):
    monkeypatch.setenv("TINKER_ENV", value)
    cfg = load_config(tmp_path)
    assert cfg["TINKER_ENV"] == "production" and cfg["DEV_LMS_ENABLED"] is False and cfg["TRUST_PROXY_HEADERS"]
    monkeypatch.delenv("TINKER_SECRET_KEY")
    with pytest.raises(ConfigError, match="TINKER_SECRET_KEY"):
        load_config(tmp_path)


@pytest.mark.parametrize("value", ["tinker.example.org", "tinker.example.org:443", "https://", "ftp://tinker.example.org"])
def test_a_base_url_that_is_not_an_http_url_refuses_to_start(production, monkeypatch, tmp_path, value):
    """Without a scheme every launch would be refused and every URL shown to LMS admins broken."""
    monkeypatch.setenv("TINKER_BASE_URL", value)
    with pytest.raises(ConfigError, match="TINKER_BASE_URL"):
        load_config(tmp_path)
    monkeypatch.delenv("TINKER_ENV")
    with pytest.raises(ConfigError, match="TINKER_BASE_URL"):
        load_config(tmp_path)


def test_log_level_is_read_whatever_its_case_and_a_level_that_does_not_exist_refuses_to_start(
        production, monkeypatch, tmp_path):
    monkeypatch.setenv("TINKER_LOG_LEVEL", "debug")
    assert load_config(tmp_path)["LOG_LEVEL"] == "DEBUG"
    monkeypatch.setenv("TINKER_LOG_LEVEL", "verbose")
    with pytest.raises(ConfigError, match="TINKER_LOG_LEVEL"):
        load_config(tmp_path)


def test_every_setting_read_from_the_environment_is_in_the_readme_table():
    """docs/deploy.md sends operators to the README's table "for all of them": a setting missing there is one
    nobody can find; one listed there but never read is a setting that silently does nothing."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    read = set(re.findall(r"\bTINKER_[A-Z_]+\b", (root / "plugin" / "config.py").read_text()))
    readme = (root / "README.md").read_text()
    table = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"`(TINKER_[A-Z_]+)`", table))
    assert sorted(read - documented) == [] and sorted(documented - read) == []


@pytest.mark.parametrize("name,value", [
    ("TINKER_LAUNCH_TOKEN_TTL", "0"), ("TINKER_LAUNCH_TOKEN_TTL", "1h"), ("TINKER_LTI_STATE_TTL", "-600"),
    ("TINKER_API_RATE_LIMIT", "0"), ("TINKER_LTI_HTTP_TIMEOUT", "0"), ("TINKER_SMTP_PORT", "smtp"),
    ("TINKER_LTI_CLOCK_LEEWAY", "-1"), ("TINKER_XAPI_HTTP_TIMEOUT", "ten")])
def test_a_number_setting_out_of_range_or_unreadable_refuses_to_start_naming_it(production, monkeypatch, tmp_path,
                                                                              name, value):
    """A zero token lifetime or rate limit would start an app whose every page or API call is refused."""
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=name):
        load_config(tmp_path)


def test_a_zero_clock_leeway_or_roster_interval_is_allowed(production, monkeypatch, tmp_path):
    monkeypatch.setenv("TINKER_LTI_CLOCK_LEEWAY", "0")
    monkeypatch.setenv("TINKER_ROSTER_SYNC_INTERVAL", "0")
    monkeypatch.setenv("TINKER_LTI_HTTP_TIMEOUT", "2.5")
    cfg = load_config(tmp_path)
    assert (cfg["LTI_CLOCK_LEEWAY"], cfg["LTI_ROSTER_SYNC_INTERVAL"], cfg["LTI_HTTP_TIMEOUT"]) == (0, 0, 2.5)


@pytest.mark.parametrize("value", ["enabled", "ture", "2"])
def test_an_on_off_setting_with_an_unreadable_value_refuses_to_start(production, monkeypatch, tmp_path, value):
    """TINKER_TRUST_PROXY=enabled read as off would start an instance behind nginx that refuses every launch."""
    monkeypatch.setenv("TINKER_TRUST_PROXY", value)
    with pytest.raises(ConfigError, match="TINKER_TRUST_PROXY"):
        load_config(tmp_path)


@pytest.mark.parametrize("value,expected", [("On", True), (" yes ", True), ("1", True), ("off", False),
                                            ("No", False), ("0", False), ("", False)])
def test_on_off_settings_read_the_usual_spellings(production, monkeypatch, tmp_path, value, expected):
    monkeypatch.setenv("TINKER_TRUST_PROXY", value)
    assert load_config(tmp_path)["TRUST_PROXY_HEADERS"] is expected


@pytest.mark.parametrize("value", ["...", "changeme", "secret"])
def test_production_refuses_a_secret_key_anyone_could_guess(production, monkeypatch, tmp_path, value):
    """The README's `TINKER_SECRET_KEY=...` pasted as it is would sign every launch token with '...': anyone could
    forge one for any person, the organisation admin included."""
    monkeypatch.setenv("TINKER_SECRET_KEY", value)
    with pytest.raises(ConfigError, match="TINKER_SECRET_KEY"):
        load_config(tmp_path)
