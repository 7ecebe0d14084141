"""Faults against a real PostgreSQL: the database goes away and comes back, or is busy."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlparse

import httpx
import psycopg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from marketscout.adapters.sql.engine import create_engine, session_factory
from marketscout.adapters.sql.repositories import translate_error
from marketscout.adapters.sql.uow import SqlHealthProbe, SqlUnitOfWork
from marketscout.domain.errors import Busy, Unavailable
from marketscout.domain.gains import window_gains
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
        # A page not read before: the read cache cannot answer it.
        listing = await asyncio.wait_for(client.get("/products", params={"limit": 7}), timeout=10)
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
        products = await client.get("/products", params={"limit": 8})
        assert products.status_code == 200
        assert [p["name"] for p in products.json()] == [], "the refused write left nothing behind"


async def test_a_signed_in_request_while_the_database_is_down_is_503_with_the_rate_limiter_on(
    proxied: tuple[ThreadedProxy, str],
) -> None:
    """The rate limiter checks the token against the store before the app runs: a store that is
    down counts the request against its address and the answer is the handler's 503, not a 500."""
    proxy, url = proxied
    settings = api_settings(database_url=url, rate_limit_enabled=True, rate_limit_auth="100/minute")
    async with AsyncTestClient(app=create_app(build_container(settings, MovableClock(NOW)))) as client:
        headers = await sign_up(client, "limited_survivor")
        assert (await client.get("/watchlists", headers=headers)).status_code == 200
        proxy.cut()
        down = await asyncio.wait_for(client.get("/watchlists", headers=headers), timeout=10)
        assert down.status_code == 503, down.text
        assert down.json()["status_code"] == 503
        assert down.headers["x-ratelimit-limit"]
        proxy.restore()
        for _ in range(20):
            if (await client.get("/ready")).status_code == 200:
                break
            await asyncio.sleep(0.25)
        assert (await client.get("/watchlists", headers=headers)).status_code == 200


async def test_a_closed_port_is_not_ready() -> None:
    engine = create_engine("postgresql://postgres@127.0.0.1:1/test")
    started = time.monotonic()
    assert await SqlHealthProbe(engine).ready() is False
    assert time.monotonic() - started < 5
    await engine.dispose()


async def test_a_retrying_ingest_stream_loses_and_doubles_nothing_when_the_database_goes_away(
    proxied: tuple[ThreadedProxy, str], postgres_database: str
) -> None:
    """A client sends 20 batches and retries each until it is answered 200, while the
    connection to PostgreSQL is cut after the 7th batch and restored a second later. Afterwards
    the stored snapshots are exactly those sent, once each, and the rollups agree with them."""
    proxy, url = proxied
    clock = MovableClock(NOW)
    app = create_app(build_container(api_settings(database_url=url), clock))
    sent: list[dict[str, object]] = []
    statuses: list[int] = []
    async with AsyncTestClient(app=app) as client:
        headers = await sign_up(client, "streamer")
        product = (
            await client.post("/products", json={"name": "Stream Lamp", "description": "d"}, headers=headers)
        ).json()
        ads = [
            (
                await client.post(
                    "/ads",
                    json={
                        "product_id": product["id"],
                        "platform": "TikTok",
                        "ad_content": "x",
                        "external_id": f"s{i}",
                    },
                    headers=headers,
                )
            ).json()["id"]
            for i in range(5)
        ]
        restored = asyncio.Event()

        async def outage() -> None:
            proxy.cut()
            await asyncio.sleep(1.0)
            proxy.restore()
            restored.set()

        cutter: asyncio.Task[None] | None = None
        for number in range(20):
            batch = [
                {
                    "ad_id": ad,
                    "region": "US" if ad % 2 else "DE",
                    "observed_at": (NOW - timedelta(hours=200 - number * 10 - step)).isoformat(),
                    "views": 1000 + number * 500 + step * 40 + ad,
                }
                for ad in ads
                for step in range(10)
            ]
            if number == 7:
                cutter = asyncio.create_task(outage())
                await asyncio.sleep(0.05)
            for _attempt in range(100):
                response = await client.post(
                    "/engagement", json=batch, params={"all_or_nothing": True}, headers=headers
                )
                statuses.append(response.status_code)
                if response.status_code == 200:
                    break
                assert response.status_code in {401, 503}, response.text
                await asyncio.sleep(0.1)
            else:
                pytest.fail("the batch never got through")
            sent.extend(batch)
        if cutter is not None:
            await cutter
        assert restored.is_set()
    assert 503 in statuses, "the outage was seen by the client"
    engine = create_engine(postgres_database)
    uow = SqlUnitOfWork(session_factory(engine))
    try:
        async with uow:
            stored = await uow.engagement.since(NOW - timedelta(days=30))
            end = NOW
            gains = await uow.engagement.window_gains(NOW - timedelta(days=7), end)
    finally:
        await engine.dispose()
    keys = [(s.ad_id, s.region, s.observed_at) for s in stored]
    expected = {(r["ad_id"], r["region"], datetime.fromisoformat(str(r["observed_at"]))) for r in sent}
    assert len(keys) == len(set(keys)) == len(sent), "nothing lost, nothing twice"
    assert set(keys) == expected
    assert gains == window_gains(stored, NOW - timedelta(days=7), end), (
        "the rollups hold exactly what was stored"
    )


