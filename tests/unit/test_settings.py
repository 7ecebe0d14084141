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
