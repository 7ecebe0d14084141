"""Names stored before names were composed (NFC): a database may hold a product named with a
combining accent, keyed as typed. Search and the namesake check still find it, typed either way."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from marketscout.adapters.sql import tables as t
from marketscout.adapters.sql.engine import create_engine, session_factory
from marketscout.adapters.sql.uow import SqlUnitOfWork
from marketscout.domain.usecases import catalog

DECOMPOSED = "Cafe\u0301 Mug"


@pytest.fixture
async def old_row(database_url: str) -> AsyncIterator[SqlUnitOfWork]:
    """A product stored decomposed, with the key the store wrote then (``str.casefold``)."""
    engine = create_engine(database_url)
    async with engine.begin() as connection:
        await connection.execute(
            t.products.insert().values(
                name=DECOMPOSED,
                name_key=DECOMPOSED.casefold(),
                description="d",
                keywords=[],
                created_at=datetime(2026, 1, 1, tzinfo=UTC),
            )
        )
    uow = SqlUnitOfWork(session_factory(engine))
    yield uow
    await engine.dispose()


# The SQL stores only: the in-memory store keeps nothing from before (never a skip counted as a pass).
@pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
async def test_a_name_stored_decomposed_before_is_found_typed_either_way(old_row: SqlUnitOfWork) -> None:
    for typed in ("Caf\u00e9 Mug", "CAFE\u0301 MUG"):
        assert [p.name for p in await catalog.namesakes(old_row, typed)] == [DECOMPOSED], typed
    for typed in ("caf\u00e9", "Cafe\u0301", "caf"):
        found = await catalog.list_products(old_row, skip=0, limit=10, query=typed)
        assert [p.name for p in found] == [DECOMPOSED], typed
