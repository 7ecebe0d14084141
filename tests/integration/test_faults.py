"""Faults against a real PostgreSQL: the database goes away and comes back."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from urllib.parse import urlparse

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from marketscout.adapters.sql.engine import create_engine
from marketscout.adapters.sql.uow import SqlHealthProbe
from marketscout.entrypoints.app import create_app
from tests.databases import truncate_postgres
from tests.faults import ThreadedProxy
from tests.integration.api.support import NOW, MovableClock, api_settings, build_container, sign_up

Client = AsyncTestClient[Litestar]


@pytest.fixture
def proxied(postgres_database: str) -> Iterator[tuple[ThreadedProxy, str]]:
    truncate_postgres(postgres_database)
    target = urlparse(postgres_database)
    proxy = ThreadedProxy(target.hostname or "127.0.0.1", target.port or 5432)
    proxy.start()
    url = postgres_database.replace(f"{target.hostname}:{target.port}", f"127.0.0.1:{proxy.port}")
    yield proxy, url
    proxy.close()


async def test_database_down_answers_503_fast_and_recovers_without_restart(
    proxied: tuple[ThreadedProxy, str],
) -> None:
    proxy, url = proxied
    app = create_app(build_container(api_settings(database_url=url), MovableClock(NOW)))
    async with AsyncTestClient(app=app) as client:
        headers = await sign_up(client, "survivor")
        assert (await client.get("/ready")).status_code == 200
        assert (await client.get("/products")).status_code == 200

        proxy.cut()
        started = time.monotonic()
        ready = await asyncio.wait_for(client.get("/ready"), timeout=10)
        listing = await asyncio.wait_for(client.get("/products"), timeout=10)
        write = await asyncio.wait_for(
            client.post("/products", json={"name": "Lost?", "description": "d"}, headers=headers), timeout=10
        )
        assert time.monotonic() - started < 15
        assert ready.status_code == 503
        assert listing.status_code == 503
        assert listing.json()["status_code"] == 503
        assert "sqlalchemy" not in listing.text.lower()
        assert write.status_code in {401, 503}
        assert (await client.get("/health")).status_code == 200

        proxy.restore()
        for _ in range(20):
            if (await client.get("/ready")).status_code == 200:
                break
            await asyncio.sleep(0.25)
        assert (await client.get("/ready")).status_code == 200
        products = await client.get("/products")
        assert products.status_code == 200
        assert [p["name"] for p in products.json()] == [], "the refused write left nothing behind"


async def test_a_closed_port_is_not_ready() -> None:
    engine = create_engine("postgresql://postgres@127.0.0.1:1/test")
    started = time.monotonic()
    assert await SqlHealthProbe(engine).ready() is False
    assert time.monotonic() - started < 5
    await engine.dispose()
