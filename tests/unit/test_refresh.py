"""Scores that time alone can still change are refreshed when engagement stops arriving."""

from __future__ import annotations

from datetime import timedelta

from marketscout.adapters.memory import InMemoryStore, InMemoryUnitOfWork
from marketscout.domain.model import Platform, TrendStatus
from marketscout.domain.usecases import catalog
from marketscout.domain.usecases.engagement import SnapshotInput
from marketscout.domain.usecases.pipeline import SCORE_STALE_AFTER, ingest_and_refresh, refresh_stale_scores
from tests.unit.fakes import START, FakeClock

NOW = START + timedelta(days=30)


async def _product(uow: InMemoryUnitOfWork, clock: FakeClock, name: str) -> tuple[int, int]:
    product = await catalog.create_product(
        uow, clock, catalog.NewProduct(name=name, description="d"), created_by=None
    )
    ad = await catalog.create_ad(
        uow, clock, catalog.NewAd(product_id=product.id, platform=Platform.TIKTOK, ad_content="x")
    )
    return product.id, ad.id


def _breakout(ad_id: int, until: int) -> list[SnapshotInput]:
    """Slow for weeks, then growing fast over the last days before ``until`` (days after START)."""
    views, rows = 1_000, []
    for day in range(until + 1):
        views += 50 if day < until - 5 else views // 2
        rows.append(
            SnapshotInput(ad_id=ad_id, region="US", observed_at=START + timedelta(days=day), views=views)
        )
    return rows


async def test_a_product_whose_engagement_stopped_falls_to_the_floor_and_drops_out() -> None:
    uow, clock = InMemoryUnitOfWork(InMemoryStore()), FakeClock(NOW)
    quiet, quiet_ad = await _product(uow, clock, "Quiet")
    await ingest_and_refresh(uow, clock, _breakout(quiet_ad, 30))
    async with uow:
        first = await uow.scores.latest(quiet)
    assert first is not None and first.score > 50 and first.status != TrendStatus.STEADY

    # Not yet stale: nothing is refreshed.
    clock.advance(SCORE_STALE_AFTER - timedelta(minutes=1))
    assert await refresh_stale_scores(uow, clock, limit=100) == []

    # Three days without engagement: the score falls and the status moves on.
    clock.advance(timedelta(days=3))
    live, live_ad = await _product(uow, clock, "Live")
    await ingest_and_refresh(uow, clock, _breakout(live_ad, 33))  # scored just now: not stale
    assert await refresh_stale_scores(uow, clock, limit=100) == [quiet]
    async with uow:
        later = await uow.scores.latest(quiet)
    assert later is not None and later.calculated_at == clock.now()
    assert later.score < first.score and later.status != first.status

    # Once the engagement has left the engine's window: the floor, where time changes nothing.
    clock.advance(timedelta(days=70))
    assert sorted(await refresh_stale_scores(uow, clock, limit=100)) == sorted([quiet, live])
    async with uow:
        floor = await uow.scores.latest(quiet)
        history = len(await uow.scores.history(quiet))
    assert floor is not None and (floor.score, floor.status) == (0.0, TrendStatus.STEADY)
    clock.advance(timedelta(days=2))
    assert await refresh_stale_scores(uow, clock, limit=100) == []
    async with uow:
        assert len(await uow.scores.history(quiet)) == history


async def test_the_oldest_scores_are_refreshed_first_at_most_the_limit() -> None:
    uow, clock = InMemoryUnitOfWork(InMemoryStore()), FakeClock(NOW)
    products = []
    for index in range(3):
        product, ad = await _product(uow, clock, f"P{index}")
        await ingest_and_refresh(uow, clock, _breakout(ad, 30))
        products.append(product)
        clock.advance(timedelta(hours=1))
    clock.advance(SCORE_STALE_AFTER)
    assert await refresh_stale_scores(uow, clock, limit=2) == products[:2]
    assert await refresh_stale_scores(uow, clock, limit=2) == products[2:]
