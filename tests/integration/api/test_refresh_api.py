"""When engagement stops arriving, the server refreshes the scores time alone still changes."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from datetime import timedelta

import pytest
from dependency_injector import providers
from litestar import Litestar
from litestar.testing import AsyncTestClient

from marketscout.domain.errors import Unavailable
from marketscout.domain.ports import Clock
from marketscout.entrypoints.app import create_app
from marketscout.entrypoints.refresh import refresh_forever, refresh_once
from marketscout.entrypoints.settings import Settings
from tests.integration.api.support import (
    MovableClock,
    RecordedWaits,
    StopLoop,
    app_logging_to,
    build_container,
    setup_ad,
    sign_up,
    snap,
)

Client = AsyncTestClient[Litestar]


async def _breakout(client: Client) -> int:
    headers = await sign_up(client, "analyst")
    product_id, ad_id = await setup_ad(client, headers)
    batch = [snap(ad_id, hours, int(1000 * 1.25 ** ((240 - hours) / 12))) for hours in range(240, -1, -12)]
    assert (await client.post("/engagement", json=batch, headers=headers)).status_code == 200
    return product_id


async def _listed(client: Client) -> tuple[float, str]:
    item = (await client.get("/trending", params={"limit": 5})).json()["trending_products"][0]
    return item["current_score"], item["status"]


async def test_a_stalled_product_leaves_its_status_and_trending_shows_it(
    settings: Settings, clock: MovableClock
) -> None:
    container = build_container(settings, clock)
    async with AsyncTestClient(app=create_app(container), base_url="http://127.0.0.1:8000") as client:
        product_id = await _breakout(client)
        score, status = await _listed(client)  # cached from here on
        assert status in {"exploding", "emerging"}
        assert await refresh_once(container) == []  # just scored: nothing is stale
        clock.advance(timedelta(days=4))
        assert await refresh_once(container) == [product_id]
        later_score, later_status = await _listed(client)
        assert later_score < score and later_status != status
        history = (await client.get(f"/trends/{product_id}")).json()["history"]
        assert len(history) == 2


async def test_the_server_refreshes_by_itself_when_asked_to(settings: Settings, clock: MovableClock) -> None:
    container = build_container(dataclasses.replace(settings, score_refresh_interval=0.02), clock)
    async with AsyncTestClient(app=create_app(container), base_url="http://127.0.0.1:8000") as client:
        await _breakout(client)
        _, status = await _listed(client)
        clock.advance(timedelta(days=4))
        for _ in range(500):  # a pass every 20 ms; give up after about 10 s
            if (await _listed(client))[1] != status:
                break
            await asyncio.sleep(0.02)
        assert (await _listed(client))[1] != status


async def test_the_background_refresh_logs_an_unexpected_failure_and_goes_on(
    settings: Settings, clock: MovableClock, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a pass raises that no adapter translated (a bug, a driver error) is logged at ERROR
    with its traceback, the database down at WARNING; the loop waits as the dispatcher does
    (twice as long after each failing pass in a row), and the next pass re-scores what the
    failing ones did not. It never dies of one: only cancellation ends it."""
    container = build_container(settings, clock)
    app = app_logging_to(caplog, monkeypatch, container)
    async with AsyncTestClient(app=app, base_url="http://127.0.0.1:8000") as client:
        product_id = await _breakout(client)
        clock.advance(timedelta(days=4))
        failures: list[Exception] = [RuntimeError("a bug"), Unavailable("the database is down")]

        def failing_then_the_clock() -> Clock:
            if failures:
                raise failures.pop(0)
            return clock

        container.clock.override(providers.Callable(failing_then_the_clock))
        waits = RecordedWaits(stop_at=3)

        with pytest.raises(StopLoop):
            await refresh_forever(container, 15, sleep=waits)
        history = (await client.get(f"/trends/{product_id}")).json()["history"]
    assert waits.delays == [30, 60, 15]
    assert len(history) == 2, "the third pass re-scored the stalled product"
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert [r.exc_info[0] if r.exc_info else None for r in errors] == [RuntimeError]
    assert errors[0].getMessage() == "score refresh failed unexpectedly"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "score refresh failed: the database is down" in warnings
