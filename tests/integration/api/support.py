"""Helpers for the API tests: settings, a clock the tests move, signing up."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from dependency_injector import providers
from litestar import Litestar
from litestar.testing import AsyncTestClient

from marketscout.domain.ports import Clock
from marketscout.entrypoints.app import create_app
from marketscout.entrypoints.container import Container
from marketscout.entrypoints.settings import Settings

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
SECRET = "test-secret-that-is-long-enough-for-hs512-too-0123456789abcdefghij"


class MovableClock(Clock):
    def __init__(self, now: datetime) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> None:
        self.current += delta


def api_settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": "memory://",
        "jwt_secret": SECRET,
        "demo_data": False,
        "rate_limit_enabled": False,
        "log_level": "WARNING",
        "notify_interval": 0,  # tests run the dispatcher themselves
        "score_refresh_interval": 0,  # and the refresh of stale scores
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def build_container(settings: Settings, clock: Clock) -> Container:
    container = Container()
    container.settings.override(providers.Object(settings))
    container.clock.override(providers.Object(clock))
    return container


def app_logging_to(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch, container: Container
) -> Litestar:
    """The app, with MarketScout's records (which its logging set-up keeps from the root
    logger) reaching ``caplog`` too, for this test only."""
    app = create_app(container)
    ours = logging.getLogger("marketscout")
    monkeypatch.setattr(ours, "handlers", [*ours.handlers, caplog.handler])
    caplog.set_level(logging.DEBUG, logger="marketscout")
    return app


class StopLoop(BaseException):
    """Ends a background loop (the dispatcher, the score refresh) in a test, as cancelling it
    does in the server."""


class RecordedWaits:
    """A background loop's wait, injected: records each delay instead of sleeping, and ends
    the loop (:class:`StopLoop`) at the ``stop_at``-th."""

    def __init__(self, stop_at: int) -> None:
        self.stop_at = stop_at
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        if len(self.delays) == self.stop_at:
            raise StopLoop


Headers = dict[str, str]


async def sign_up(
    client: AsyncTestClient[Litestar], username: str, password: str = "correct horse battery"
) -> Headers:
    response = await client.post(
        "/signup", json={"username": username, "email": f"{username}@example.com", "password": password}
    )
    assert response.status_code == 201, response.text
    token = await client.post("/token", data={"username": username, "password": password})
    assert token.status_code == 200, token.text
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


async def setup_ad(
    client: httpx.AsyncClient, headers: dict[str, str], external_id: str = "tt-1"
) -> tuple[int, int]:
    """A product and its TikTok ad (``external_id``), through the API: their ids. ``client``: the
    in-process test client, or any client of a real server."""
    product = await client.post(
        "/products", json={"name": "Mini Projector", "description": "HD"}, headers=headers
    )
    assert product.status_code == 201, product.text
    ad = await client.post(
        "/ads",
        json={
            "product_id": product.json()["id"],
            "platform": "TikTok",
            "ad_content": "Watch this",
            "external_id": external_id,
        },
        headers=headers,
    )
    assert ad.status_code == 201, ad.text
    return product.json()["id"], ad.json()["id"]


def snap(ad_id: int, hours_ago: float, views: int, region: str = "US") -> dict[str, object]:
    return {
        "ad_id": ad_id,
        "region": region,
        "observed_at": (NOW - timedelta(hours=hours_ago)).isoformat(),
        "views": views,
        "likes": views // 20,
        "comments": views // 200,
        "shares": views // 400,
    }


def assert_in_words(rule: str) -> None:
    """A rule a client developer acts on: a sentence, not a decoder's regular expression."""
    assert rule.startswith(("must", "is ")), rule
    words = rule.replace("2^63 - 1", "").replace("2^31 - 1", "")  # a bound, not a regex's anchor
    assert not any(part in words for part in ("Expected", "regex", "\\", "^", "$", "length")), rule
