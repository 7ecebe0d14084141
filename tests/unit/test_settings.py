"""Settings come from the environment, refuse unsafe values, and the README lists them all."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from marketscout.entrypoints.settings import PREFIX, Settings, SettingsError

README = Path(__file__).resolve().parents[2] / "README.md"


def test_defaults_are_safe_and_local() -> None:
    settings = Settings.from_env({})
    assert settings.database_url.startswith("sqlite:///")
    assert settings.jwt_secret is None
    assert "*" not in settings.cors_origins


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
    ],
)
def test_bad_values_are_refused_naming_the_variable(name: str, value: str, fragment: str) -> None:
    with pytest.raises(SettingsError, match=fragment):
        Settings.from_env({PREFIX + name: value})


def test_readme_lists_every_setting() -> None:
    text = README.read_text(encoding="utf-8")
    for field in dataclasses.fields(Settings):
        assert f"`{PREFIX}{field.name.upper()}`" in text, field.name
