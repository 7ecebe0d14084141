"""Database fixtures shared by the integration tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from marketscout.adapters.memory import InMemoryStore, InMemoryUnitOfWork
from marketscout.adapters.sql import migrate
from marketscout.adapters.sql.engine import create_engine, session_factory
from marketscout.adapters.sql.uow import SqlUnitOfWork
from marketscout.domain.ports import UnitOfWork
from tests.databases import fresh_postgres_database, truncate_postgres

BACKENDS = ["memory", "sqlite", "postgres"]


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    with fresh_postgres_database() as url:
        yield url


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database of each kind: the test runs once per backend."""
    backend: str = request.param
    if backend == "memory":
        return "memory://"
    if backend == "sqlite":
        sqlite_url = f"sqlite:///{tmp_path / 'marketscout.sqlite3'}"
        migrate.upgrade(sqlite_url)
        return sqlite_url
    postgres_url: str = request.getfixturevalue("postgres_database")
    truncate_postgres(postgres_url)
    return postgres_url


@pytest.fixture
async def uow_factory(database_url: str) -> AsyncIterator[Callable[[], UnitOfWork]]:
    """Units of work on one store of ``database_url``'s kind (one in-memory store for memory)."""
    if database_url.startswith("memory"):
        store = InMemoryStore()
        yield lambda: InMemoryUnitOfWork(store)
        return
    engine = create_engine(database_url)
    sessions = session_factory(engine)
    yield lambda: SqlUnitOfWork(sessions)
    await engine.dispose()
