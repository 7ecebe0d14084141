"""Settings come from the environment, refuse unsafe values, and the README lists them all."""

from __future__ import annotations

import dataclasses
import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from marketscout.entrypoints.settings import PREFIX, Settings, SettingsError, tune_gc

README = Path(__file__).resolve().parents[2] / "README.md"


def test_defaults_are_safe_and_local() -> None:
    settings = Settings.from_env({})
    assert settings.database_url.startswith("sqlite:///")
    assert settings.jwt_secret is None
    assert "*" not in settings.cors_origins
    assert settings.signup_open is True, "the contract's open sign-up, unless the operator closes it"
    assert Settings.from_env({"MARKETSCOUT_SIGNUP_OPEN": "false"}).signup_open is False


def test_values_are_parsed_from_the_environment() -> None:
    settings = Settings.from_env(
        {
            "MARKETSCOUT_RATE_LIMIT_ENABLED": "false",
            "MARKETSCOUT_ACCESS_TOKEN_TTL": "600",
            "MARKETSCOUT_CORS_ORIGINS": "https://a.example, https://b.example",
            "MARKETSCOUT_JWT_SECRET": "s" * 32,
        }
    )
    assert settings.rate_limit_enabled is False
    assert settings.access_token_ttl == 600
    assert settings.cors_origins == ("https://a.example", "https://b.example")


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("JWT_SECRET", "short", "32 bytes"),
        ("CORS_ORIGINS", "*", "not *"),
        ("ARGON2_MEMORY_KIB", "1024", "OWASP"),
        ("ACCESS_TOKEN_TTL", "soon", "integer"),
        ("DEMO_DATA", "maybe", "true or false"),
        ("LOG_LEVEL", "LOUD", "LOG_LEVEL"),
        ("GC_THRESHOLD", "-1", "GC_THRESHOLD"),
    ],
)
def test_bad_values_are_refused_naming_the_variable(name: str, value: str, fragment: str) -> None:
    with pytest.raises(SettingsError, match=fragment):
        Settings.from_env({PREFIX + name: value})


def test_readme_lists_every_setting() -> None:
    text = README.read_text(encoding="utf-8")
    for field in dataclasses.fields(Settings):
        assert f"`{PREFIX}{field.name.upper()}`" in text, field.name


@pytest.fixture
def collector_thresholds() -> Iterator[tuple[int, int, int]]:
    """The process's collector thresholds, put back after the test."""
    before = gc.get_threshold()
    yield before
    gc.set_threshold(*before)


def test_the_collector_threshold_is_set_and_zero_leaves_it(
    collector_thresholds: tuple[int, int, int],
) -> None:
    tune_gc(0)
    assert gc.get_threshold() == collector_thresholds
    tune_gc(Settings.from_env({"MARKETSCOUT_GC_THRESHOLD": "12345"}).gc_threshold)
    assert gc.get_threshold() == (12345, *collector_thresholds[1:])


@pytest.mark.parametrize(
    ("name", "value", "said"),
    [
        ("ARGON2_MEMORY_KIB", "1024", "MARKETSCOUT_ARGON2_MEMORY_KIB must be"),
        ("ARGON2_TIME_COST", "1", "MARKETSCOUT_ARGON2_TIME_COST must be"),
        ("ARGON2_PARALLELISM", "0", "MARKETSCOUT_ARGON2_PARALLELISM must be"),
        ("ACCESS_TOKEN_TTL", "10", "MARKETSCOUT_ACCESS_TOKEN_TTL must be"),
        ("REFRESH_TOKEN_TTL", "600", "MARKETSCOUT_REFRESH_TOKEN_TTL must be"),
        ("NOTIFY_MAX_ATTEMPTS", "0", "MARKETSCOUT_NOTIFY_MAX_ATTEMPTS must be"),
        ("WEBHOOK_TIMEOUT", "0", "MARKETSCOUT_WEBHOOK_TIMEOUT must be"),
        ("NOTIFY_INTERVAL", "-1", "MARKETSCOUT_NOTIFY_INTERVAL must be"),
    ],
)
def test_each_refusal_names_its_own_variable(name: str, value: str, said: str) -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({PREFIX + name: value})
    assert str(refused.value).startswith(said), refused.value


NUMERIC_FIELDS = [f.name for f in dataclasses.fields(Settings) if f.type in {"int", "float"}]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MAX_BODY_BYTES", "-1"),
        ("MAX_BODY_BYTES", "0"),
        ("MAX_BODY_BYTES", "100"),
        ("MAX_INGEST_ITEMS", "0"),
        ("READ_CACHE_SECONDS", "nan"),
        ("READ_CACHE_SECONDS", "-5"),
        ("READ_CACHE_SECONDS", "inf"),
        ("NOTIFY_INTERVAL", "nan"),
        ("NOTIFY_INTERVAL", "inf"),
        ("SCORE_REFRESH_INTERVAL", "nan"),
        ("SCORE_REFRESH_INTERVAL", "-1"),
        ("WEBHOOK_TIMEOUT", "nan"),
        ("WEBHOOK_TIMEOUT", "inf"),
        ("WEBHOOK_TIMEOUT", "-1"),
        ("SMTP_PORT", "99999"),
        ("SMTP_PORT", "0"),
        ("SMTP_PORT", "-25"),
        ("GC_THRESHOLD", "99999999999999999999"),
        ("DB_STATEMENT_TIMEOUT_MS", "99999999999999999999"),
        ("ACCESS_TOKEN_TTL", "99999999999999999999"),
        ("REFRESH_TOKEN_TTL", "99999999999999999999"),
        ("ARGON2_MEMORY_KIB", "99999999999999999999"),
        ("ARGON2_TIME_COST", "99999999999999999999"),
        ("ARGON2_PARALLELISM", "99999999999999999999"),
        ("NOTIFY_MAX_ATTEMPTS", "99999999999999999999"),
        ("MAX_INGEST_ITEMS", "99999999999999999999"),
        ("MAX_BODY_BYTES", "99999999999999999999"),
    ],
)
def test_a_number_out_of_its_range_is_refused_naming_the_variable_and_the_range(
    name: str, value: str
) -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({PREFIX + name: value})
    said = str(refused.value)
    assert said.startswith(f"{PREFIX}{name} must be "), said
    assert " from " in said or " at least " in said, said