async def test_a_slow_database_answers_503_at_the_timeout_while_health_stays_fast(
    postgres_database: str,
) -> None:
    """Another session holds a lock the listing needs: the request is cancelled at the statement
    timeout and answers 503 in the error shape; /health answers at once meanwhile. (httpx's
    ASGI transport runs requests concurrently on one event loop, as a server does.)"""
    truncate_postgres(postgres_database)
    container = build_container(
        api_settings(database_url=postgres_database, db_statement_timeout_ms=800), MovableClock(NOW)
    )
    app = create_app(container)
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]  # Litestar types its ASGI scope more narrowly
    async with app.lifespan(), httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        assert (await client.get("/products")).status_code == 200
        with psycopg.connect(postgres_database) as locker:
            locker.execute("LOCK TABLE products IN ACCESS EXCLUSIVE MODE")  # held until rollback
            started = time.monotonic()
            slow = asyncio.create_task(client.get("/products", params={"limit": 7}))  # not cached
            await asyncio.sleep(0.2)
            health_started = time.monotonic()
            health = await client.get("/health")
            health_took = time.monotonic() - health_started
            assert not slow.done(), "the listing is still waiting for the lock"
            listing = await asyncio.wait_for(slow, timeout=10)
            took = time.monotonic() - started
            locker.rollback()
        assert health.status_code == 200
        assert health_took < 0.3, health_took
        assert listing.status_code == 503
        assert listing.json()["status_code"] == 503
        assert "canceling statement" not in listing.text, "the driver's message stays in the log"
        assert 0.7 < took < 5, took
        assert (await client.get("/products", params={"limit": 8})).status_code == 200, "the next is served"


async def test_a_deadlock_is_said_as_a_busy_database_to_retry_not_as_an_outage(
    postgres_database: str,
) -> None:
    """Two transactions waiting on each other: PostgreSQL cancels one (after its deadlock_timeout,
    a second). That request met a conflict, not a database that is down."""
    engine = create_engine(postgres_database)
    make = session_factory(engine)
    try:
        async with make() as first, make() as second:
            await first.execute(text("SELECT pg_advisory_xact_lock(731001)"))
            await second.execute(text("SELECT pg_advisory_xact_lock(731002)"))
            waiting = asyncio.ensure_future(first.execute(text("SELECT pg_advisory_xact_lock(731002)")))
            await asyncio.sleep(0.1)
            outcomes = await asyncio.gather(
                second.execute(text("SELECT pg_advisory_xact_lock(731001)")), waiting, return_exceptions=True
            )
            errors = [o for o in outcomes if isinstance(o, BaseException)]
            assert len(errors) == 1, outcomes
            (error,) = errors
            assert isinstance(error, SQLAlchemyError)
            translated = translate_error(error)
            assert isinstance(translated, Busy)
            assert isinstance(translated, Unavailable)  # still a 503: whoever handles that handles this
            await first.rollback()
            await second.rollback()
    finally:
        await engine.dispose()


async def test_a_locked_sqlite_file_is_said_as_busy(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'locked.sqlite3'}"
    holder = sqlite3.connect(tmp_path / "locked.sqlite3", isolation_level=None)
    holder.execute("CREATE TABLE t (n INTEGER)")
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            await session.execute(text("PRAGMA busy_timeout = 0"))  # not the 5 s the engine waits
            holder.execute("BEGIN IMMEDIATE")  # another process is writing
            with pytest.raises(SQLAlchemyError) as raised:
                await session.execute(text("INSERT INTO t VALUES (1)"))
        assert isinstance(translate_error(raised.value), Busy)
    finally:
        holder.close()
        await engine.dispose()
