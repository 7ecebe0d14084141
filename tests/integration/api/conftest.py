"""The HTTP API on the in-memory store, with a clock the tests move."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from marketscout.entrypoints.app import create_app
from marketscout.entrypoints.settings import Settings
from tests.integration.api.support import NOW, Headers, MovableClock, api_settings, build_container, sign_up


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock(NOW)


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Every API test runs on the in-memory store, SQLite and PostgreSQL."""
    return api_settings(database_url=database_url)


@pytest.fixture
async def client(settings: Settings, clock: MovableClock) -> AsyncIterator[AsyncTestClient[Litestar]]:
    app = create_app(build_container(settings, clock))
    async with AsyncTestClient(app=app, base_url="http://127.0.0.1:8000") as test_client:
        yield test_client


@pytest.fixture
def make_user(client: AsyncTestClient[Litestar]) -> Callable[[str], Awaitable[Headers]]:
    async def make(username: str) -> Headers:
        return await sign_up(client, username)

    return make
