"""``marketscout refresh``: stale scores re-scored from the command line, on a real database."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from marketscout.adapters.sql import migrate
from marketscout.adapters.sql.engine import create_engine, session_factory
from marketscout.adapters.sql.uow import SqlUnitOfWork
from marketscout.domain.model import (
    Ad,
    EngagementSnapshot,
    Platform,
    Product,
    TrendAssessment,
    TrendScore,
    TrendStatus,
)
from marketscout.entrypoints.cli import main


async def test_the_refresh_command_rescores_stale_scores_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'r.sqlite3'}"
    migrate.upgrade(url)
    engine = create_engine(url)
    uow = SqlUnitOfWork(session_factory(engine))
    now = datetime.now(UTC)
    async with uow:
        product = await uow.products.add(Product(name="Lamp", description="d", created_at=now))
        fresh = await uow.products.add(Product(name="Fresh", description="d", created_at=now))
        ad = await uow.ads.add(
            Ad(product_id=product.id, platform=Platform.TIKTOK, ad_content="x", created_at=now)
        )
        await uow.engagement.add_many(
            [
                EngagementSnapshot(
                    ad_id=ad.id,
                    product_id=product.id,
                    platform=Platform.TIKTOK,
                    region="US",
                    observed_at=now - timedelta(days=20 - day),
                    views=1_000 * 2**day,
                )
                for day in range(12)  # the last reading eight days ago
            ]
        )
        exploding = TrendAssessment(score=91.0, status=TrendStatus.EXPLODING, confidence=0.9)
        await uow.scores.add_many(
            [
                TrendScore(
                    product_id=product.id, calculated_at=now - timedelta(hours=7), assessment=exploding
                ),
                TrendScore(product_id=fresh.id, calculated_at=now - timedelta(hours=1), assessment=exploding),
            ]
        )
        await uow.commit()
    assert await asyncio.to_thread(main, ["refresh", "--database-url", url]) == 0
    assert await asyncio.to_thread(main, ["refresh", "--database-url", url]) == 0
    assert capsys.readouterr().out.splitlines() == ["refreshed 1 stale scores", "refreshed 0 stale scores"]
    async with uow:
        refreshed = await uow.scores.latest(product.id)
        untouched = await uow.scores.latest(fresh.id)
    await engine.dispose()
    assert refreshed is not None and refreshed.calculated_at > now - timedelta(minutes=5)
    assert refreshed.status != TrendStatus.EXPLODING and refreshed.score < 91.0
    assert untouched is not None and untouched.calculated_at == now - timedelta(hours=1)