def test_every_numeric_setting_has_a_range() -> None:
    """A numeric setting added later is held to a range too: its value past any sensible one
    is refused."""
    for name in NUMERIC_FIELDS:
        with pytest.raises(SettingsError, match=PREFIX + name.upper()):
            Settings.from_env({PREFIX + name.upper(): "10" * 20})


def test_the_bounds_of_the_ranges_are_taken() -> None:
    settings = Settings.from_env(
        {
            "MARKETSCOUT_SMTP_PORT": "65535",
            "MARKETSCOUT_READ_CACHE_SECONDS": "0",
            "MARKETSCOUT_NOTIFY_INTERVAL": "0",
            "MARKETSCOUT_SCORE_REFRESH_INTERVAL": "0",
            "MARKETSCOUT_GC_THRESHOLD": "0",
            "MARKETSCOUT_MAX_INGEST_ITEMS": "1",
            "MARKETSCOUT_NOTIFY_MAX_ATTEMPTS": "1",
            "MARKETSCOUT_ACCESS_TOKEN_TTL": "60",
            "MARKETSCOUT_REFRESH_TOKEN_TTL": "60",
        }
    )
    assert settings.smtp_port == 65535
    assert settings.read_cache_seconds == 0


@pytest.mark.parametrize(
    "url",
    [
        "notaurl",
        "redis://127.0.0.1:notaport/10",
        "redis://127.0.0.1:99999/0",
        "redis://127.0.0.1:6379/abc",
        "redis://[::1/0",
        "redis://",
        "redis://:secret@cache/0",
        "memcached://cache:11211",
    ],
)
def test_a_rate_limit_storage_that_cannot_be_used_is_refused_naming_the_variable(url: str) -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({"MARKETSCOUT_RATE_LIMIT_STORAGE": url})
    said = str(refused.value)
    assert said.startswith("MARKETSCOUT_RATE_LIMIT_STORAGE must be memory:// or redis://HOST:PORT/DB"), said
    assert "secret" not in said, "a URL may carry a password: it is not repeated"


@pytest.mark.parametrize(
    "url", ["memory://", "redis://127.0.0.1:6379/0", "redis://:secret@cache:6379/1", "rediss://cache:6380"]
)
def test_a_usable_rate_limit_storage_is_taken(url: str) -> None:
    assert Settings.from_env({"MARKETSCOUT_RATE_LIMIT_STORAGE": url}).rate_limit_storage == url


@pytest.mark.parametrize("name", ["RATE_LIMIT_AUTH", "RATE_LIMIT_HEAVY", "RATE_LIMIT_DEFAULT"])
@pytest.mark.parametrize("value", ["lots", "", "-1/minute", "0/minute", "5/minute;10/hour", "5/fortnight"])
def test_a_rate_limit_that_cannot_be_parsed_is_refused_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({PREFIX + name: value})
    assert str(refused.value).startswith(f"{PREFIX}{name} must be one limit such as 5/minute"), refused.value


def test_rate_limits_limits_can_parse_are_taken() -> None:
    settings = Settings.from_env(
        {"MARKETSCOUT_RATE_LIMIT_AUTH": "5 per 2 minutes", "MARKETSCOUT_RATE_LIMIT_HEAVY": "100/hour"}
    )
    assert settings.rate_limit_auth == "5 per 2 minutes"


@pytest.mark.parametrize(
    ("url", "rule"),
    [
        ("postgresql://postgres@127.0.0.1:notaport/x", "must be a well-formed URL"),
        ("postgresql://u:secret@127.0.0.1:99999/x", "must be a well-formed URL"),
        ("postgresql://u@[::1/db", "must be a well-formed URL"),
        ("sqlite:///", "must name a database file"),
        ("sqlite://", "must name a database file"),
        ("sqlite:///:memory:", "must name a database file"),
        ("sqlite+aiosqlite://", "must name a database file"),
    ],
)
def test_a_database_url_that_cannot_be_opened_as_written_is_refused(url: str, rule: str) -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({"MARKETSCOUT_DATABASE_URL": url})
    said = str(refused.value)
    assert said.startswith(f"MARKETSCOUT_DATABASE_URL {rule}"), said
    assert "secret" not in said, "a URL may carry a password: it is not repeated"
    assert "@" not in said


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u:pa/ss@127.0.0.1:5432/db",
        "postgresql://u@[::1]:5432/db",
        "postgresql+psycopg://u@db/x",
        "sqlite:///./var/x.sqlite3",
        "memory://",
    ],
)
def test_a_well_formed_database_url_is_taken(url: str) -> None:
    assert Settings.from_env({"MARKETSCOUT_DATABASE_URL": url}).database_url == url
